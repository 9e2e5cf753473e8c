// bnnforge: the datapath of the MVAU and VVAU cores (mvau.sv, vvau.sv): PE lanes of SIMD
// products and their sum, accumulated over the SF steps of an output fold, then the
// activation: the threshold count (ACT_VAL + #{t : acc >= T[t]}, thresholds from a
// registered ROM read, FINN's multithreshold) or, with N_THRESH = 0, the accumulator; and
// the output FIFO.
//
// Pipeline (registers between the stages; the sums: pipe_tree, in stream_out_fifo.sv):
//   S1  operands (s1_*, registered by the core, PRE_LAT cycles after the issuing step)
//   D   the dot product of every lane: popcount of 6-bit chunks (POP) or the products,
//       summed by pipe_tree: a register after its first adder level (POP) or after the
//       products, then after every 2 adder levels (0 registers for SIMD <= 6 in POP mode)
//   A   accumulator over the SF steps (acc = first ? dot : acc + dot); threshold ROM read
//   C   threshold compares, one flip-flop per (lane, threshold) (N_THRESH > 0)
//   N   N_THRESH > 1: the count of the compares (pipe_tree again), + ACT_VAL
//   -> output FIFO (push). N_THRESH = 0 pushes the accumulator from A, N_THRESH = 1 the
//   compare from C.
// Every stage is at most two adder levels or a compare deep (docs/DESIGN.md, "Timing
// estimate"); LATENCY (issue -> push) follows from the parameters, and the output FIFO is
// LATENCY + 2 deep (rounded up to a power of two) so a fold can complete every cycle.
// Operands: s1_x lane (p*SIMD + s) is lane p's input s (MVAU: the same input vector for
// every PE lane; VVAU: each channel its own window), s1_w lane (p*SIMD + s) its weight;
// element encodings (IN_KIND, W_KIND): 0 unsigned, 1 signed, 2 bipolar (1 bit, 0 = -1).
// POP: popcount mode (1-bit operands, product 1 iff the bits are equal).
module dot_threshold #(
    parameter int PE = 1,
    parameter int SIMD = 1,
    parameter int NF = 1,  // output folds (threshold ROM words)
    parameter int IN_BITS = 1,
    parameter int IN_KIND = 0,
    parameter int W_BITS = 1,
    parameter int W_KIND = 0,
    parameter bit POP = 1'b1,
    parameter int AB = 2,  // signed accumulator width
    parameter int N_THRESH = 1,  // 0: no activation, the accumulator is the output
    parameter int T_BITS = 2,
    parameter int ACT_VAL = 0,
    parameter int OUT_BITS = 1,
    parameter THRESHOLDS_FILE = "",
    parameter RAM_STYLE_THRESH = "auto",
    parameter int PRE_LAT = 1,  // cycles from an issuing step to its operands at S1
    parameter int OUT_WIDTH = ((PE * OUT_BITS + 7) / 8) * 8,  // AXI-Stream TDATA width (bytes)
    parameter int NFW = (NF > 1) ? $clog2(NF) : 1
) (
    input  logic                       clk,
    input  logic                       rst_n,
    input  logic                       issue,  // a step that completes an output fold
    output logic                       can_issue,  // the output FIFO's credit
    input  logic                       s1_valid,
    input  logic                       s1_first,  // the first step of an output fold
    input  logic                       s1_last,  // the last step of an output fold
    /* verilator lint_off UNUSEDSIGNAL */  // the threshold ROM address, unused if N_THRESH = 0
    input  logic [            NFW-1:0] s1_nf,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [PE*SIMD*IN_BITS-1:0] s1_x,
    input  logic [ PE*SIMD*W_BITS-1:0] s1_w,
    output logic [      OUT_WIDTH-1:0] out_TDATA,
    output logic                       out_TVALID,
    input  logic                       out_TREADY
);
  localparam int TB = PE * N_THRESH * T_BITS;  // one threshold word
  localparam int OB = PE * OUT_BITS;
  localparam int CH = 12;  // popcount chunk: XNOR and a 12-bit count in three LUT levels
  localparam int XW = (IN_KIND == 0) ? IN_BITS + 1 : ((IN_KIND == 1) ? IN_BITS : 2);
  localparam int WW = (W_KIND == 0) ? W_BITS + 1 : ((W_KIND == 1) ? W_BITS : 2);
  localparam int PW = XW + WW;  // full product width
  // leaves of the dot-product tree: popcounts of CH-bit chunks, or the products
  localparam int NL = POP ? (SIMD + CH - 1) / CH : SIMD;
  localparam int LW = POP ? $clog2(((SIMD < CH) ? SIMD : CH) + 1) : PW;
  // products with at most two partial products (a 1- or 2-bit operand) share a stage with the
  // first adder level; wider ones are registered on their own
  localparam int NARROW = (XW <= 2 || WW <= 2) ? 1 : 0;
  localparam int FIRST = (POP || NARROW != 0) ? 1 : 0;
  localparam int LPS = 2;  // adder levels per register stage
  localparam int CW = $clog2(N_THRESH + 1);  // threshold count
  localparam int NTL = (N_THRESH + CH - 1) / CH;  // leaves of the count tree
  localparam int NTW = $clog2(((N_THRESH < CH) ? N_THRESH : CH) + 1);
  // four 2-bit counts (the ones of four 3-bit groups) added as LUT logic: full adders written
  // out, no carry chain, so that synthesis maps a group count and this sum, a 12-bit popcount,
  // to three LUT6 levels
  function automatic logic [3:0] sum4x2(logic [7:0] g);
    logic [2:0] h[2];
    logic k;
    for (int i = 0; i < 2; i++) begin
      h[i][0] = g[4*i] ^ g[4*i+2];
      k = g[4*i] & g[4*i+2];
      h[i][1] = g[4*i+1] ^ g[4*i+3] ^ k;
      h[i][2] = (g[4*i+1] & g[4*i+3]) | (g[4*i+1] & k) | (g[4*i+3] & k);
    end
    sum4x2[0] = h[0][0] ^ h[1][0];
    k = h[0][0] & h[1][0];
    sum4x2[1] = h[0][1] ^ h[1][1] ^ k;
    k = (h[0][1] & h[1][1]) | (h[0][1] & k) | (h[1][1] & k);
    sum4x2[2] = h[0][2] ^ h[1][2] ^ k;
    sum4x2[3] = (h[0][2] & h[1][2]) | (h[0][2] & k) | (h[1][2] & k);
  endfunction
  // register stages of a pipe_tree (its rule: after level FIRST, then every LPS levels)
  function automatic int tree_levels(int n);
    tree_levels = (n > 1) ? $clog2(n) : 0;
  endfunction
  function automatic int tree_lat(int n, int first);
    tree_lat = (tree_levels(n) >= first) ? (tree_levels(n) - first) / LPS + 1 : 0;
  endfunction
  localparam int LATENCY = PRE_LAT + tree_lat(NL, FIRST) + 1 +
                           ((N_THRESH > 0) ? 1 + ((N_THRESH > 1) ? tree_lat(NTL, 1) : 0) : 0);
  localparam int FIFO_DEPTH = 1 << $clog2(((LATENCY + 2) > 4) ? LATENCY + 2 : 4);

  // --- S1 -> D: leaves and their sum per PE lane ---------------------------------------------
  logic [PE*NL*LW-1:0] leaves;
  generate
    for (genvar p = 0; p < PE; p++) begin : g_pe
      if (POP) begin : g_popcount
        // the number of equal bits: one $countones per 3-bit group, four groups summed per
        // chunk of CH = 12 (the missing groups of the last chunk are 0)
        logic [NL*8-1:0] grp;
        for (genvar g = 0; g < NL * 4; g++) begin : g_grp
          localparam int LO = g * 3;
          if (LO >= SIMD) begin : g_pad
            assign grp[g*2+:2] = '0;
          end else begin : g_ones
            localparam int N = (SIMD - LO < 3) ? SIMD - LO : 3;
            assign grp[g*2+:2] = 2'($countones(~(s1_x[p*SIMD+LO+:N] ^ s1_w[p*SIMD+LO+:N])));
          end
        end
        for (genvar c = 0; c < NL; c++) begin : g_chunk
          /* verilator lint_off UNUSEDSIGNAL */  // the count of fewer than 12 bits is narrower
          logic [3:0] n;
          /* verilator lint_on UNUSEDSIGNAL */
          assign n = sum4x2(grp[c*8+:8]);
          assign leaves[(p*NL+c)*LW+:LW] = n[LW-1:0];
        end
      end else begin : g_products
        for (genvar s = 0; s < SIMD; s++) begin : g_s
          logic [IN_BITS-1:0] xr;
          logic [W_BITS-1:0] wr;
          logic signed [XW-1:0] xv;
          logic signed [WW-1:0] wv;
          // narrow multipliers belong in LUTs, not DSP slices
          (* use_dsp = "no" *) logic signed [PW-1:0] pv;
          assign xr = s1_x[(p*SIMD+s)*IN_BITS+:IN_BITS];
          assign wr = s1_w[(p*SIMD+s)*W_BITS+:W_BITS];
          if (IN_KIND == 0) begin : g_xu
            assign xv = $signed({1'b0, xr});
          end else if (IN_KIND == 1) begin : g_xs
            assign xv = $signed(xr);
          end else begin : g_xb
            assign xv = {~xr[0], 1'b1};  // 1 -> +1 (01), 0 -> -1 (11)
          end
          if (W_KIND == 0) begin : g_wu
            assign wv = $signed({1'b0, wr});
          end else if (W_KIND == 1) begin : g_ws
            assign wv = $signed(wr);
          end else begin : g_wb
            assign wv = {~wr[0], 1'b1};
          end
          assign pv = PW'(xv) * PW'(wv);
          assign leaves[(p*SIMD+s)*PW+:PW] = pv;
        end
      end
    end
  endgenerate

  logic d_valid, d_first, d_last;
  /* verilator lint_off UNUSEDSIGNAL */  // the threshold ROM address, unused if N_THRESH = 0
  logic [NFW-1:0] d_nf;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [PE*AB-1:0] dot;
  pipe_tree #(
      .LANES(PE),
      .N(NL),
      .IW(LW),
      .OW(AB),
      .SIGNED(!POP),
      .FIRST(FIRST),
      .LPS(LPS),
      .TW(2 + NFW)
  ) dot_tree (
      .clk(clk),
      .rst_n(rst_n),
      .valid_in(s1_valid),
      .tag_in({s1_first, s1_last, s1_nf}),
      .leaves(leaves),
      .valid_out(d_valid),
      .tag_out({d_first, d_last, d_nf}),
      .sums(dot)
  );

  // --- D -> A: accumulate over sf -----------------------------------------------------------
  logic a_valid;
  /* verilator lint_off UNUSEDSIGNAL */  // noActivation with OUT_BITS < AB truncates the sums
  logic [PE*AB-1:0] acc;
  /* verilator lint_on UNUSEDSIGNAL */
  always_ff @(posedge clk) begin
    if (!rst_n) a_valid <= 1'b0;
    else a_valid <= d_valid && d_last;
    for (int p = 0; p < PE; p++) begin
      if (d_valid) acc[p*AB+:AB] <= (d_first ? '0 : acc[p*AB+:AB]) + dot[p*AB+:AB];
    end
  end

  // --- activation -> output FIFO ---------------------------------------------------------------
  logic push;
  logic [OB-1:0] out_data;
  generate
    if (N_THRESH == 0) begin : g_noact
      // noActivation: the accumulator itself, sign-extended or truncated to OUT_BITS
      assign push = a_valid;
      for (genvar p = 0; p < PE; p++) begin : g_p
        assign out_data[p*OUT_BITS+:OUT_BITS] = OUT_BITS'($signed(acc[p*AB+:AB]));
      end
    end else begin : g_thresh
      localparam int CB = (AB > T_BITS) ? AB : T_BITS;  // compare width
      // threshold word of the fold that completes in A (read with the last step's fold in D)
      logic [TB-1:0] a_t;
      rom #(.WIDTH(TB), .DEPTH(NF), .FILE(THRESHOLDS_FILE), .ROM_STYLE(RAM_STYLE_THRESH), .AW(NFW)) trom (
          .clk(clk), .addr(d_nf), .rdata(a_t)
      );
      // C: one registered compare per lane and threshold
      logic c_valid;
      logic [PE*N_THRESH-1:0] c_ge;
      always_ff @(posedge clk) begin
        if (!rst_n) c_valid <= 1'b0;
        else c_valid <= a_valid;
      end
      for (genvar p = 0; p < PE; p++) begin : g_cmp
        logic signed [CB-1:0] a;
        assign a = CB'($signed(acc[p*AB+:AB]));  // sign-extended
        always_ff @(posedge clk) begin
          for (int t = 0; t < N_THRESH; t++) begin
            c_ge[p*N_THRESH+t] <= a >= CB'($signed(a_t[(p*N_THRESH+t)*T_BITS+:T_BITS]));
          end
        end
      end
      // N: the count of the compares (ties count, the order of the thresholds is irrelevant)
      logic [PE*CW-1:0] cnt;
      if (N_THRESH == 1) begin : g_one
        assign push = c_valid;
        assign cnt = c_ge;
      end else begin : g_count
        logic [PE*NTL*NTW-1:0] chunks;
        for (genvar p = 0; p < PE; p++) begin : g_p
          logic [NTL*8-1:0] grp;
          for (genvar g = 0; g < NTL * 4; g++) begin : g_grp
            localparam int LO = g * 3;
            if (LO >= N_THRESH) begin : g_pad
              assign grp[g*2+:2] = '0;
            end else begin : g_ones
              localparam int N = (N_THRESH - LO < 3) ? N_THRESH - LO : 3;
              assign grp[g*2+:2] = 2'($countones(c_ge[p*N_THRESH+LO+:N]));
            end
          end
          for (genvar c = 0; c < NTL; c++) begin : g_chunk
            /* verilator lint_off UNUSEDSIGNAL */  // the count of fewer than 12 bits is narrower
            logic [3:0] n;
            /* verilator lint_on UNUSEDSIGNAL */
            assign n = sum4x2(grp[c*8+:8]);
            assign chunks[(p*NTL+c)*NTW+:NTW] = n[NTW-1:0];
          end
        end
        pipe_tree #(
            .LANES(PE),
            .N(NTL),
            .IW(NTW),
            .OW(CW),
            .SIGNED(1'b0),
            .FIRST(1),
            .LPS(LPS),
            .TW(1)
        ) count_tree (
            .clk(clk),
            .rst_n(rst_n),
            .valid_in(c_valid),
            .tag_in(1'b0),
            .leaves(chunks),
            .valid_out(push),
            /* verilator lint_off PINCONNECTEMPTY */
            .tag_out(),
            /* verilator lint_on PINCONNECTEMPTY */
            .sums(cnt)
        );
      end
      for (genvar p = 0; p < PE; p++) begin : g_p
        /* verilator lint_off UNUSEDSIGNAL */  // bits above OUT_BITS are truncated away
        logic [31:0] val;
        /* verilator lint_on UNUSEDSIGNAL */
        assign val = 32'(ACT_VAL) + 32'(cnt[p*CW+:CW]);
        assign out_data[p*OUT_BITS+:OUT_BITS] = val[OUT_BITS-1:0];
      end
    end
  endgenerate

  stream_out_fifo #(
      .WIDTH(OB),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(LATENCY)
  ) out_fifo (
      .clk(clk),
      .rst_n(rst_n),
      .issue(issue),
      .can_issue(can_issue),
      .in_valid(push),
      .in_data(out_data),
      .out_TDATA(out_TDATA),
      .out_TVALID(out_TVALID),
      .out_TREADY(out_TREADY)
  );
endmodule
