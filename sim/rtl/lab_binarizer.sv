// bnnforge: LAB binarizer, synthesizable SystemVerilog (docs/SPEC.md, section 3).
//
//   acc[c,h,w] = sum_{i,j} W[c][i*K+j] * x[c, h+i-P, w+j-P]   (zero padding, P = K/2)
//   out[c,h,w] = 1 (bipolar +1) iff acc >= T[c]
//
// Streams (FINN order: NHWC, PE channels per beat, lane p in bits [p*B +: B]):
//   in0_V : PE x IN_BITS signed,  H*W*C/PE beats per frame
//   out0_V : PE bits,              H*W*C/PE beats per frame
// Parameters (hex files, $readmemh, one line per channel fold f = 0..C/PE-1):
//   WEIGHTS_FILE    : PE*K*K*W_BITS bits per line, lane p tap t = i*K+j at [(p*K*K+t)*W_BITS +: W_BITS]
//   THRESHOLDS_FILE : PE*ACC_BITS bits per line, lane p at [p*ACC_BITS +: ACC_BITS]
//
// Architecture (one beat per cycle in steady state, frames back to back):
// - K row banks (rows cycle through the banks across frames), W*FOLD words each;
//   the input side writes one bank, the read side reads all K banks at once and
//   gets one K-row column of the window.
// - A delay line of K columns per fold (the newest read plus K-1 older ones)
//   forms the K x K window; its centre entry is the pixel whose output is due.
// - The input may lead the read side by up to (P+1) rows (bank reuse; a word may be
//   overwritten in the cycle it is read: reads see the old word), the read
//   side needs the input P rows ahead (clipped at the frame end). At a frame end,
//   if the next frame is not there yet, P "bubble" steps flush the last outputs.
// - Output FIFO with credit-based issue: any backpressure pattern is safe.
// Pipeline (registers between the stages; docs/DESIGN.md, "Timing estimate"): issue (bank
// addresses) -> bank read (+ the banks' output register when they may be block RAM) ->
// window column (bank rotation, frame-edge rows zeroed) -> delay line and registered K x K
// window (frame-edge columns zeroed) with the fold's weights -> products (a wide one as
// weight slices) and their sum (pipe_tree, stream_out_fifo.sv) -> sum and threshold
// registered -> compare registered -> output FIFO. Latency LATENCY cycles from issue to
// push (below); the FIFO is LATENCY + 2 deep (a power of two), so every cycle can issue.
module lab_binarizer #(
    parameter int C = 4,
    parameter int H = 4,
    parameter int W = 4,
    parameter int K = 3,
    parameter int PE = 1,
    parameter int IN_BITS = 4,
    parameter int W_BITS = 4,
    parameter int ACC_BITS = 12,
    parameter int SLICE_BITS = 3,  // weight bits per partial product of a wide product (below; bnnforge sets it)
    parameter WEIGHTS_FILE = "",
    parameter THRESHOLDS_FILE = "",
    parameter RAM_STYLE = "auto",  // row banks: "block" / "distributed" (attribute), "auto": the tool decides
    parameter int IN_WIDTH = ((PE * IN_BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int OUT_WIDTH = ((PE + 7) / 8) * 8
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
  localparam int P = K / 2;
  localparam int KK = K * K;
  localparam int DEPTH = W * FOLD;  // words per row bank
  localparam int XB = PE * IN_BITS;  // one bank word (PE values)
  localparam int COLW = K * XB;  // one window column (K rows)
  localparam int LEAD_MAX = (P + 1) * W * FOLD;  // input lead limit (reached only while a read frees a word)
  // index widths (at least one bit)
  localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam int FW = (FOLD > 1) ? $clog2(FOLD) : 1;
  localparam int CW = (W > 1) ? $clog2(W) : 1;
  localparam int RW = (H > 1) ? $clog2(H) : 1;
  localparam int SW = (K > 1) ? $clog2(K) : 1;
  localparam int LW = $clog2(LEAD_MAX + 2) + 1;
  // the banks' read latency: block RAM (or what "auto" may make one) gets its output register
  /* verilator lint_off WIDTHEXPAND */  // a string parameter against a longer literal
  localparam int BL = (RAM_STYLE == "distributed") ? 1 : 2;
  /* verilator lint_on WIDTHEXPAND */
  localparam int PB = IN_BITS + W_BITS;  // a product
  // products of a 1- or 2-bit operand share a stage with the first adder level
  localparam int FIRST = (IN_BITS <= 2 || W_BITS <= 2) ? 1 : 0;
  // a wide product (both operands over 4 bits: 8-bit pixels x 8-bit weights is 8 to 10 logic
  // levels) is a sum of NSL: x times SLB-bit slices of the weight (unsigned, the top one
  // signed), shifted, each a tree leaf (registered before the adders); 2-bit slices where
  // the weights come from a few-word ROM (its register's bits merge into high-fanout flops)
  localparam int SLB = SLICE_BITS;
  localparam int NSL = (IN_BITS > 4 && W_BITS > 4) ? (W_BITS + SLB - 1) / SLB : 1;
  localparam int NLEAF = KK * NSL;
  localparam int LPS = 2;  // adder levels per register stage
  function automatic int tree_lat(int n, int first);  // pipe_tree's register stages
    tree_lat = ($clog2(n) >= first) ? ($clog2(n) - first) / LPS + 1 : 0;
  endfunction
  // issue -> bank read (BL) -> column -> window -> sum tree -> sum -> compare (push)
  localparam int LATENCY = BL + 2 + tree_lat(NLEAF, FIRST) + 2;
  localparam int FIFO_DEPTH = 1 << $clog2(LATENCY + 2);

  // --- parameters ROMs ------------------------------------------------------------
  logic [PE*KK*W_BITS-1:0] wrom[FOLD];
  logic [PE*ACC_BITS-1:0] trom[FOLD];
  initial begin
    if (WEIGHTS_FILE != "") $readmemh(WEIGHTS_FILE, wrom);
    if (THRESHOLDS_FILE != "") $readmemh(THRESHOLDS_FILE, trom);
  end

  // --- input side: write row banks ---------------------------------------------------
  logic [AW-1:0] wr_addr;  // word of the row being written: column * FOLD + fold
  logic [RW-1:0] in_row;
  logic [SW-1:0] in_slot;  // bank of the current input row
  logic [LW-1:0] lead;  // input beats accepted minus real reads issued
  logic in_fire, rd_fire;

  // at the limit the input may still write the word that this cycle's read frees
  // (read-first), or a narrow map (W*FOLD = 1) would run at half speed
  logic lead_room;  // lead < LEAD_MAX (a register, see below)
  assign in0_V_TREADY = ap_rst_n && (lead_room || rd_fire);
  assign in_fire = in0_V_TVALID && in0_V_TREADY;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      wr_addr <= '0;
      in_row <= '0;
      in_slot <= '0;
    end else if (in_fire) begin
      if (wr_addr == AW'(DEPTH - 1)) begin
        wr_addr <= '0;
        in_slot <= (in_slot == SW'(K - 1)) ? '0 : in_slot + 1'b1;
        in_row  <= (in_row == RW'(H - 1)) ? '0 : in_row + 1'b1;
      end else wr_addr <= wr_addr + 1'b1;
    end
  end

  // --- read side: issue one step (real read or bubble) per cycle --------------------------
  logic [FW-1:0] rd_fold;
  logic [CW-1:0] rd_col;
  logic [RW-1:0] rd_row;
  logic [AW-1:0] rd_addr;  // rd_col * FOLD + rd_fold
  logic [LW-1:0] need;  // input beats the read of row rd_row needs ahead: min(P, H-1-rd_row) rows
  logic [LW-1:0] need_after;  // the same for the row after rd_row
  logic [RW-1:0] rd_row1, rd_row2;  // the rows after rd_row and after that
  logic real_ok;  // lead > need (a register, see below)
  logic at_frame_start, tail_pending, aligned, bubble, issue_ok, issue, row_end;
  logic [FW-1:0] bub_fold;  // fold of the next bubble step
  logic [$clog2(P*FOLD+2)-1:0] bubbles_left;

  // beats the read of row r needs beyond its own row: min(P, H-1-r) rows, clipped at the frame end
  // (rows r = H-1-k, k < P, need k rows: a choice among constants, no arithmetic)
  function automatic logic [LW-1:0] need_of(logic [RW-1:0] r);
    need_of = LW'(P * W * FOLD);
    for (int k = 0; k < P; k++) if (32'(r) == H - 1 - k) need_of = LW'(k * W * FOLD);
  endfunction
  function automatic logic [RW-1:0] row_after(logic [RW-1:0] r);
    row_after = (r == RW'(H - 1)) ? '0 : r + 1'b1;
  endfunction
  // window row i of the pixels of row r is frame row r - P + i: inside the frame?
  function automatic logic [K-1:0] rows_ok(logic [RW-1:0] r);
    /* verilator lint_off UNSIGNED */  // constant for the window rows i >= P
    for (int i = 0; i < K; i++) rows_ok[i] = (32'(r) + i >= P) && (32'(r) + i < H + P);
    /* verilator lint_on UNSIGNED */
  endfunction
  // window row i of row r is kept in bank (r - P + i) mod K: one-hot, registered (rotated at
  // every row change) so that no modular adder sits before the bank selects
  logic [K-1:0] row_bank[K];  // row_bank[i][b]: window row i is in bank b
  logic [K-1:0] row_ok;  // rows_ok(rd_row), registered

  assign at_frame_start = (rd_row == '0) && (rd_col == '0) && (rd_fold == '0);
  // steps during a frame tail must keep the fold order of the delay line
  assign aligned = !tail_pending || bub_fold == rd_fold;
  assign rd_fire = issue_ok && real_ok && aligned;
  // bubbles flush the tail of the previous frame when the next frame cannot be read yet
  assign bubble = issue_ok && tail_pending && at_frame_start && !rd_fire;
  assign issue = rd_fire || bubble;
  assign row_end = (rd_fold == FW'(FOLD - 1)) && (rd_col == CW'(W - 1));

  // lead moves by at most one beat a cycle: real_ok and lead_room of the next cycle are picked
  // from comparisons of this cycle's registers (lead + d against need, or need_after at a row
  // change, and LEAD_MAX; d = -1, 0, +1), not computed after the adder
  // (lead - 1 > need: lead > need + 1, kept as need_p1; a read implies lead >= 1)
  logic [LW-1:0] need_p1, need_after_p1;
  logic [2:0] ok_n, ok_a, room;  // [d + 1]: lead + d > need / > need_after / < LEAD_MAX
  logic [1:0] d1;  // d + 1
  assign ok_n = {lead >= need, lead > need, lead > need_p1};
  assign ok_a = {lead >= need_after, lead > need_after, lead > need_after_p1};
  assign room = {lead < LW'(LEAD_MAX - 1), lead < LW'(LEAD_MAX), lead < LW'(LEAD_MAX + 1)};
  assign d1 = (in_fire && !rd_fire) ? 2'd2 : ((rd_fire && !in_fire) ? 2'd0 : 2'd1);
  // lead + 1 and lead - 1 are kept in registers too, so lead's next value is a choice
  logic [LW-1:0] lead_p1, lead_m1;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      lead <= '0;
      lead_p1 <= LW'(1);
      lead_m1 <= '1;
      real_ok <= 1'b0;  // lead = 0
      lead_room <= 1'b1;
    end else begin
      if (d1 == 2'd2) begin
        lead <= lead_p1;
        lead_p1 <= lead_p1 + 1'b1;
        lead_m1 <= lead;
      end else if (d1 == 2'd0) begin
        lead <= lead_m1;
        lead_p1 <= lead;
        lead_m1 <= lead_m1 - 1'b1;
      end
      real_ok <= (rd_fire && row_end) ? ok_a[d1] : ok_n[d1];
      lead_room <= room[d1];
    end
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      rd_fold <= '0;
      rd_col <= '0;
      rd_row <= '0;
      for (int i = 0; i < K; i++) row_bank[i] <= K'(1) << ((i - P + K) % K);
      row_ok <= rows_ok('0);
      rd_addr <= '0;
      need <= need_of('0);
      need_p1 <= need_of('0) + 1'b1;
      need_after <= need_of(row_after('0));
      need_after_p1 <= need_of(row_after('0)) + 1'b1;
      rd_row1 <= row_after('0);
      rd_row2 <= row_after(row_after('0));
    end else if (rd_fire) begin
      rd_addr <= (rd_addr == AW'(DEPTH - 1)) ? '0 : rd_addr + 1'b1;
      if (rd_fold == FW'(FOLD - 1)) begin
        rd_fold <= '0;
        if (rd_col == CW'(W - 1)) begin
          rd_col  <= '0;
          for (int i = 0; i < K; i++) row_bank[i] <= K'({row_bank[i], row_bank[i][K-1]});  // b -> b + 1 mod K
          row_ok  <= rows_ok(rd_row1);
          rd_row  <= rd_row1;
          rd_row1 <= rd_row2;
          rd_row2 <= row_after(rd_row2);
          need <= need_after;
          need_p1 <= need_after_p1;
          need_after <= need_of(rd_row2);
          need_after_p1 <= need_of(rd_row2) + 1'b1;
        end else rd_col <= rd_col + 1'b1;
      end else rd_fold <= rd_fold + 1'b1;
    end
  end

  // Tail bookkeeping: after the last real read of a frame, P*FOLD more steps (bubbles or
  // the next frame's first reads) are needed to emit the frame's last P pixels.
  logic last_read_of_frame;
  assign last_read_of_frame = rd_fire && row_end && rd_row == RW'(H - 1);
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      tail_pending <= 1'b0;
      bubbles_left <= '0;
      bub_fold <= '0;
    end else if (last_read_of_frame) begin
      tail_pending <= (P > 0);
      bubbles_left <= ($bits(bubbles_left))'(P * FOLD);
      bub_fold <= '0;
    end else if (issue && tail_pending) begin
      // every step after the frame end (bubble or real) advances the tail by one beat
      bub_fold <= (bub_fold == FW'(FOLD - 1)) ? '0 : bub_fold + 1'b1;
      if (bubbles_left == 1) tail_pending <= 1'b0;
      bubbles_left <= bubbles_left - 1'b1;
    end
  end

  // --- bank read: BL cycles (S1) ----------------------------------------------------------
  // K separate memories (one write port, selected by the slot; one registered read port
  // each): a two-dimensional array written at a variable first index is not inferred as
  // memory by every synthesis frontend
  logic [XB-1:0] s1_word[K];
  generate
    for (genvar b = 0; b < K; b++) begin : g_bank
      logic [XB-1:0] word;
      ram_sdp #(.WIDTH(XB), .DEPTH(DEPTH), .RAM_STYLE(RAM_STYLE), .LATENCY(BL), .AW(AW)) bank (
          .clk(ap_clk), .we(in_fire && in_slot == SW'(b)), .waddr(wr_addr), .wdata(in0_V_TDATA[XB-1:0]),
          .raddr(rd_addr), .rdata(word)
      );
      assign s1_word[b] = word;
    end
  endgenerate
  // the step's controls, BL cycles later with its bank words: {real, fold, column, bank of
  // every window row}: row i of the window = frame row rd_row - P + i, kept in bank
  // row_bank[i]; its select is one-hot, all zero outside the frame (or for a bubble).
  // Registered with a reset: no slow shift-register primitive at the column mux.
  localparam int SCW = 1 + FW + CW + K * K;
  logic [K*K-1:0] sel;  // window row i reads bank b iff sel[i*K + b]
  generate
    for (genvar i = 0; i < K; i++) begin : g_sel
      assign sel[i*K+:K] = (rd_fire && row_ok[i]) ? row_bank[i] : '0;
    end
  endgenerate
  logic s1_valid, s1_real;
  logic [FW-1:0] s1_fold;
  logic [CW-1:0] s1_col;
  logic [K*K-1:0] s1_sel;
  logic sv[BL];
  logic [SCW-1:0] sc[BL];
  always_ff @(posedge ap_clk) begin
    for (int i = 0; i < BL; i++) begin
      if (!ap_rst_n) begin
        sv[i] <= 1'b0;
        sc[i] <= '0;
      end else begin
        sv[i] <= (i == 0) ? issue : sv[(i>0)?i-1:0];
        sc[i] <= (i == 0) ? {rd_fire, rd_fire ? rd_fold : bub_fold, rd_col, sel} : sc[(i>0)?i-1:0];
      end
    end
  end
  assign s1_valid = sv[BL-1];
  assign {s1_real, s1_fold, s1_col, s1_sel} = sc[BL-1];

  // --- S2: window column (an AND-OR mux of the banks: zero outside the frame) -------------
  logic c_valid, c_real;
  logic [FW-1:0] c_fold;
  logic [K-1:0] c_colok;  // window column j of this pixel's window is inside the frame
  logic [COLW-1:0] c_column, s1_column;
  // the column flags of this step's pixel, for when it is the centre of its window: window
  // column j = frame column centre_col - P + j (its column does not change in the delay line)
  logic [CW-1:0] centre_col;
  logic [K-1:0] s1_colok;
  assign centre_col = s1_col;
  generate
    for (genvar j = 0; j < K; j++) begin : g_colok
      /* verilator lint_off UNSIGNED */  // constant for the window columns j >= P
      assign s1_colok[j] = (32'(centre_col) + j >= P) && (32'(centre_col) + j < W + P);
      /* verilator lint_on UNSIGNED */
    end
  endgenerate
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      c_valid <= 1'b0;
      c_real <= 1'b0;
      c_fold <= '0;
      c_colok <= '0;
    end else begin
      c_valid <= s1_valid;
      c_real <= s1_real;
      c_fold <= s1_fold;
      c_colok <= s1_colok;
    end
    c_column <= s1_column;
  end
  always_comb begin
    s1_column = '0;
    for (int i = 0; i < K; i++) begin
      for (int b = 0; b < K; b++) s1_column[i*XB+:XB] = s1_column[i*XB+:XB] | ({XB{s1_sel[i*K+b]}} & s1_word[b]);
    end
  end

  // --- S2: delay line (K-1 older columns per fold) ------------------------------------------
  // entry = {real, column flags, K-row column}
  localparam int EW = 1 + K + COLW;
  logic [EW-1:0] tap[K];  // tap[d]: d pixel steps (of this fold) ago; tap[0] is this step
  assign tap[0] = {c_real, c_colok, c_column};
  // one FOLD-deep memory per delay (asynchronous read, written at the same address: LUTRAM)
  generate
    for (genvar d = 1; d < K; d++) begin : g_delay
      logic [EW-1:0] mem[FOLD];
      assign tap[d] = mem[c_fold];
      always_ff @(posedge ap_clk) if (c_valid) mem[c_fold] <= tap[d-1];
    end
  endgenerate

  // After a reset the delay line holds stale entries: the first P*FOLD steps emit nothing.
  localparam int WARM = P * FOLD;
  logic [$clog2(WARM+2)-1:0] warm;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) warm <= '0;
    else if (c_valid && warm != ($bits(warm))'(WARM)) warm <= warm + 1'b1;
  end

  // the centre tap is the pixel whose output is due; window column j = tap[K-1-j]
  logic centre_real;
  logic [K-1:0] centre_colok;
  assign centre_real = tap[P][EW-1] && warm == ($bits(warm))'(WARM);
  assign centre_colok = tap[P][EW-2-:K];

  // --- S3: the K x K window (padding columns zeroed) and the fold's weights, registered -----
  logic w_valid;
  logic [FW-1:0] w_fold;
  logic [PE*KK*IN_BITS-1:0] w_x;  // lane p tap t = i*K+j at [(p*KK+t)*IN_BITS +: IN_BITS]
  logic [PE*KK*W_BITS-1:0] w_w;
  generate
    for (genvar j = 0; j < K; j++) begin : g_col
      logic col_ok;
      assign col_ok = centre_colok[j];
      for (genvar p = 0; p < PE; p++) begin : g_lane
        for (genvar i = 0; i < K; i++) begin : g_row
          always_ff @(posedge ap_clk) begin
            w_x[(p*KK+i*K+j)*IN_BITS+:IN_BITS] <= col_ok ? tap[K-1-j][i*XB+p*IN_BITS+:IN_BITS] : '0;
          end
        end
      end
    end
  endgenerate
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      w_valid <= 1'b0;
      w_fold <= '0;
    end else begin
      w_valid <= c_valid && centre_real;
      w_fold <= c_fold;
    end
    w_w <= wrom[c_fold];
  end

  // --- products (natural width: IN_BITS x W_BITS, extended by the tree) and their sum -------
  logic [PE*NLEAF*PB-1:0] prods;
  generate
    for (genvar t = 0; t < PE * KK; t++) begin : g_prod
      logic signed [IN_BITS-1:0] x;
      logic signed [W_BITS-1:0] w;
      assign x = $signed(w_x[t*IN_BITS+:IN_BITS]);
      assign w = $signed(w_w[t*W_BITS+:W_BITS]);
      if (NSL > 1) begin : g_split
        // lane p tap t' leaf t'*NSL + s: x * w[SLB*s +: SLB] << SLB*s (the top slice: signed)
        for (genvar sl = 0; sl < NSL; sl++) begin : g_slice
          localparam int LO = SLB * sl;
          (* use_dsp = "no" *) logic signed [PB-1:0] xs;
          if (sl == NSL - 1) begin : g_top
            assign xs = PB'(x * $signed(w[W_BITS-1:LO])) << LO;
          end else begin : g_low
            assign xs = PB'(x * $signed({1'b0, w[LO+:SLB]})) << LO;
          end
          assign prods[(t*NSL+sl)*PB+:PB] = xs;
        end
      end else begin : g_whole
        // narrow multipliers belong in LUTs, not DSP slices
        (* use_dsp = "no" *) logic signed [PB-1:0] xw;
        assign xw = x * w;
        assign prods[t*PB+:PB] = xw;
      end
    end
  endgenerate
  logic t_valid;
  logic [FW-1:0] t_fold;
  logic [PE*ACC_BITS-1:0] sums;
  pipe_tree #(
      .LANES(PE),
      .N(NLEAF),
      .IW(PB),
      .OW(ACC_BITS),
      .SIGNED(1'b1),
      .FIRST(FIRST),
      .LPS(LPS),
      .TW(FW)
  ) sum_tree (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .valid_in(w_valid),
      .tag_in(w_fold),
      .leaves(prods),
      .valid_out(t_valid),
      .tag_out(t_fold),
      .sums(sums)
  );

  // --- A: the sums and the fold's thresholds registered; C: the compares ---------------------
  logic a_valid, o_valid;
  logic [PE*ACC_BITS-1:0] a_sum, a_t;
  logic [PE-1:0] o_bits;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      a_valid <= 1'b0;
      o_valid <= 1'b0;
    end else begin
      a_valid <= t_valid;
      o_valid <= a_valid;
    end
    a_sum <= sums;
    a_t <= trom[t_fold];
    for (int p = 0; p < PE; p++) o_bits[p] <= $signed(a_sum[p*ACC_BITS+:ACC_BITS]) >= $signed(a_t[p*ACC_BITS+:ACC_BITS]);
  end

  // --- output FIFO -------------------------------------------------------------------------
  stream_out_fifo #(
      .WIDTH(PE),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(LATENCY)
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(issue),
      .can_issue(issue_ok),
      .in_valid(o_valid),
      .in_data(o_bits),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
