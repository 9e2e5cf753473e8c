// bnnforge: global accumulation pooling, synthesizable SystemVerilog; computes exactly
// FINN's GlobalAccPool.
//
//   out[n,c] = sum_{h,w} in[n,h,w,c]            (one channel vector per frame)
//
// Streams (lane p of a beat in bits [p*B +: B]):
//   in0_V  : PE x IN_BITS, NHWC: NPIX pixels x C/PE channel folds = NPIX*C/PE beats per frame.
//            IN_SIGNED: two's complement. IN_BIPOLAR (IN_BITS = 1): bit 1 = +1, bit 0 = -1.
//   out0_V : PE x OUT_BITS two's complement (IN_SIGNED or IN_BIPOLAR) or unsigned, C/PE beats
//            per frame (channel fold f = channels f*PE .. f*PE+PE-1). OUT_BITS must be FINN's
//            GlobalAccPool.get_output_datatype().bitwidth() (the default reproduces it for
//            integer inputs while NPIX*(2^IN_BITS-1) fits in 31 bits). OUT_BIPOLAR: FINN's
//            output type is BIPOLAR (happens only for a BIPOLAR input with NPIX = 1); then the
//            output bit is 1 iff the sum is +1.
// Architecture: one accumulator word (PE sums) per channel fold, read-modify-write on
// every input beat (the first pixel of a frame overwrites it). The beats of the last pixel
// complete the sums: each is sent to the output FIFO right away, so the output overlaps
// the last pixel and the next frame can follow without a gap.
// Throughput: one input beat per cycle: NPIX*C/PE cycles per frame (FINN's get_exp_cycles
// says NPIX*C/PE + C/PE: the HLS writes its C/PE output beats after the input). Latency:
// the sums of fold f can be taken at the 2nd clock edge after the edge that took the last
// pixel's beat of fold f (a single frame: NPIX*C/PE + 2 cycles from its first beat taken
// to its last output beat taken, without stalls).
// Output FIFO with credit-based issue: any TREADY pattern is safe.
module global_acc_pool #(
    parameter int C = 4,  // FINN NumChannels
    parameter int PE = 1,
    parameter int NPIX = 4,  // pixels per frame: numInputVectors[1] * numInputVectors[2]
    parameter int IN_BITS = 4,
    parameter int IN_SIGNED = 1,
    parameter int IN_BIPOLAR = 0,
    parameter int OUT_BITS = (IN_BIPOLAR != 0) ? ((NPIX > 1) ? $clog2(NPIX) + 1 : 1) :
                             (IN_SIGNED != 0) ? IN_BITS + $clog2(NPIX) :
                             $clog2(NPIX * ((1 << IN_BITS) - 1) + 1),
    parameter int OUT_BIPOLAR = ((IN_BIPOLAR != 0) && NPIX == 1) ? 1 : 0,
    parameter int IN_WIDTH = ((PE * IN_BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int OUT_WIDTH = ((PE * OUT_BITS + 7) / 8) * 8
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding above PE*IN_BITS
    input  logic [ IN_WIDTH-1:0] in0_V_TDATA,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                 in0_V_TVALID,
    output logic                 in0_V_TREADY,
    output logic [OUT_WIDTH-1:0] out0_V_TDATA,
    output logic                 out0_V_TVALID,
    input  logic                 out0_V_TREADY
);
  localparam int FOLD = C / PE;
  localparam int AB = (OUT_BITS > 2) ? OUT_BITS : 2;  // accumulator bits (+-1 needs 2)
  localparam int OB = PE * OUT_BITS;
  localparam int FW = (FOLD > 1) ? $clog2(FOLD) : 1;
  localparam int PW = (NPIX > 1) ? $clog2(NPIX) : 1;
  localparam int FIFO_DEPTH = 4;

  logic [FW-1:0] fold;
  logic [PW-1:0] pix;
  logic first, last, credit_ok, in_fire;
  logic s1_valid;
  logic [OB-1:0] s1_sum;

  assign first = (pix == '0);
  assign last = (pix == PW'(NPIX - 1));
  // only beats of the last pixel produce output, so only they need a credit
  assign in0_V_TREADY = ap_rst_n && (!last || credit_ok);
  assign in_fire = in0_V_TVALID && in0_V_TREADY;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      fold <= '0;
      pix  <= '0;
    end else if (in_fire) begin
      if (fold == FW'(FOLD - 1)) begin
        fold <= '0;
        pix  <= last ? '0 : pix + 1'b1;
      end else fold <= fold + 1'b1;
    end
  end

  // accumulators: one word of PE sums per channel fold (asynchronous read: LUTRAM)
  logic [PE*AB-1:0] acc[FOLD];
  logic [PE*AB-1:0] acc_rd, acc_new;
  assign acc_rd = acc[fold];
  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      logic [IN_BITS-1:0] x_raw;
      logic signed [AB-1:0] x, base, sum;
      assign x_raw = in0_V_TDATA[p*IN_BITS+:IN_BITS];
      if (IN_BIPOLAR != 0) begin : g_bip
        assign x = x_raw[0] ? AB'(1) : -AB'(1);
      end else if (IN_SIGNED != 0) begin : g_s
        assign x = AB'($signed(x_raw));
      end else begin : g_u
        assign x = AB'(x_raw);
      end
      assign base = first ? '0 : $signed(acc_rd[p*AB+:AB]);
      assign sum = base + x;
      assign acc_new[p*AB+:AB] = sum;
      always_ff @(posedge ap_clk) begin
        if (in_fire && last) begin
          if (OUT_BIPOLAR != 0) s1_sum[p*OUT_BITS+:OUT_BITS] <= OUT_BITS'(sum > 0);
          else s1_sum[p*OUT_BITS+:OUT_BITS] <= OUT_BITS'(sum);
        end
      end
    end
  endgenerate

  always_ff @(posedge ap_clk) begin
    if (in_fire) acc[fold] <= acc_new;
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s1_valid <= 1'b0;
    else s1_valid <= in_fire && last;
  end

  stream_out_fifo #(
      .WIDTH(OB),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(1)  // the last beat of a group -> S1 (push)
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(in_fire && last),
      .can_issue(credit_ok),
      .in_valid(s1_valid),
      .in_data(s1_sum),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
