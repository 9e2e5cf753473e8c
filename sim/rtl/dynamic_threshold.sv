// bnnforge: DyBNN dynamic threshold, synthesizable SystemVerilog (docs/SPEC.md, section 4).
//
//   out[c,h,w] = 1 (bipolar +1) iff x[c,h,w] >= T[c]   (tie gives +1)
//
// Streams (FINN order: NHWC, PE channels per beat, lane p in bits [p*B +: B]):
//   in0_V : feature map, PE x IN_BITS signed, H*W*C/PE beats per frame
//   in1_V : this frame's thresholds T, PE x T_BITS signed, C/PE beats per frame
//   out0_V : PE bits, H*W*C/PE beats per frame
// T of a frame depends on the whole frame (the hyper branch pools it), so the
// frame is buffered. Two frame buffers and two threshold buffers (ping-pong): the
// next frame and its thresholds are written while this frame is compared and
// streamed out, one beat per cycle. Frame k is always paired with threshold set k.
module dynamic_threshold #(
    parameter int C = 4,
    parameter int H = 4,
    parameter int W = 4,
    parameter int PE = 1,
    parameter int IN_BITS = 4,
    parameter int T_BITS = 5,
    parameter RAM_STYLE = "auto",  // frame buffers: "block" / "distributed" (attribute), "auto": the tool decides
    parameter int IN_WIDTH = ((PE * IN_BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int T_WIDTH = ((PE * T_BITS + 7) / 8) * 8,
    parameter int OUT_WIDTH = ((PE + 7) / 8) * 8
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding above the packed lanes
    input  logic [ IN_WIDTH-1:0] in0_V_TDATA,
    input  logic [  T_WIDTH-1:0] in1_V_TDATA,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                 in0_V_TVALID,
    output logic                 in0_V_TREADY,
    input  logic                 in1_V_TVALID,
    output logic                 in1_V_TREADY,
    output logic [OUT_WIDTH-1:0] out0_V_TDATA,
    output logic                 out0_V_TVALID,
    input  logic                 out0_V_TREADY
);
  localparam int FOLD = C / PE;
  localparam int N = H * W * FOLD;  // beats per frame
  localparam int XB = PE * IN_BITS;
  localparam int TB = PE * T_BITS;
  localparam int CB = (IN_BITS > T_BITS) ? IN_BITS : T_BITS;  // compare width
  localparam int FIFO_DEPTH = 4;
  localparam int FAW = $clog2(2 * N);
  localparam int PAW = (FOLD > 1) ? $clog2(2 * FOLD) : 1;

  // threshold buffers: two of FOLD words in one array (a [2][FOLD] array reaches yosys as a
  // memory of two rows, mapped to flip-flops); the frame buffers: ram_sdp fbuf below
  logic [TB-1:0] tbuf[2*FOLD];
  logic f_we, t_we, issue, can_issue;
  logic [FAW-1:0] f_addr, rf_addr;
  logic [PAW-1:0] t_addr, rt_addr;
  /* verilator lint_off UNUSEDSIGNAL */  // the fold counter addresses a ROM in dynamic_rprelu only
  logic [((FOLD > 1) ? $clog2(FOLD) : 1)-1:0] r_fold;
  /* verilator lint_on UNUSEDSIGNAL */

  // frames on in0, threshold sets on in1; frame k is compared with threshold set k
  frame_pingpong #(.N(N), .FOLD(FOLD)) ctrl (
      .clk(ap_clk), .rst_n(ap_rst_n),
      .f_valid(in0_V_TVALID), .f_ready(in0_V_TREADY), .f_we(f_we), .f_addr(f_addr),
      .p_valid(in1_V_TVALID), .p_ready(in1_V_TREADY), .p_we(t_we), .p_addr(t_addr),
      .can_issue(can_issue), .issue(issue), .rf_addr(rf_addr), .rp_addr(rt_addr), .r_fold(r_fold)
  );

  always_ff @(posedge ap_clk) if (t_we) tbuf[t_addr] <= in1_V_TDATA[TB-1:0];

  // --- stage 1: registered buffer reads -------------------------------------------------
  logic s1_valid;
  logic [XB-1:0] s1_x;
  logic [TB-1:0] s1_t;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s1_valid <= 1'b0;
    else s1_valid <= issue;
    s1_t <= tbuf[rt_addr];
  end

  // both frame buffers in one memory (buffer b, word i at b*N + i), registered read
  ram_sdp #(.WIDTH(XB), .DEPTH(2 * N), .RAM_STYLE(RAM_STYLE)) fbuf (
      .clk(ap_clk), .we(f_we), .waddr(f_addr), .wdata(in0_V_TDATA[XB-1:0]), .raddr(rf_addr), .rdata(s1_x)
  );

  logic [PE-1:0] s1_bits;
  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      logic signed [CB-1:0] x, t;
      assign x = CB'($signed(s1_x[p*IN_BITS+:IN_BITS]));  // sign-extended
      assign t = CB'($signed(s1_t[p*T_BITS+:T_BITS]));
      assign s1_bits[p] = x >= t;
    end
  endgenerate

  // --- stage 2 register and output FIFO --------------------------------------------------
  logic s2_valid;
  logic [PE-1:0] s2_bits;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s2_valid <= 1'b0;
    else s2_valid <= s1_valid;
    s2_bits <= s1_bits;
  end

  stream_out_fifo #(
      .WIDTH(PE),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(2)  // issue -> stage 1 -> stage 2 (push)
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(issue),
      .can_issue(can_issue),
      .in_valid(s2_valid),
      .in_data(s2_bits),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
