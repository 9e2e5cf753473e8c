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
// the edge that took its input beat(s). B_STREAM = 1: each input has its own 2-beat buffer,
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
  localparam int FIFO_DEPTH = 4;

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
      assign in0_V_TREADY = a_room;
      assign in1_V_TREADY = b_room;
      assign a_push = in0_V_TVALID && in0_V_TREADY;
      assign b_push = in1_V_TVALID && in1_V_TREADY;
      assign fire = a_valid && b_valid && credit_ok;
      stream_out_fifo #(
          .WIDTH(AB),
          .OUT_WIDTH(AB),
          .DEPTH(2)
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
          .DEPTH(2)
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

  logic [OB-1:0] s1_res, s2_res;
  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      logic [A_BITS-1:0] a_raw;
      logic [B_BITS-1:0] b_raw;
      logic signed [RW-1:0] a, b, l, r;
      /* verilator lint_off UNUSEDSIGNAL */  // bits above OUT_BITS: the value fits out_dtype
      logic signed [RW-1:0] res;
      /* verilator lint_on UNUSEDSIGNAL */
      assign a_raw = s1_a[p*A_BITS+:A_BITS];
      assign b_raw = s1_b[p*B_BITS+:B_BITS];
      if (A_BIPOLAR != 0) begin : g_a_bip
        assign a = a_raw[0] ? RW'(1) : -RW'(1);
      end else begin : g_a_int
        assign a = RW'($signed({(A_SIGNED != 0) && a_raw[A_BITS-1], a_raw}));
      end
      if (B_BIPOLAR != 0) begin : g_b_bip
        assign b = b_raw[0] ? RW'(1) : -RW'(1);
      end else begin : g_b_int
        assign b = RW'($signed({(B_SIGNED != 0) && b_raw[B_BITS-1], b_raw}));
      end
      assign l = (B_LHS != 0) ? b : a;
      assign r = (B_LHS != 0) ? a : b;
      if (OP == 1) begin : g_mul
        assign res = l * r;
      end else if (OP == 2) begin : g_sub
        assign res = l - r;
      end else begin : g_add
        assign res = l + r;
      end
      assign s1_res[p*OUT_BITS+:OUT_BITS] = res[OUT_BITS-1:0];
    end
  endgenerate

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s2_valid <= 1'b0;
    else s2_valid <= s1_valid;
    s2_res <= s1_res;
  end

  stream_out_fifo #(
      .WIDTH(OB),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(2)  // fire -> S1 -> S2 (push)
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
