// bnnforge: elementwise add / mul / sub of integer streams, synthesizable SystemVerilog;
// computes exactly FINN's ElementwiseAdd / ElementwiseMul / ElementwiseSub (integer types)
// whenever the exact result fits OUT_BITS. FINN's Python keeps the exact value; FINN's
// derived out_dtype is one bit too narrow for Add/Sub of a signed lhs and an unsigned rhs
// of equal width (INT4 + UINT4 -> INT5, range -8..22): set OUT_BITS one wider there.
//
//   out = A op B   (B_LHS = 0)      out = B op A   (B_LHS = 1: the constant is FINN's lhs)
//   op: OP = 0 add, 1 mul, 2 sub; exact integer arithmetic, then the low OUT_BITS bits
//
// Operand A is the stream in0_V. Operand B is
//   B_STREAM = 0: a constant: word w of PARAM_FILE for output beats i with
//                 (i / PARAM_REPEAT) mod PARAM_WORDS = w (i counts beats since reset); in1_V
//                 is unused (TREADY = 0).
//   B_STREAM = 1: the stream in1_V, beat for beat with in0_V (same shapes, FINN's
//                 streamed-streamed form, the former AddStreams); PARAM_* unused.
// Streams (lane p of a beat in bits [p*B +: B]; *_SIGNED: two's complement; *_BIPOLAR
// (*_BITS = 1): bit 1 = +1, bit 0 = -1):
//   in0_V  : PE x A_BITS, N beats per frame (N = prod of FINN's folded output shape but PE)
//   in1_V  : PE x B_BITS, N beats per frame (B_STREAM = 1)
//   out0_V : PE x OUT_BITS, N beats per frame; two's complement truncated to OUT_BITS
//            (FINN out_dtype: signed or unsigned alike, the value must fit)
// PARAM_FILE ($readmemh): PARAM_WORDS lines of PE*B_BITS bits, lane p at [p*B_BITS +: B_BITS]
// (lane 0 in the LSBs), i.e. the layout of FINN's memblock.dat. FINN broadcasting:
//   scalar constant           : PARAM_WORDS = 1, the value in every lane
//   per channel ([C], [1,1,1,C]): PARAM_WORDS = C/PE, line f = channels f*PE .. f*PE+PE-1
//   full tensor ([1,H,W,C])   : PARAM_WORDS = H*W*C/PE (NHWC order)
//   per pixel ([1,H,W,1])     : PARAM_WORDS = H*W, PARAM_REPEAT = C/PE, value in every lane
//   (any constant whose beat sequence is periodic in this way; others are not supported)
// Throughput: one beat per cycle: N cycles per frame (= FINN get_exp_cycles). Latency: an
// output beat can be taken at the 3rd (B_STREAM = 0) or 4th (B_STREAM = 1) clock edge after
// the edge that took its input beat(s), OP = 1 (mul) TL edges later: the product is the sum
// of the narrower operand's partial products in a pipe_tree, registered after its first
// adder level and then every two (TL = 1 + (ceil(log2(NM + 1)) - 1) / 2 stages). B_STREAM = 1: each input has its own 2-beat buffer,
// so neither TREADY depends on the other stream.
// Output FIFO with credit-based issue: any TREADY pattern is safe.
module elementwise #(
    parameter int OP = 0,  // 0 add, 1 mul, 2 sub
    parameter int PE = 1,
    parameter int A_BITS = 4,
    parameter int A_SIGNED = 1,
    parameter int A_BIPOLAR = 0,
    parameter int B_BITS = 4,
    parameter int B_SIGNED = 1,
    parameter int B_BIPOLAR = 0,
    parameter int B_LHS = 0,  // 1: out = B op A (matters for sub)
    parameter int B_STREAM = 0,  // 0: B constant from PARAM_FILE, 1: B streamed on in1_V
    parameter int OUT_BITS = 6,
    parameter PARAM_FILE = "",
    parameter int PARAM_WORDS = 1,
    parameter int PARAM_REPEAT = 1,
    parameter int A_WIDTH = ((PE * A_BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int B_WIDTH = ((PE * B_BITS + 7) / 8) * 8,
    parameter int OUT_WIDTH = ((PE * OUT_BITS + 7) / 8) * 8
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding; in1_V unused for B_STREAM = 0
    input  logic [  A_WIDTH-1:0] in0_V_TDATA,
    input  logic [  B_WIDTH-1:0] in1_V_TDATA,
    input  logic                 in1_V_TVALID,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                 in0_V_TVALID,
    output logic                 in0_V_TREADY,
    output logic                 in1_V_TREADY,
    output logic [OUT_WIDTH-1:0] out0_V_TDATA,
    output logic                 out0_V_TVALID,
    input  logic                 out0_V_TREADY
);
  localparam int AB = PE * A_BITS;
  localparam int BB = PE * B_BITS;
  localparam int OB = PE * OUT_BITS;
  localparam int AE = A_BITS + 1;  // operands sign-extended by one bit
  localparam int BE = B_BITS + 1;
  localparam int MAXE = (AE > BE) ? AE : BE;
  localparam int FULL = (OP == 1) ? AE + BE : MAXE + 1;  // exact result width
  localparam int RW = (FULL > OUT_BITS) ? FULL : OUT_BITS;

  logic s1_valid, s2_valid, credit_ok, fire;
  logic [AB-1:0] a_data, s1_a;
  logic [BB-1:0] s1_b;

  generate
    if (B_STREAM == 0) begin : g_const
      // --- B from the parameter ROM (synchronous read: block or distributed ROM) ---
      localparam int WW = (PARAM_WORDS > 1) ? $clog2(PARAM_WORDS) : 1;
      localparam int RPW = (PARAM_REPEAT > 1) ? $clog2(PARAM_REPEAT) : 1;
      logic [BB-1:0] rom[PARAM_WORDS];
      initial begin
        if (PARAM_FILE != "") $readmemh(PARAM_FILE, rom);
      end
      logic [WW-1:0] word;
      logic [RPW-1:0] rep;
      assign in0_V_TREADY = ap_rst_n && credit_ok;
      assign in1_V_TREADY = 1'b0;
      assign fire = in0_V_TVALID && in0_V_TREADY;
      assign a_data = in0_V_TDATA[AB-1:0];
      always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) begin
          word <= '0;
          rep  <= '0;
        end else if (fire) begin
          if (rep == RPW'(PARAM_REPEAT - 1)) begin
            rep  <= '0;
            word <= (word == WW'(PARAM_WORDS - 1)) ? '0 : word + 1'b1;
          end else rep <= rep + 1'b1;
        end
      end
      always_ff @(posedge ap_clk) begin
        if (fire) s1_b <= rom[word];
      end
    end else begin : g_stream
      // --- B streamed: a 2-beat buffer per input, join when both have a beat ---
      logic a_room, b_room;
      logic a_valid, b_valid, a_push, b_push;
      logic [BB-1:0] b_data;
      assign in0_V_TREADY = ap_rst_n && a_room;
      assign in1_V_TREADY = ap_rst_n && b_room;
      assign a_push = in0_V_TVALID && in0_V_TREADY;
      assign b_push = in1_V_TVALID && in1_V_TREADY;
      assign fire = a_valid && b_valid && credit_ok;
      stream_out_fifo #(
          .WIDTH(AB),
          .OUT_WIDTH(AB),
          .DEPTH(2),
          .LATENCY(0)  // pushes in the cycle of `can_issue`
      ) a_buf (
          .clk(ap_clk),
          .rst_n(ap_rst_n),
          .issue(1'b0),  // a skid buffer: pushes in the same cycle
          .can_issue(a_room),
          .in_valid(a_push),
          .in_data(in0_V_TDATA[AB-1:0]),
          .out_TDATA(a_data),
          .out_TVALID(a_valid),
          .out_TREADY(fire)
      );
      stream_out_fifo #(
          .WIDTH(BB),
          .OUT_WIDTH(BB),
          .DEPTH(2),
          .LATENCY(0)  // pushes in the cycle of `can_issue`
      ) b_buf (
          .clk(ap_clk),
          .rst_n(ap_rst_n),
          .issue(1'b0),
          .can_issue(b_room),
          .in_valid(b_push),
          .in_data(in1_V_TDATA[BB-1:0]),
          .out_TDATA(b_data),
          .out_TVALID(b_valid),
          .out_TREADY(fire)
      );
      always_ff @(posedge ap_clk) begin
        if (fire) s1_b <= b_data;
      end
    end
  endgenerate

  // --- stage 1: operands registered; stage 2: result registered -----------------------
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s1_valid <= 1'b0;
    else s1_valid <= fire;
    if (fire) s1_a <= a_data;
  end

  // --- add / sub: one adder; mul: partial products of the narrower operand, summed by a
  // pipelined tree (pipe_tree, stream_out_fifo.sv): no multiplier array in one stage ---------
  localparam int MA = (A_BIPOLAR != 0) ? 2 : A_BITS + 1;  // operands at their natural widths
  localparam int MB = (B_BIPOLAR != 0) ? 2 : B_BITS + 1;
  localparam int NM = (MA < MB) ? MA : MB;  // bits of the multiplier operand
  localparam int TL = (OP == 1) ? ($clog2(NM + 1) - 1) / 2 + 1 : 0;  // pipe_tree FIRST = 1, LPS = 2
  // one beat per cycle: at least LATENCY + 2 entries (stream_out_fifo.sv), a power of two
  localparam int FIFO_DEPTH = 1 << $clog2(4 + TL);
  logic [OB-1:0] s2_res;
  logic res_valid;
  logic [PE*RW-1:0] res;  // S1 (add, sub) or the tree's output (mul)
  logic [PE*MA-1:0] an;  // operands at their natural widths, two's complement
  logic [PE*MB-1:0] bn;
  generate
    for (genvar p = 0; p < PE; p++) begin : g_operands
      logic [A_BITS-1:0] a_raw;
      logic [B_BITS-1:0] b_raw;
      assign a_raw = s1_a[p*A_BITS+:A_BITS];
      assign b_raw = s1_b[p*B_BITS+:B_BITS];
      if (A_BIPOLAR != 0) begin : g_a_bip
        assign an[p*MA+:MA] = {~a_raw[0], 1'b1};  // 1 -> +1 (01), 0 -> -1 (11)
      end else begin : g_a_int
        assign an[p*MA+:MA] = {(A_SIGNED != 0) && a_raw[A_BITS-1], a_raw};
      end
      if (B_BIPOLAR != 0) begin : g_b_bip
        assign bn[p*MB+:MB] = {~b_raw[0], 1'b1};
      end else begin : g_b_int
        assign bn[p*MB+:MB] = {(B_SIGNED != 0) && b_raw[B_BITS-1], b_raw};
      end
    end
    if (OP == 1) begin : g_mul
      // m * c = sum_{j < NM-1} m[j] (c << j) - m[NM-1] (c << NM-1), the last term written as
      // ~(c << NM-1) + 1 (exact modulo 2^RW); m: the operand with fewer bits
      logic [PE*(NM+1)*RW-1:0] pp;  // lane p's partial products at [(p*(NM+1)+j)*RW +: RW]
      for (genvar p = 0; p < PE; p++) begin : g_lane
        logic [NM-1:0] m;
        logic [RW-1:0] c;
        if (MB <= MA) begin : g_by_b
          assign m = bn[p*MB+:MB];
          assign c = RW'($signed(an[p*MA+:MA]));
        end else begin : g_by_a
          assign m = an[p*MA+:MA];
          assign c = RW'($signed(bn[p*MB+:MB]));
        end
        for (genvar j = 0; j < NM; j++) begin : g_pp
          if (j < NM - 1) begin : g_pos
            assign pp[(p*(NM+1)+j)*RW+:RW] = m[j] ? (c << j) : '0;
          end else begin : g_neg
            assign pp[(p*(NM+1)+j)*RW+:RW] = m[j] ? ~(c << j) : '0;
          end
        end
        assign pp[(p*(NM+1)+NM)*RW+:RW] = RW'(m[NM-1]);
      end
      pipe_tree #(
          .LANES(PE),
          .N(NM + 1),
          .IW(RW),
          .OW(RW),
          .SIGNED(1'b1),
          .FIRST(1),
          .LPS(2),
          .TW(1)
      ) mul_tree (
          .clk(ap_clk),
          .rst_n(ap_rst_n),
          .valid_in(s1_valid),
          .tag_in(1'b0),
          .leaves(pp),
          .valid_out(res_valid),
          /* verilator lint_off PINCONNECTEMPTY */
          .tag_out(),
          /* verilator lint_on PINCONNECTEMPTY */
          .sums(res)
      );
    end else begin : g_add_sub
      for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [RW-1:0] a, b, l, r;
        assign a = RW'($signed(an[p*MA+:MA]));
        assign b = RW'($signed(bn[p*MB+:MB]));
        assign l = (B_LHS != 0) ? b : a;
        assign r = (B_LHS != 0) ? a : b;
        assign res[p*RW+:RW] = (OP == 2) ? l - r : l + r;
      end
      assign res_valid = s1_valid;
    end
  endgenerate

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s2_valid <= 1'b0;
    else s2_valid <= res_valid;
    // the low OUT_BITS bits (the value fits out_dtype)
    for (int p = 0; p < PE; p++) s2_res[p*OUT_BITS+:OUT_BITS] <= res[p*RW+:OUT_BITS];
  end

  stream_out_fifo #(
      .WIDTH(OB),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(2 + TL)  // fire -> S1 -> (mul: the tree) -> S2 (push)
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(fire),
      .can_issue(credit_ok),
      .in_valid(s2_valid),
      .in_data(s2_res),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
