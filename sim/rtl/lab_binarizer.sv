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
module lab_binarizer #(
    parameter int C = 4,
    parameter int H = 4,
    parameter int W = 4,
    parameter int K = 3,
    parameter int PE = 1,
    parameter int IN_BITS = 4,
    parameter int W_BITS = 4,
    parameter int ACC_BITS = 12,
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
  localparam int FIFO_DEPTH = 4;

  // --- parameters ROMs ------------------------------------------------------------
  logic [PE*KK*W_BITS-1:0] wrom[FOLD];
  logic [PE*ACC_BITS-1:0] trom[FOLD];
  initial begin
    if (WEIGHTS_FILE != "") $readmemh(WEIGHTS_FILE, wrom);
    if (THRESHOLDS_FILE != "") $readmemh(THRESHOLDS_FILE, trom);
  end

  // --- input side: write row banks ---------------------------------------------------
  logic [FW-1:0] in_fold;
  logic [CW-1:0] in_col;
  logic [RW-1:0] in_row;
  logic [SW-1:0] in_slot;  // bank of the current input row
  logic [LW-1:0] lead;  // input beats accepted minus real reads issued
  logic in_fire, rd_fire;

  // at the limit the input may still write the word that this cycle's read frees
  // (read-first), or a narrow map (W*FOLD = 1) would run at half speed
  assign in0_V_TREADY = ap_rst_n && (lead < LW'(LEAD_MAX) || rd_fire);
  assign in_fire = in0_V_TVALID && in0_V_TREADY;


  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      in_fold <= '0;
      in_col <= '0;
      in_row <= '0;
      in_slot <= '0;
    end else if (in_fire) begin
      if (in_fold == FW'(FOLD - 1)) begin
        in_fold <= '0;
        if (in_col == CW'(W - 1)) begin
          in_col  <= '0;
          in_slot <= (in_slot == SW'(K - 1)) ? '0 : in_slot + 1'b1;
          in_row  <= (in_row == RW'(H - 1)) ? '0 : in_row + 1'b1;
        end else in_col <= in_col + 1'b1;
      end else in_fold <= in_fold + 1'b1;
    end
  end

  // --- read side: issue one step (real read or bubble) per cycle --------------------------
  logic [FW-1:0] rd_fold;
  logic [CW-1:0] rd_col;
  logic [RW-1:0] rd_row;
  logic [SW-1:0] rd_slot;  // bank of row rd_row
  logic [RW-1:0] rows_ahead;  // rows the read needs beyond its own: min(P, H-1-rd_row)
  logic [LW-1:0] need;
  logic real_ok, at_frame_start, tail_pending, aligned, bubble, issue_ok, issue;
  logic [FW-1:0] bub_fold;  // fold of the next bubble step
  logic [$clog2(P*FOLD+2)-1:0] bubbles_left;

  // rows the read needs beyond its own: min(P, H-1-rd_row), clipped at the frame end
  logic [31:0] ahead;
  assign ahead = 32'(H - 1) - 32'(rd_row);
  /* verilator lint_off UNSIGNED */  // constant for P = 0 (K = 1)
  assign rows_ahead = (ahead < 32'(P)) ? RW'(ahead) : RW'(P);
  /* verilator lint_on UNSIGNED */
  assign need = LW'(rows_ahead) * LW'(W * FOLD);
  assign real_ok = lead > need;

  assign at_frame_start = (rd_row == '0) && (rd_col == '0) && (rd_fold == '0);
  // steps during a frame tail must keep the fold order of the delay line
  assign aligned = !tail_pending || bub_fold == rd_fold;
  assign rd_fire = issue_ok && real_ok && aligned;
  // bubbles flush the tail of the previous frame when the next frame cannot be read yet
  assign bubble = issue_ok && tail_pending && at_frame_start && !rd_fire;
  assign issue = rd_fire || bubble;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) lead <= '0;
    else lead <= lead + LW'(in_fire) - LW'(rd_fire);
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      rd_fold <= '0;
      rd_col <= '0;
      rd_row <= '0;
      rd_slot <= '0;
    end else if (rd_fire) begin
      if (rd_fold == FW'(FOLD - 1)) begin
        rd_fold <= '0;
        if (rd_col == CW'(W - 1)) begin
          rd_col  <= '0;
          rd_slot <= (rd_slot == SW'(K - 1)) ? '0 : rd_slot + 1'b1;
          rd_row  <= (rd_row == RW'(H - 1)) ? '0 : rd_row + 1'b1;
        end else rd_col <= rd_col + 1'b1;
      end else rd_fold <= rd_fold + 1'b1;
    end
  end

  // Tail bookkeeping: after the last real read of a frame, P*FOLD more steps (bubbles or
  // the next frame's first reads) are needed to emit the frame's last P pixels.
  logic last_read_of_frame;
  assign last_read_of_frame = rd_fire && rd_fold == FW'(FOLD - 1) && rd_col == CW'(W - 1) && rd_row == RW'(H - 1);
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

  // --- stage 1: bank read (registered) ---------------------------------------------------
  logic s1_valid, s1_real;
  logic [FW-1:0] s1_fold;
  logic [CW-1:0] s1_col;
  logic [RW-1:0] s1_row;
  logic [SW-1:0] s1_slot;
  logic [XB-1:0] s1_word[K];
  logic [FW-1:0] step_fold;
  assign step_fold = rd_fire ? rd_fold : bub_fold;

  // K separate memories (one write port, selected by the slot; one registered read port
  // each): a two-dimensional array written at a variable first index is not inferred as
  // memory by every synthesis frontend
  logic [AW-1:0] wr_addr, rd_addr;
  assign wr_addr = AW'(in_col) * AW'(FOLD) + AW'(in_fold);
  assign rd_addr = AW'(rd_col) * AW'(FOLD) + AW'(rd_fold);
  generate
    for (genvar b = 0; b < K; b++) begin : g_bank
      logic [XB-1:0] word;
      ram_sdp #(.WIDTH(XB), .DEPTH(DEPTH), .RAM_STYLE(RAM_STYLE), .AW(AW)) bank (
          .clk(ap_clk), .we(in_fire && in_slot == SW'(b)), .waddr(wr_addr), .wdata(in0_V_TDATA[XB-1:0]),
          .raddr(rd_addr), .rdata(word)
      );
      assign s1_word[b] = word;
    end
  endgenerate
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s1_valid <= 1'b0;
    else s1_valid <= issue;
    s1_real <= rd_fire;
    s1_fold <= step_fold;
    s1_col  <= rd_col;
    s1_row  <= rd_row;
    s1_slot <= rd_slot;
  end

  // window column of this step: row i of the window = row s1_row - P + i (zero outside the frame)
  // window row i = frame row s1_row - P + i, kept in bank (s1_slot - P + i) mod K; zero outside the frame
  logic [COLW-1:0] s1_column;
  generate
    for (genvar i = 0; i < K; i++) begin : g_rows
      localparam int OFF = (i - P + K) % K;  // bank offset of window row i, in 0..K-1
      logic [SW:0] slot_sum;
      logic [SW-1:0] slot;
      logic row_ok;
      assign slot_sum = (SW + 1)'(s1_slot) + (SW + 1)'(OFF);
      assign slot = (slot_sum >= (SW + 1)'(K)) ? SW'(slot_sum - (SW + 1)'(K)) : SW'(slot_sum);
      /* verilator lint_off UNSIGNED */  // constant for the window rows i >= P
      assign row_ok = (32'(s1_row) + i >= P) && (32'(s1_row) + i < H + P);
      /* verilator lint_on UNSIGNED */
      assign s1_column[i*XB+:XB] = (s1_real && row_ok) ? s1_word[slot] : '0;
    end
  endgenerate

  // --- stage 1: delay line (K-1 older columns per fold) and the K x K MAC -------------------
  // entry = {real, column index, K-row column}
  localparam int EW = 1 + CW + COLW;
  logic [EW-1:0] tap[K];  // tap[d]: d pixel steps (of this fold) ago; tap[0] is this step
  assign tap[0] = {s1_real, s1_col, s1_column};
  // one FOLD-deep memory per delay (asynchronous read, written at the same address: LUTRAM)
  generate
    for (genvar d = 1; d < K; d++) begin : g_delay
      logic [EW-1:0] mem[FOLD];
      assign tap[d] = mem[s1_fold];
      always_ff @(posedge ap_clk) if (s1_valid) mem[s1_fold] <= tap[d-1];
    end
  endgenerate

  // After a reset the delay line holds stale entries: the first P*FOLD steps emit nothing.
  localparam int WARM = P * FOLD;
  logic [$clog2(WARM+2)-1:0] warm;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) warm <= '0;
    else if (s1_valid && warm != ($bits(warm))'(WARM)) warm <= warm + 1'b1;
  end

  // the centre tap is the pixel whose output is due; window column j = tap[K-1-j]
  logic centre_real;
  logic [CW-1:0] centre_col;
  assign centre_real = tap[P][EW-1] && warm == ($bits(warm))'(WARM);
  assign centre_col  = tap[P][EW-2-:CW];

  // products of every lane p, window row i, window column j (zero for padding columns);
  // narrow multipliers belong in LUTs, not DSP slices; each multiplies at its natural width
  // (IN_BITS x W_BITS) and is extended after: operands extended to ACC_BITS first make yosys
  // build full-width multipliers inside the sum (twice the LUTs)
  logic signed [ACC_BITS-1:0] prod[PE][KK];
  logic [KK*W_BITS-1:0] fold_w[PE];
  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      assign fold_w[p] = wrom[s1_fold][p*KK*W_BITS+:KK*W_BITS];
      for (genvar j = 0; j < K; j++) begin : g_col
        logic col_ok;
        /* verilator lint_off UNSIGNED */  // constant for the window columns j >= P
        assign col_ok = (32'(centre_col) + j >= P) && (32'(centre_col) + j < W + P);
        /* verilator lint_on UNSIGNED */
        for (genvar i = 0; i < K; i++) begin : g_row
          logic signed [IN_BITS-1:0] x;
          logic signed [W_BITS-1:0] w;
          (* use_dsp = "no" *) logic signed [IN_BITS+W_BITS-1:0] xw;
          assign x = $signed(tap[K-1-j][i*XB+p*IN_BITS+:IN_BITS]);
          assign w = $signed(fold_w[p][(i*K+j)*W_BITS+:W_BITS]);
          assign xw = x * w;
          assign prod[p][i*K+j] = col_ok ? ACC_BITS'(xw) : '0;
        end
      end
    end
  endgenerate

  logic signed [ACC_BITS-1:0] acc[PE];
  always_comb begin
    for (int p = 0; p < PE; p++) begin
      acc[p] = '0;
      for (int t = 0; t < KK; t++) acc[p] = acc[p] + prod[p][t];
    end
  end

  // --- stage 2: threshold compare ---------------------------------------------------------
  logic s2_valid;
  logic [FW-1:0] s2_fold;
  logic signed [ACC_BITS-1:0] s2_acc[PE];
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) s2_valid <= 1'b0;
    else s2_valid <= s1_valid && centre_real;
    s2_fold <= s1_fold;
    for (int p = 0; p < PE; p++) s2_acc[p] <= acc[p];
  end

  logic [PE-1:0] s2_bits;
  always_comb begin
    for (int p = 0; p < PE; p++) s2_bits[p] = s2_acc[p] >= $signed(trom[s2_fold][p*ACC_BITS+:ACC_BITS]);
  end

  // --- output FIFO -------------------------------------------------------------------------
  stream_out_fifo #(
      .WIDTH(PE),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(2)  // issue -> stage 1 -> stage 2 (push)
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(issue),
      .can_issue(issue_ok),
      .in_valid(s2_valid),
      .in_data(s2_bits),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
