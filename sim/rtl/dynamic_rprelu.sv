// bnnforge: DyBNN's dynamic RPReLU with requantization, synthesizable SystemVerilog
// (docs/SPEC.md, section 9: the DynamicRPReLU layer).
//
//   out[c,h,w] = OUT_BIAS + #{k : z[c,h,w] - o[c] >= T[c,k]}        (k = 0 .. N_T-1)
//
// Streams (FINN order: NHWC, PE channels per beat, lane p in bits [p*B +: B]):
//   in0_V  : the residual block's sum z, PE x IN_BITS signed, H*W*C/PE beats per frame
//   in1_V  : this frame's offsets o, PE x O_BITS signed, C/PE beats per frame
//   out0_V : PE x OUT_BITS (OUT_BIAS + count, two's complement), H*W*C/PE beats per frame
// The static thresholds T (signed T_BITS, ascending per channel) are a ROM, THRESH_FILE:
// one line per channel fold, lane p's threshold k in bits [(p*N_T + k)*T_BITS +: T_BITS].
// o depends on the whole frame (the hyper branch pools it), so the frame is buffered:
// two frame buffers and two offset buffers (ping-pong, as dynamic_threshold.sv); the next
// frame and its offsets are written while this frame is compared and streamed out, one
// beat per cycle. Frame k is always paired with offset set k.
// Pipeline: issue -> S1 (frame buffer, offset buffer and threshold ROM reads) -> S2
// (d = z - o) -> S3 (the N_T compares) -> S4 (count + OUT_BIAS) -> output FIFO.
module dynamic_rprelu #(
    parameter int C = 4,
    parameter int H = 4,
    parameter int W = 4,
    parameter int PE = 1,
    parameter int IN_BITS = 4,
    parameter int O_BITS = 4,
    parameter int T_BITS = 5,
    parameter int N_T = 7,  // thresholds per channel
    parameter int OUT_BITS = 3,
    parameter int OUT_BIAS = -4,
    parameter THRESH_FILE = "",
    parameter RAM_STYLE = "auto",  // frame buffers: "block" / "distributed" (attribute), "auto": the tool decides
    parameter RAM_STYLE_THRESH = "auto",  // threshold ROM
    parameter int IN_WIDTH = ((PE * IN_BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int O_WIDTH = ((PE * O_BITS + 7) / 8) * 8,
    parameter int OUT_WIDTH = ((PE * OUT_BITS + 7) / 8) * 8
) (
    input  logic                 ap_clk,
    input  logic                 ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding above the packed lanes
    input  logic [ IN_WIDTH-1:0] in0_V_TDATA,
    input  logic [  O_WIDTH-1:0] in1_V_TDATA,
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
  localparam int OB = PE * O_BITS;
  localparam int TB = PE * N_T * T_BITS;  // one ROM word: a fold's thresholds
  localparam int FW = (FOLD > 1) ? $clog2(FOLD) : 1;
  localparam int DW = ((IN_BITS > O_BITS) ? IN_BITS : O_BITS) + 1;  // z - o
  localparam int CB = (DW > T_BITS) ? DW : T_BITS;  // compare width
  localparam int CNTW = $clog2(N_T + 1);
  localparam int LATENCY = 4;  // issue -> S1 -> S2 -> S3 -> S4 (push)
  localparam int FIFO_DEPTH = 8;  // >= LATENCY + 2: one beat per cycle
  localparam int FAW = $clog2(2 * N);
  localparam int PAW = (FOLD > 1) ? $clog2(2 * FOLD) : 1;

  // offsets: two buffers of FOLD words in one array; the frame buffers: ram_sdp fbuf below
  logic [OB-1:0] obuf[2*FOLD];
  logic f_we, o_we, issue, can_issue;
  logic [FAW-1:0] f_addr, rf_addr;
  logic [PAW-1:0] o_addr, ro_addr;
  logic [FW-1:0] r_fold;

  // frames on in0, offset sets on in1; frame k is paired with offset set k
  frame_pingpong #(.N(N), .FOLD(FOLD)) ctrl (
      .clk(ap_clk), .rst_n(ap_rst_n),
      .f_valid(in0_V_TVALID), .f_ready(in0_V_TREADY), .f_we(f_we), .f_addr(f_addr),
      .p_valid(in1_V_TVALID), .p_ready(in1_V_TREADY), .p_we(o_we), .p_addr(o_addr),
      .can_issue(can_issue), .issue(issue), .rf_addr(rf_addr), .rp_addr(ro_addr), .r_fold(r_fold)
  );

  always_ff @(posedge ap_clk) if (o_we) obuf[o_addr] <= in1_V_TDATA[OB-1:0];

  // --- S1: registered reads of the frame buffer, the offsets and the threshold ROM ---------
  logic s1_valid;
  logic [XB-1:0] s1_z;
  logic [OB-1:0] s1_o;
  logic [TB-1:0] s1_t;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s1_valid <= 1'b0;
    else s1_valid <= issue;
    s1_o <= obuf[ro_addr];
  end

  // both frame buffers in one memory (buffer b, word i at b*N + i), registered read
  ram_sdp #(.WIDTH(XB), .DEPTH(2 * N), .RAM_STYLE(RAM_STYLE)) fbuf (
      .clk(ap_clk), .we(f_we), .waddr(f_addr), .wdata(in0_V_TDATA[XB-1:0]), .raddr(rf_addr), .rdata(s1_z)
  );
  rom #(.WIDTH(TB), .DEPTH(FOLD), .FILE(THRESH_FILE), .ROM_STYLE(RAM_STYLE_THRESH), .AW(FW)) trom (
      .clk(ap_clk), .addr(r_fold), .rdata(s1_t)
  );

  // --- S2: d = z - o; S3: the compares; S4: count + bias -------------------------------------
  logic s2_valid, s3_valid, s4_valid;
  logic [PE*CB-1:0] s2_d;
  logic [TB-1:0] s2_t;
  logic [PE*N_T-1:0] s3_ge;
  logic [PE*OUT_BITS-1:0] s4_y;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      s2_valid <= 1'b0;
      s3_valid <= 1'b0;
      s4_valid <= 1'b0;
    end else begin
      s2_valid <= s1_valid;
      s3_valid <= s2_valid;
      s4_valid <= s3_valid;
    end
    s2_t <= s1_t;
  end

  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      logic signed [CB-1:0] z, o;
      logic [CNTW-1:0] count;
      assign z = CB'($signed(s1_z[p*IN_BITS+:IN_BITS]));  // sign-extended
      assign o = CB'($signed(s1_o[p*O_BITS+:O_BITS]));
      always_ff @(posedge ap_clk) s2_d[p*CB+:CB] <= z - o;
      for (genvar k = 0; k < N_T; k++) begin : g_thresh
        logic signed [CB-1:0] t;
        assign t = CB'($signed(s2_t[(p*N_T+k)*T_BITS+:T_BITS]));
        always_ff @(posedge ap_clk) s3_ge[p*N_T+k] <= $signed(s2_d[p*CB+:CB]) >= t;
      end
      always_comb begin
        count = '0;
        for (int k = 0; k < N_T; k++) count = count + CNTW'(s3_ge[p*N_T+k]);
      end
      always_ff @(posedge ap_clk) s4_y[p*OUT_BITS+:OUT_BITS] <= OUT_BITS'(OUT_BIAS) + OUT_BITS'(count);
    end
  endgenerate

  stream_out_fifo #(
      .WIDTH(PE * OUT_BITS),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(LATENCY)
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(issue),
      .can_issue(can_issue),
      .in_valid(s4_valid),
      .in_data(s4_y),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
