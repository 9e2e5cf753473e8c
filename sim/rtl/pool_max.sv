// bnnforge: max pooling after FINN's depthwise sliding window generator, synthesizable
// SystemVerilog; computes exactly FINN's Pool (Function "MaxPool").
//
//   out[n,oh,ow,c] = max_{k < KK} in[n,oh,ow,k*C + c]       (FINN's normal tensors)
//
// Streams (lane p of a beat in bits [p*BITS +: BITS], two's complement when SIGNED):
//   in0_V  : PE x BITS. Depthwise ConvolutionInputGenerator order: per output pixel, per
//            channel fold f = 0..C/PE-1, the KK window positions (kh, kw row-major) as KK
//            consecutive beats of channels f*PE .. f*PE+PE-1.
//            OH*OW*(C/PE)*KK beats per frame (FINN Pool.get_folded_input_shape).
//   out0_V : PE x BITS, the max of every lane over each group of KK consecutive input beats.
//            OH*OW*(C/PE) beats per frame.
// The module only counts groups of KK beats: frames, channels and image sizes need no
// parameter. BIPOLAR inputs (bit 1 = +1): SIGNED = 0 (the max of the bits is the max).
//
// Throughput: one input beat per cycle, no bubbles: OH*OW*(C/PE)*KK cycles per frame
// (= FINN Pool.get_exp_cycles). Latency: a group's output beat can be taken at the 2nd
// clock edge after the edge that took the group's last input beat.
// Output FIFO with credit-based issue: any TREADY pattern is safe.
module pool_max #(
    parameter int PE = 1,
    parameter int BITS = 4,
    parameter int SIGNED = 1,
    parameter int KK = 4,  // window positions per output = prod(KernelSize)
    parameter int IN_WIDTH = ((PE * BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int OUT_WIDTH = ((PE * BITS + 7) / 8) * 8
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding above PE*BITS
    input  logic [ IN_WIDTH-1:0] in0_V_TDATA,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                 in0_V_TVALID,
    output logic                 in0_V_TREADY,
    output logic [OUT_WIDTH-1:0] out0_V_TDATA,
    output logic                 out0_V_TVALID,
    input  logic                 out0_V_TREADY
);
  localparam int XB = PE * BITS;
  localparam int KW = (KK > 1) ? $clog2(KK) : 1;
  localparam int FIFO_DEPTH = 4;

  logic [KW-1:0] k;  // window position of the next input beat
  logic last, credit_ok, in_fire;
  logic s1_valid;  // the running max holds a finished group (pushed into the FIFO now)
  logic [XB-1:0] run_max;

  assign last = (k == KW'(KK - 1));
  // only a group's last beat produces an output, so only it needs a credit
  assign in0_V_TREADY = ap_rst_n && (!last || credit_ok);
  assign in_fire = in0_V_TVALID && in0_V_TREADY;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) k <= '0;
    else if (in_fire) k <= last ? '0 : k + 1'b1;
  end

  // running max per lane; the first beat of a group loads it
  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      logic signed [BITS:0] x, m;
      logic [BITS-1:0] x_raw;
      assign x_raw = in0_V_TDATA[p*BITS+:BITS];
      assign x = (SIGNED != 0) ? {x_raw[BITS-1], x_raw} : {1'b0, x_raw};
      assign m = (SIGNED != 0) ? {run_max[p*BITS+BITS-1], run_max[p*BITS+:BITS]} : {1'b0, run_max[p*BITS+:BITS]};
      always_ff @(posedge ap_clk) begin
        if (in_fire && (k == '0 || x > m)) run_max[p*BITS+:BITS] <= x_raw;
      end
    end
  endgenerate

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s1_valid <= 1'b0;
    else s1_valid <= in_fire && last;
  end

  stream_out_fifo #(
      .WIDTH(XB),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(1)  // the last beat of a group -> S1 (push)
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(in_fire && last),
      .can_issue(credit_ok),
      .in_valid(s1_valid),
      .in_data(run_max),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
