// bnnforge: the datapath of the MVAU and VVAU cores (mvau.sv, vvau.sv): PE lanes of SIMD
// products and their sum, accumulated over the SF steps of an output fold, then the
// activation: the threshold count (ACT_VAL + #{t : acc >= T[t]}, thresholds from a
// registered ROM read, FINN's multithreshold) or, with N_THRESH = 0, the accumulator.
//
// Timing: a step's operands arrive registered (S1); S2 registers the dot products, the
// accumulator and the threshold word follow, and S3 (s3_valid, s3_out) holds the output
// of fold s1_nf one cycle after its last step left S2: 2 cycles after S1.
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
    parameter int NFW = (NF > 1) ? $clog2(NF) : 1
) (
    input  logic                          clk,
    input  logic                          rst_n,
    input  logic                          s1_valid,
    input  logic                          s1_first,  // the first step of an output fold
    input  logic                          s1_last,  // the last step of an output fold
    /* verilator lint_off UNUSEDSIGNAL */  // the threshold ROM address, unused if N_THRESH = 0
    input  logic [               NFW-1:0] s1_nf,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [PE*SIMD*IN_BITS-1:0]    s1_x,
    input  logic [ PE*SIMD*W_BITS-1:0]    s1_w,
    output logic                          s3_valid,
    output logic [       PE*OUT_BITS-1:0] s3_out
);
  localparam int TB = PE * N_THRESH * T_BITS;  // one threshold word

  // --- S1 -> S2: SIMD products and their sum per PE lane ------------------------------------
  localparam int SP = (SIMD > 1) ? (1 << $clog2(SIMD)) : 1;  // leaves of the adder tree
  localparam int LV = $clog2(SP);  // tree levels
  localparam int XW = (IN_KIND == 0) ? IN_BITS + 1 : ((IN_KIND == 1) ? IN_BITS : 2);
  localparam int WW = (W_KIND == 0) ? W_BITS + 1 : ((W_KIND == 1) ? W_BITS : 2);
  localparam int PW = XW + WW;  // full product width

  logic s2_valid, s2_first, s2_last;
  /* verilator lint_off UNUSEDSIGNAL */  // the threshold ROM address, unused if N_THRESH = 0
  logic [NFW-1:0] s2_nf;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [PE*AB-1:0] dot, s2_dot;

  generate
    for (genvar p = 0; p < PE; p++) begin : g_pe
      if (POP) begin : g_popcount
        // the number of equal bits. One $countones, not the adder tree below: synthesis maps
        // both to the same cells (yosys: identical counts), and Verilator computes it with word
        // popcounts instead of one expression of SIMD terms per lane, whose C++ took GCC
        // hours for the max-folded cnv layers (PE x SIMD = 3,072)
        assign dot[p*AB+:AB] = AB'($countones(~(s1_x[p*SIMD+:SIMD] ^ s1_w[p*SIMD+:SIMD])));
      end else begin : g_tree
        for (genvar l = 0; l <= LV; l++) begin : g_lvl
          logic [(SP>>l)*AB-1:0] v;  // level l of the adder tree, (SP >> l) nodes of AB bits
          if (l == 0) begin : g_leaves
            for (genvar s = 0; s < SP; s++) begin : g_s
              if (s >= SIMD) begin : g_pad
                assign v[s*AB+:AB] = '0;
              end else begin : g_lane
                logic [IN_BITS-1:0] xr;
                logic [W_BITS-1:0] wr;
                assign xr = s1_x[(p*SIMD+s)*IN_BITS+:IN_BITS];
                assign wr = s1_w[(p*SIMD+s)*W_BITS+:W_BITS];
                logic signed [XW-1:0] xv;
                logic signed [WW-1:0] wv;
                // narrow multipliers belong in LUTs, not DSP slices
                (* use_dsp = "no" *) logic signed [PW-1:0] pv;
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
                // sign extension or truncation: sums are exact modulo 2^AB
                assign v[s*AB+:AB] = AB'(pv);
              end
            end
          end else begin : g_sum
            for (genvar i = 0; i < (SP >> l); i++) begin : g_i
              assign v[i*AB+:AB] = g_lvl[l-1].v[2*i*AB+:AB] + g_lvl[l-1].v[(2*i+1)*AB+:AB];
            end
          end
        end
        assign dot[p*AB+:AB] = g_lvl[LV].v;
      end
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (!rst_n) s2_valid <= 1'b0;
    else s2_valid <= s1_valid;
    s2_first <= s1_first;
    s2_last <= s1_last;
    s2_nf <= s1_nf;
    s2_dot <= dot;
  end

  // --- S2 -> S3: accumulate over sf; registered threshold read for the completed fold --------
  /* verilator lint_off UNUSEDSIGNAL */  // noActivation with OUT_BITS < AB truncates the sums
  logic [PE*AB-1:0] acc;
  /* verilator lint_on UNUSEDSIGNAL */
  always_ff @(posedge clk) begin
    if (!rst_n) s3_valid <= 1'b0;
    else s3_valid <= s2_valid && s2_last;
    for (int p = 0; p < PE; p++) begin
      if (s2_valid) acc[p*AB+:AB] <= (s2_first ? '0 : acc[p*AB+:AB]) + s2_dot[p*AB+:AB];
    end
  end

  // --- S3: activation -> output FIFO ---------------------------------------------------------
  generate
    if (N_THRESH == 0) begin : g_noact
      // noActivation: the accumulator itself, sign-extended or truncated to OUT_BITS
      for (genvar p = 0; p < PE; p++) begin : g_p
        assign s3_out[p*OUT_BITS+:OUT_BITS] = OUT_BITS'($signed(acc[p*AB+:AB]));
      end
    end else begin : g_thresh
      localparam int CB = (AB > T_BITS) ? AB : T_BITS;  // compare width
      localparam int CW = $clog2(N_THRESH + 1);
      logic [TB-1:0] s3_t;
      rom #(.WIDTH(TB), .DEPTH(NF), .FILE(THRESHOLDS_FILE), .ROM_STYLE(RAM_STYLE_THRESH), .AW(NFW)) trom (
          .clk(clk), .addr(s2_nf), .rdata(s3_t)
      );
      for (genvar p = 0; p < PE; p++) begin : g_p
        logic signed [CB-1:0] a;
        logic [CW-1:0] cnt;
        /* verilator lint_off UNUSEDSIGNAL */  // bits above OUT_BITS are truncated away
        logic [31:0] val;
        /* verilator lint_on UNUSEDSIGNAL */
        assign a = CB'($signed(acc[p*AB+:AB]));  // sign-extended
        always_comb begin
          cnt = '0;
          for (int t = 0; t < N_THRESH; t++) begin
            cnt = cnt + CW'(a >= CB'($signed(s3_t[(p*N_THRESH+t)*T_BITS+:T_BITS])));
          end
        end
        assign val = 32'(ACT_VAL) + 32'(cnt);
        assign s3_out[p*OUT_BITS+:OUT_BITS] = val[OUT_BITS-1:0];
      end
    end
  endgenerate

endmodule
