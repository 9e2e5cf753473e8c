// bnnforge: FINN MVAU (matrix-vector-activation unit), synthesizable SystemVerilog.
//
// Computes what finn MVAU.execute_node computes, per input vector x (MW elements):
//   acc[c] = sum_i x[i] * W[i][c]                      c = 0..MH-1 (out = x @ W)
//            popcount_i(x[i] == W[i][c])                if XNOR = 1, or both operands bipolar
//                                                       (FINN: xnorpopcountmatmul)
//   out[c] = ACT_VAL + #{t : acc[c] >= T[c][t]}         if N_THRESH > 0 (qonnx multithreshold;
//                                                       ties count, order of T irrelevant)
//            acc[c]                                     if N_THRESH = 0 (noActivation)
//   truncated to OUT_BITS (two's complement). A BIPOLAR output is ACT_VAL = 0, OUT_BITS = 1.
//
// Element encodings (IN_KIND, W_KIND): 0 = unsigned B-bit integer (UINTn, BINARY = UINT1),
// 1 = signed two's complement B-bit integer (INTn), 2 = bipolar (1 bit: 0 = -1, 1 = +1).
// XNOR = 1 requires 1-bit operands; bipolar x bipolar is a popcount with or without XNOR.
// ACC_BITS: signed accumulator width (caller: holds every sum). In popcount mode the width
// is derived from MW instead (the popcount 0..MW plus a sign bit); ACC_BITS is then unused.
//
// Streams (SF = MW/SIMD, NF = MH/PE; lane i of a beat at bits [i*B +: B], lane 0 in the LSBs):
//   in0_V  : per input vector SF beats of SIMD x IN_BITS; beat sf lane s = x[sf*SIMD+s]
//   out0_V : per input vector NF beats of PE x OUT_BITS;  beat nf lane p = out[nf*PE+p]
//   TDATA widths are rounded up to bytes; input padding is ignored, output padding is 0.
// ROMs ($readmemh, hex, one word per line):
//   WEIGHTS_FILE    : NF*SF lines of PE*SIMD*W_BITS bits; line nf*SF+sf, lane p*SIMD+s at
//                     [(p*SIMD+s)*W_BITS +: W_BITS] = raw encoding of W[sf*SIMD+s][nf*PE+p]
//   THRESHOLDS_FILE : NF lines of PE*N_THRESH*T_BITS bits; line nf, bits
//                     [(p*N_THRESH+t)*T_BITS +: T_BITS] = T[nf*PE+p][t] (signed; FINN: ascending)
//   RAM_STYLE (weight ROM) and RAM_STYLE_THRESH (threshold ROM, FINN's ram_style_thresholds):
//   "block" / "distributed" go on the ROM (rom.sv) as rom_style and ram_style attributes,
//   "auto" sets none (the tool decides). Both ROM reads are registered (synchronous).
//
// Schedule: one (nf, sf) step per cycle, nf outer, sf inner. Steps with nf = 0 consume an
// input beat and store it in an SF-deep vector buffer; steps with nf > 0 re-read it. Steady
// state (no stalls, frames back to back): N_VECTORS*NF*SF cycles per frame, no gaps between
// vectors or frames. Latency: the output beat of fold nf is pushed into the output FIFO
// 1 + ROM_LAT + (the datapath's stages, dot_threshold.sv) clock edges after the edge of step
// (nf, SF-1) (for nf = 0: the edge accepting the vector's last input beat); the exact figure
// depends on SIMD, the operand types and N_THRESH; out0_V_TVALID is high after the push.
// Pipeline: issue (ROM/buffer addresses) -> S0 registered reads (input beat or vector buffer,
// weight ROM) -> [the weight ROM's output register when it may be block RAM: ROM_LAT = 2,
// the input beat waits a cycle with it] -> S1 operands -> dot_threshold: pipelined dot
// products, accumulator, threshold compare and count, output FIFO.
// The output FIFO is credit based: a step that completes an output issues only while the
// FIFO has a credit (DEPTH - entries - outputs in flight), so any TREADY pattern is safe and
// TVALID does not depend on TREADY.
// ap_rst_n: active-low synchronous reset; clears the step counters, pipeline and FIFO.
module mvau #(
    parameter int MW = 8,
    parameter int MH = 4,
    parameter int PE = 2,
    parameter int SIMD = 4,
    parameter int N_VECTORS = 1,  // input vectors per frame (the datapath is per vector)
    parameter int IN_BITS = 1,
    parameter int IN_KIND = 0,
    parameter int W_BITS = 1,
    parameter int W_KIND = 0,
    parameter int XNOR = 1,
    parameter int ACC_BITS = 5,
    parameter int N_THRESH = 1,
    parameter int T_BITS = 5,
    parameter int ACT_VAL = 0,
    parameter int OUT_BITS = 1,
    parameter WEIGHTS_FILE = "",
    parameter THRESHOLDS_FILE = "",
    parameter RAM_STYLE = "auto",
    parameter RAM_STYLE_THRESH = "auto",
    parameter int IN_WIDTH = ((SIMD * IN_BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int OUT_WIDTH = ((PE * OUT_BITS + 7) / 8) * 8
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding above SIMD*IN_BITS
    input  logic [ IN_WIDTH-1:0] in0_V_TDATA,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                 in0_V_TVALID,
    output logic                 in0_V_TREADY,
    output logic [OUT_WIDTH-1:0] out0_V_TDATA,
    output logic                 out0_V_TVALID,
    input  logic                 out0_V_TREADY
);
  localparam int SF = MW / SIMD;
  localparam int NF = MH / PE;
  localparam int WDEPTH = NF * SF;
  localparam bit POP = (XNOR != 0) || (IN_KIND == 2 && W_KIND == 2);  // popcount mode
  localparam int AB = POP ? $clog2(MW + 1) + 1 : ACC_BITS;  // accumulator width (signed)
  localparam int XB = SIMD * IN_BITS;  // one input beat
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
    if (MW % SIMD != 0 || MH % PE != 0 || SF < 1 || NF < 1 || N_VECTORS < 1) begin : g_bad_fold
      $error("mvau: SIMD must divide MW, PE must divide MH, N_VECTORS >= 1");
    end
    if (IN_KIND < 0 || IN_KIND > 2 || W_KIND < 0 || W_KIND > 2) begin : g_bad_kind
      $error("mvau: IN_KIND and W_KIND must be 0 (unsigned), 1 (signed) or 2 (bipolar)");
    end
    if ((IN_KIND == 2 && IN_BITS != 1) || (W_KIND == 2 && W_BITS != 1) ||
        (XNOR != 0 && (IN_BITS != 1 || W_BITS != 1))) begin : g_bad_bits
      $error("mvau: bipolar and XNOR operands are 1 bit wide");
    end
    if (N_THRESH < 0 || (N_THRESH > 0 && OUT_BITS > 32)) begin : g_bad_thresh
      $error("mvau: N_THRESH >= 0; thresholded outputs are at most 32 bits");
    end
  endgenerate

  // --- step counters and issue -------------------------------------------------------------
  logic [SFW-1:0] sf;
  logic [NFW-1:0] nf;
  logic [WAW-1:0] waddr;  // nf*SF + sf
  logic need_in, credit_ok, step, issue_out;

  assign need_in = (nf == '0);  // nf = 0 steps take their input beat from the stream
  assign in0_V_TREADY = ap_rst_n && need_in && credit_ok;
  // (a step in reset is harmless: every register it feeds is reset; TREADY is low)
  assign step = credit_ok && (!need_in || in0_V_TVALID);
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

  // --- S0: registered reads (input beat or vector buffer, weights) -------------------------
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
  end

  generate
    if (NF > 1) begin : g_vbuf
      // the current input vector, written by the nf = 0 steps, re-read by the nf > 0 steps
      // (never both in one cycle; the next vector overwrites word sf only after its last read).
      // Write-first: the input/buffer choice is made before the S0 register, once. Made after
      // it, the mux fed the lanes directly and yosys copied it into the XNOR lanes' LUTs (about
      // a third of a nearly folded XNOR layer's LUTs).
      logic [XB-1:0] vbuf[SF];
      logic [XB-1:0] rd;
      always_ff @(posedge ap_clk) begin
        if (step && need_in) vbuf[sf] <= in0_V_TDATA[XB-1:0];
        rd <= (step && need_in) ? in0_V_TDATA[XB-1:0] : vbuf[sf];
      end
      assign s0_x = rd;
    end else begin : g_no_vbuf
      logic [XB-1:0] s0_xin;
      always_ff @(posedge ap_clk) s0_xin <= in0_V_TDATA[XB-1:0];
      assign s0_x = s0_xin;
    end
  endgenerate

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
      .s1_x({PE{s1_x}}),
      .s1_w(s1_w),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
