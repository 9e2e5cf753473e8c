// bnnforge tests: a stand-in accelerator for the system harness (FINN stitched-IP ports).
//
// Per frame it takes IN_FRAME_BEATS beats of IN_BITS and sends OUT_FRAME_BEATS beats of
// OUT_BITS. The frame's input bytes (little-endian in each beat, beats in order) are hashed,
// h = h * 33 + byte from h = 32'h811C9DC5 (order-sensitive: a lost, repeated or misplaced
// byte changes it); the output frame is the 32-bit words h, h+1, h+2, ... little-endian,
// cut to OUT_FRAME_BEATS * OUT_BITS/8 bytes. The output of a frame starts the cycle after
// its last input beat and overlaps the next frame's input (one result register), so frames
// take max(IN_FRAME_BEATS * II, OUT_FRAME_BEATS) cycles in steady state.
// Internal backpressure: at most one input beat every II cycles; with the plusarg
// +acc_stall (read at start-up) also random TREADY gaps and TVALID gaps (LFSR, about one
// cycle in four each).
module sys_acc #(
    parameter int IN_BITS = 8,
    parameter int OUT_BITS = 8,
    parameter int IN_FRAME_BEATS = 4,
    parameter int OUT_FRAME_BEATS = 4,
    parameter int II = 1
) (
    input  logic                ap_clk,
    input  logic                ap_rst_n,
    input  logic [ IN_BITS-1:0] s_axis_0_tdata,
    input  logic                s_axis_0_tvalid,
    output logic                s_axis_0_tready,
    output logic [OUT_BITS-1:0] m_axis_0_tdata,
    output logic                m_axis_0_tvalid,
    input  logic                m_axis_0_tready
);
  localparam int IB = IN_BITS / 8;
  localparam int OB = OUT_BITS / 8;
  localparam logic [31:0] H0 = 32'h811C9DC5;

  logic stall_en;
  initial stall_en = $test$plusargs("acc_stall");

  logic [15:0] lfsr;
  logic [31:0] h_acc, h_next, res_h, in_beat, out_beat, pos, wait_n;
  logic res_valid, show, in_last, out_last, s_fire, m_fire, gap_in, gap_out;

  assign gap_in = stall_en && lfsr[1:0] == 2'b00;
  assign gap_out = stall_en && lfsr[3:2] == 2'b00;

  // --- input: hash the frame's bytes ---------------------------------------------------
  always_comb begin
    h_next = h_acc;
    for (int i = 0; i < IB; i++) h_next = h_next * 32'd33 + 32'(s_axis_0_tdata[8*i+:8]);
  end
  assign in_last = in_beat == 32'(IN_FRAME_BEATS - 1);
  assign out_last = out_beat == 32'(OUT_FRAME_BEATS - 1);
  // the last beat of a frame needs the result register (free, or freed by this cycle's last output)
  assign s_axis_0_tready = ap_rst_n && wait_n == '0 && !gap_in && (!in_last || !res_valid || (m_fire && out_last));
  assign s_fire = s_axis_0_tvalid && s_axis_0_tready;

  // --- output: the words h, h+1, ... of the finished frame ------------------------------
  assign m_axis_0_tvalid = res_valid && show;
  assign m_fire = m_axis_0_tvalid && m_axis_0_tready;
  always_comb begin
    for (int j = 0; j < OB; j++) begin
      logic [31:0] n, w;
      n = pos + 32'(j);
      w = res_h + (n >> 2);
      m_axis_0_tdata[8*j+:8] = w[8*n[1:0]+:8];
    end
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      lfsr <= 16'hACE1;
      h_acc <= H0;
      in_beat <= '0;
      out_beat <= '0;
      pos <= '0;
      res_valid <= 1'b0;
      show <= 1'b0;
      wait_n <= '0;
    end else begin
      lfsr <= {lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]};
      show <= (m_axis_0_tvalid && !m_axis_0_tready) || !gap_out;  // a VALID is held until READY
      if (s_fire) wait_n <= 32'(II - 1);
      else if (wait_n != '0) wait_n <= wait_n - 32'd1;
      if (m_fire) begin
        out_beat <= out_last ? '0 : out_beat + 32'd1;
        pos <= out_last ? '0 : pos + 32'(OB);
        if (out_last) res_valid <= 1'b0;
      end
      if (s_fire) begin
        in_beat <= in_last ? '0 : in_beat + 32'd1;
        h_acc <= in_last ? H0 : h_next;
        if (in_last) begin
          res_h <= h_next;
          res_valid <= 1'b1;
        end
      end
    end
  end
endmodule
