// bnnforge: FINN VVAU (vector-vector-activation unit, depthwise convolution), synthesizable
// SystemVerilog.
//
// Computes what finn VVAU.execute_node computes, per output pixel and channel c
// (KK = K*K kernel positions k = kh*K + kw, x[k][c] the input window of the pixel):
//   acc[c] = sum_k x[k][c] * W[c][k]
//            popcount_k(x[k][c] == W[c][k])            if both operands bipolar (FINN:
//                                                       (dot + KK) / 2), or if XNOR = 1
//   out[c] = ACT_VAL + #{t : acc[c] >= T[c][t]}         if N_THRESH > 0 (qonnx multithreshold;
//                                                       ties count, order of T irrelevant)
//            acc[c]                                     if N_THRESH = 0 (noActivation)
//   truncated to OUT_BITS (two's complement). A BIPOLAR output is ACT_VAL = 0, OUT_BITS = 1.
//
// Element encodings (IN_KIND, W_KIND): 0 = unsigned B-bit integer (UINTn, BINARY = UINT1),
// 1 = signed two's complement B-bit integer (INTn), 2 = bipolar (1 bit: 0 = -1, 1 = +1).
// XNOR = 1 (1-bit operands, product = 1 iff the bits are equal) is what FINN's HLS VVAU does
// for binaryXnorMode; FINN's VVAU.execute_node ignores binaryXnorMode (plain 0/1 products),
// so a layer matching execute_node passes XNOR = 0 unless both operands are bipolar.
// ACC_BITS: signed accumulator width (caller: holds every sum). In popcount mode the width
// is derived from KK instead (the popcount 0..KK plus a sign bit); ACC_BITS is then unused.
//
// Streams (NF = CHANNELS/PE, SF = KK/SIMD; lane i of a beat at bits [i*B +: B], lane 0 in
// the LSBs). This is the order of FINN's depthwise SWG, (1, OH, OW, C/PE, K, K, PE), with
// SIMD consecutive kernel positions in one beat, lane s*PE+p (finn-rtllib mvu_vvu_axi:
// amvau[simd*PE+pe]; VVAU.get_folded_input_shape (1, H, W, SF*NF, SIMD*PE); execute_node
// without SWG producer: reshape(1, H, W, C//PE, KK, PE)). For SIMD > 1 FINN's SetFolding
// puts the RTL SWG in parallel_window mode (one beat per channel fold = the whole window,
// lane k*PE+p, k = 0 the top-left tap), split LSB first into SF beats if SIMD < KK:
//   in0_V  : per output pixel, for nf in 0..NF-1, for sf in 0..SF-1: one beat of SIMD*PE x
//            IN_BITS; lane s*PE+p = x[k = sf*SIMD+s][c = nf*PE+p]
//   out0_V : per output pixel NF beats of PE x OUT_BITS; beat nf lane p = out[nf*PE+p]
//   TDATA widths are rounded up to bytes; input padding is ignored, output padding is 0.
// ROMs ($readmemh, hex, one word per line):
//   WEIGHTS_FILE    : NF*SF lines of PE*SIMD*W_BITS bits; line nf*SF+sf, lane p*SIMD+s at
//                     [(p*SIMD+s)*W_BITS +: W_BITS] = raw encoding of W[nf*PE+p][sf*SIMD+s]
//                     (W[c][k] = ONNX weight[c][0][kh][kw], k = kh*K + kw)
//   THRESHOLDS_FILE : NF lines of PE*N_THRESH*T_BITS bits; line nf, bits
//                     [(p*N_THRESH+t)*T_BITS +: T_BITS] = T[nf*PE+p][t] (signed; FINN: ascending)
//   RAM_STYLE (weight ROM) and RAM_STYLE_THRESH (threshold ROM):
//   "block" / "distributed" go on the ROM (rom.sv) as rom_style and ram_style attributes,
//   "auto" sets none (the tool decides). Both ROM reads are registered (synchronous).
//
// Schedule: one (nf, sf) step per input beat and cycle. Steady state (no stalls, frames
// back to back): N_PIXELS*NF*SF cycles per frame. Latency: the output beat of fold nf is
// pushed into the output FIFO 1 + ROM_LAT + (the datapath's stages, dot_threshold.sv) clock
// edges after the edge accepting its last input beat (sf = SF-1); out0_V_TVALID is high
// after the push.
// Pipeline: input beat + registered weight read (S0) -> [the weight ROM's output register
// when it may be block RAM: ROM_LAT = 2, the input beat waits a cycle with it] -> S1
// operands -> dot_threshold: pipelined dot products, accumulator, threshold compare and
// count, output FIFO. The output FIFO is credit based: a beat that completes an output is
// accepted only while the FIFO has a credit (DEPTH - entries - outputs in flight), so any
// TREADY pattern is safe and TVALID does not depend on TREADY.
// ap_rst_n: active-low synchronous reset; clears the step counters, pipeline and FIFO.
module vvau #(
    parameter int CHANNELS = 4,
    parameter int K = 3,
    parameter int PE = 2,
    parameter int SIMD = 3,
    parameter int N_PIXELS = 1,  // output pixels per frame (the datapath is per beat)
    parameter int IN_BITS = 4,
    parameter int IN_KIND = 0,
    parameter int W_BITS = 4,
    parameter int W_KIND = 1,
    parameter int XNOR = 0,
    parameter int ACC_BITS = 12,
    parameter int N_THRESH = 1,
    parameter int T_BITS = 12,
    parameter int ACT_VAL = 0,
    parameter int OUT_BITS = 1,
    parameter WEIGHTS_FILE = "",
    parameter THRESHOLDS_FILE = "",
    parameter RAM_STYLE = "auto",
    parameter RAM_STYLE_THRESH = "auto",
    parameter int IN_WIDTH = ((SIMD * PE * IN_BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths
    parameter int OUT_WIDTH = ((PE * OUT_BITS + 7) / 8) * 8
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding above SIMD*PE*IN_BITS
    input  logic [ IN_WIDTH-1:0] in0_V_TDATA,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                 in0_V_TVALID,
    output logic                 in0_V_TREADY,
    output logic [OUT_WIDTH-1:0] out0_V_TDATA,
    output logic                 out0_V_TVALID,
    input  logic                 out0_V_TREADY
);
  localparam int KK = K * K;
  localparam int SF = KK / SIMD;
  localparam int NF = CHANNELS / PE;
  localparam int WDEPTH = NF * SF;
  localparam bit POP = (XNOR != 0) || (IN_KIND == 2 && W_KIND == 2);  // popcount mode
  localparam int AB = POP ? $clog2(KK + 1) + 1 : ACC_BITS;  // accumulator width (signed)
  localparam int XB = SIMD * PE * IN_BITS;  // one input beat
  localparam int WB = PE * SIMD * W_BITS;  // one weight word
  localparam int SFW = (SF > 1) ? $clog2(SF) : 1;
  localparam int NFW = (NF > 1) ? $clog2(NF) : 1;
  localparam int WAW = (WDEPTH > 1) ? $clog2(WDEPTH) : 1;
  // the weight ROM's read latency: block RAM (or what "auto" may make one) gets its output
  // register, so its clock-to-out is followed by nothing but a route
  /* verilator lint_off WIDTHEXPAND */  // a string parameter against a longer literal
  localparam int ROM_LAT = (RAM_STYLE == "distributed") ? 1 : 2;
  /* verilator lint_on WIDTHEXPAND */

  // --- parameter checks (elaboration time) -------------------------------------------------
  generate
    if (KK % SIMD != 0 || CHANNELS % PE != 0 || SF < 1 || NF < 1 || N_PIXELS < 1) begin : g_bad_fold
      $error("vvau: SIMD must divide K*K, PE must divide CHANNELS, N_PIXELS >= 1");
    end
    if (IN_KIND < 0 || IN_KIND > 2 || W_KIND < 0 || W_KIND > 2) begin : g_bad_kind
      $error("vvau: IN_KIND and W_KIND must be 0 (unsigned), 1 (signed) or 2 (bipolar)");
    end
    if ((IN_KIND == 2 && IN_BITS != 1) || (W_KIND == 2 && W_BITS != 1) ||
        (XNOR != 0 && (IN_BITS != 1 || W_BITS != 1))) begin : g_bad_bits
      $error("vvau: bipolar and XNOR operands are 1 bit wide");
    end
    if (N_THRESH < 0 || (N_THRESH > 0 && OUT_BITS > 32)) begin : g_bad_thresh
      $error("vvau: N_THRESH >= 0; thresholded outputs are at most 32 bits");
    end
  endgenerate

  // --- step counters and issue -------------------------------------------------------------
  logic [SFW-1:0] sf;
  logic [NFW-1:0] nf;
  logic [WAW-1:0] waddr;  // nf*SF + sf
  logic credit_ok, step, issue_out;

  assign in0_V_TREADY = ap_rst_n && credit_ok;
  // every step consumes one input beat (a step in reset is harmless: every register it feeds
  // is reset; TREADY is low)
  assign step = in0_V_TVALID && credit_ok;
  assign issue_out = step && (sf == SFW'(SF - 1));  // the step that completes an output beat

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      sf <= '0;
      nf <= '0;
      waddr <= '0;
    end else if (step) begin
      waddr <= (waddr == WAW'(WDEPTH - 1)) ? '0 : waddr + 1'b1;
      if (sf == SFW'(SF - 1)) begin
        sf <= '0;
        nf <= (nf == NFW'(NF - 1)) ? '0 : nf + 1'b1;
      end else sf <= sf + 1'b1;
    end
  end

  // --- S0: registered input beat and weight read -------------------------------------------
  logic s0_valid, s0_first, s0_last;
  logic [NFW-1:0] s0_nf;
  logic [XB-1:0] s0_x;
  logic [WB-1:0] s1_w;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s0_valid <= 1'b0;
    else s0_valid <= step;
    s0_first <= (sf == '0);
    s0_last <= (sf == SFW'(SF - 1));
    s0_nf <= nf;
    s0_x <= in0_V_TDATA[XB-1:0];
  end

  rom #(.WIDTH(WB), .DEPTH(WDEPTH), .FILE(WEIGHTS_FILE), .ROM_STYLE(RAM_STYLE), .LATENCY(ROM_LAT), .AW(WAW)) wrom (
      .clk(ap_clk), .addr(waddr), .rdata(s1_w)
  );

  // --- S1: the operands, aligned with the weight ROM's output ------------------------------
  logic s1_valid, s1_first, s1_last;
  logic [NFW-1:0] s1_nf;
  logic [XB-1:0] s1_x;
  generate
    if (ROM_LAT > 1) begin : g_align
      always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) s1_valid <= 1'b0;
        else s1_valid <= s0_valid;
        s1_first <= s0_first;
        s1_last <= s0_last;
        s1_nf <= s0_nf;
        s1_x <= s0_x;
      end
    end else begin : g_direct
      assign {s1_valid, s1_first, s1_last, s1_nf, s1_x} = {s0_valid, s0_first, s0_last, s0_nf, s0_x};
    end
  endgenerate

  // operand lanes as the datapath takes them: lane p*SIMD + s (the stream has s*PE + p)
  logic [PE*SIMD*IN_BITS-1:0] s1_xl;
  generate
    for (genvar p = 0; p < PE; p++) begin : g_xl_p
      for (genvar s = 0; s < SIMD; s++) begin : g_xl_s
        assign s1_xl[(p*SIMD+s)*IN_BITS+:IN_BITS] = s1_x[(s*PE+p)*IN_BITS+:IN_BITS];
      end
    end
  endgenerate

  // --- S1 -> output: dot products, accumulation over the fold, activation, output FIFO -------
  dot_threshold #(
      .PE(PE),
      .SIMD(SIMD),
      .NF(NF),
      .IN_BITS(IN_BITS),
      .IN_KIND(IN_KIND),
      .W_BITS(W_BITS),
      .W_KIND(W_KIND),
      .POP(POP),
      .AB(AB),
      .N_THRESH(N_THRESH),
      .T_BITS(T_BITS),
      .ACT_VAL(ACT_VAL),
      .OUT_BITS(OUT_BITS),
      .THRESHOLDS_FILE(THRESHOLDS_FILE),
      .RAM_STYLE_THRESH(RAM_STYLE_THRESH),
      .PRE_LAT(ROM_LAT),  // step -> S0 (-> ROM output register) = S1
      .OUT_WIDTH(OUT_WIDTH)
  ) datapath (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(issue_out),
      .can_issue(credit_ok),
      .s1_valid(s1_valid),
      .s1_first(s1_first),
      .s1_last(s1_last),
      .s1_nf(s1_nf),
      .s1_x(s1_xl),
      .s1_w(s1_w),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
