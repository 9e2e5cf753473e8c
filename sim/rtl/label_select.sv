// bnnforge: top-K label selection, synthesizable SystemVerilog; computes exactly FINN's
// LabelSelect (its Python execution: ONNX TopK, largest, sorted).
//
//   out[n, j] = index of the j-th largest of in[n, 0..LABELS-1], j = 0..K-1
//   order: value descending; equal values: the lower index first (ONNX TopK rule)
//
// Streams:
//   in0_V  : PE x BITS per beat (lane p in bits [p*BITS +: BITS], two's complement when
//            SIGNED; BIPOLAR: SIGNED = 0), LABELS/PE beats per vector, label b*PE + p in
//            lane p of beat b
//   out0_V : one index per beat, IDX_BITS unsigned, K beats per vector, best first.
//            IDX_BITS = FINN outputDataType bitwidth; the default is FINN's own choice:
//            UINT<ceil(log2 LABELS)> rounded up to 8 bits, but 1 (BINARY) for LABELS <= 2.
// Architecture: a sorted list of K (value, index) entries, kept by a 4-stage pipeline that
// takes one beat per cycle:
//   1. the beat is registered with the pairwise order of its PE values (before[p][q]: value q
//      goes before value p: greater, or equal and a lower index);
//   2. each value's rank within the beat, rank(p) = popcount(before[p]);
//   3. the beat's own top KT = min(K, PE) entries, sorted: value p goes to slot rank(p);
//   4. merge of two sorted lists (the list and the beat's top KT; list entries have the lower
//      indices, so a beat entry goes first only when strictly greater): every candidate's
//      rank is its own position plus the number of the other list's entries before it, and
//      list slot j takes the candidate of rank j. Only this stage is in the list's feedback
//      loop: its path is one comparison, a KT- or K-term count and a 2K-input select, however
//      wide the beat (PE = all labels: the comparisons of a whole beat are stages 1-3's).
// At the last beat of a vector the K indices move to an output buffer, which is emitted one
// index per cycle while the next vector is merged; a last beat that finds the buffer busy
// holds the whole pipeline.
// Throughput: max(LABELS/PE, K) cycles per vector (FINN's get_exp_cycles says LABELS/PE,
// which ignores the K output beats of one index each). Latency: without stalls, index j of
// a vector can be taken at the (5+j)-th clock edge after the edge that took its last beat.
// Output FIFO with credit-based issue: any TREADY pattern is safe.
module label_select #(
    parameter int LABELS = 10,
    parameter int PE = 1,
    parameter int K = 1,
    parameter int BITS = 8,
    parameter int SIGNED = 1,
    parameter int IDX_BITS = (LABELS <= 2) ? 1 : (($clog2(LABELS) + 7) / 8) * 8,
    parameter int IN_WIDTH = ((PE * BITS + 7) / 8) * 8,  // AXI-Stream TDATA widths (bytes)
    parameter int OUT_WIDTH = ((IDX_BITS + 7) / 8) * 8
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
  localparam int NB = LABELS / PE;  // beats per vector
  localparam int BW = (NB > 1) ? $clog2(NB) : 1;
  localparam int IW = (LABELS > 1) ? $clog2(LABELS) : 1;  // label index bits
  localparam int KW = (K > 1) ? $clog2(K) : 1;
  localparam int KT = (K < PE) ? K : PE;  // entries of a beat's own sorted list
  localparam int RBW = $clog2(PE + 1);  // rank bits within a beat
  localparam int RKW = $clog2(K + KT + 1);  // rank bits of the merge
  localparam int FIFO_DEPTH = 4;

  logic en;  // the pipeline advances (held only by a last beat that finds the output buffer busy)
  logic [BW-1:0] beat;
  logic first, last, in_fire;
  assign first = (beat == '0);
  assign last  = (beat == BW'(NB - 1));

  // --- stage 1: the beat and the pairwise order of its values -------------------------------
  logic signed [BITS:0] n_val[PE];
  logic [PE-1:0] before_in[PE];
  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      logic [BITS-1:0] raw;
      assign raw = in0_V_TDATA[p*BITS+:BITS];
      assign n_val[p] = $signed({(SIGNED != 0) && raw[BITS-1], raw});
    end
  endgenerate
  always_comb begin
    for (int p = 0; p < PE; p++) begin
      for (int q = 0; q < PE; q++) begin
        if (q < p) before_in[p][q] = n_val[q] >= n_val[p];
        else if (q > p) before_in[p][q] = n_val[q] > n_val[p];
        else before_in[p][q] = 1'b0;
      end
    end
  end

  logic s1_valid, s1_first, s1_last;
  logic [BW-1:0] s1_beat;
  logic signed [BITS:0] s1_val[PE];
  logic [PE-1:0] s1_before[PE];
  always_ff @(posedge ap_clk) begin
    if (en) begin
      for (int p = 0; p < PE; p++) begin  // element by element: Debian's yosys takes no array copies
        s1_val[p] <= n_val[p];
        s1_before[p] <= before_in[p];
      end
      s1_first <= first;
      s1_last <= last;
      s1_beat <= beat;
    end
  end

  // --- stage 2: each value's rank within the beat -------------------------------------------
  logic [RBW-1:0] rank_c[PE];
  always_comb begin
    for (int p = 0; p < PE; p++) begin
      rank_c[p] = '0;
      for (int q = 0; q < PE; q++) rank_c[p] = rank_c[p] + RBW'(s1_before[p][q]);
    end
  end

  logic r_valid, r_first, r_last;
  logic [BW-1:0] r_beat;
  logic signed [BITS:0] r_val[PE];
  logic [RBW-1:0] rank_b[PE];
  always_ff @(posedge ap_clk) begin
    if (en) begin
      for (int p = 0; p < PE; p++) begin
        r_val[p] <= s1_val[p];
        rank_b[p] <= rank_c[p];
      end
      r_first <= s1_first;
      r_last <= s1_last;
      r_beat <= s1_beat;
    end
  end

  // --- stage 3: the beat's top KT, sorted -----------------------------------------------------
  logic signed [BITS:0] t_val_c[KT];
  logic [IW-1:0] t_idx_c[KT];
  always_comb begin
    for (int j = 0; j < KT; j++) begin
      t_val_c[j] = '0;
      t_idx_c[j] = '0;
      for (int p = 0; p < PE; p++) begin
        if (rank_b[p] == RBW'(j)) begin
          t_val_c[j] = t_val_c[j] | r_val[p];
          t_idx_c[j] = t_idx_c[j] | (IW'(r_beat) * IW'(PE) + IW'(p));
        end
      end
    end
  end

  logic s2_valid, s2_first, s2_last;
  logic signed [BITS:0] t_val[KT];
  logic [IW-1:0] t_idx[KT];
  always_ff @(posedge ap_clk) begin
    if (en) begin
      for (int j = 0; j < KT; j++) begin
        t_val[j] <= t_val_c[j];
        t_idx[j] <= t_idx_c[j];
      end
      s2_first <= r_first;
      s2_last <= r_last;
    end
  end

  // --- stage 4: merge into the sorted list (value descending, equal values: lower index first)
  logic signed [BITS:0] l_val[K];
  logic [IW-1:0] l_idx[K];
  logic [K-1:0] l_ok;  // valid entries form a prefix of the list
  // t_wins[j][i]: beat entry j goes before list entry i (list entries have lower indices)
  logic [K-1:0] t_wins[KT];
  logic [RKW-1:0] rank_l[K], rank_t[KT];
  logic signed [BITS:0] m_val[K];
  logic [IW-1:0] m_idx[K];
  logic [K-1:0] m_ok;

  always_comb begin
    for (int j = 0; j < KT; j++)
      for (int i = 0; i < K; i++) t_wins[j][i] = s2_first || !l_ok[i] || (t_val[j] > l_val[i]);
    // rank = own position + the other list's entries before it (a permutation of 0..K+KT-1)
    for (int i = 0; i < K; i++) begin
      rank_l[i] = RKW'(i);
      for (int j = 0; j < KT; j++) rank_l[i] = rank_l[i] + RKW'(t_wins[j][i]);
    end
    for (int j = 0; j < KT; j++) begin
      rank_t[j] = RKW'(j);
      for (int i = 0; i < K; i++) rank_t[j] = rank_t[j] + RKW'(!t_wins[j][i]);
    end
    // merged list: slot j takes the candidate of rank j (a list entry only moves down)
    for (int j = 0; j < K; j++) begin
      m_val[j] = '0;
      m_idx[j] = '0;
      m_ok[j]  = 1'b0;
      for (int i = 0; i <= j; i++) begin
        if (rank_l[i] == RKW'(j)) begin
          m_val[j] = m_val[j] | l_val[i];
          m_idx[j] = m_idx[j] | l_idx[i];
          m_ok[j]  = m_ok[j] | (l_ok[i] && !s2_first);
        end
      end
      for (int t = 0; t < KT; t++) begin
        if (rank_t[t] == RKW'(j)) begin
          m_val[j] = m_val[j] | t_val[t];
          m_idx[j] = m_idx[j] | t_idx[t];
          m_ok[j]  = 1'b1;
        end
      end
    end
  end

  // --- output buffer: the K indices of the last finished vector ---------------------------
  logic [IW-1:0] h_idx[K];
  logic h_busy, issue, issue_last, h_free, merge;
  logic [KW-1:0] h_ptr;
  logic room;
  assign issue = h_busy && room;  // pushes in the same cycle: room, no credits in flight
  assign issue_last = issue && (h_ptr == KW'(K - 1));
  assign h_free = !h_busy || issue_last;
  // the last beat of a vector needs the output buffer
  assign en = !(s2_valid && s2_last && !h_free);
  assign merge = s2_valid && en;
  assign in0_V_TREADY = ap_rst_n && en;
  assign in_fire = in0_V_TVALID && in0_V_TREADY;

  always_ff @(posedge ap_clk) begin
    if (merge) begin
      for (int j = 0; j < K; j++) begin
        l_val[j] <= m_val[j];
        l_idx[j] <= m_idx[j];
      end
      l_ok <= m_ok;
    end
    if (merge && s2_last) for (int j = 0; j < K; j++) h_idx[j] <= m_idx[j];
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      beat <= '0;
      s1_valid <= 1'b0;
      r_valid <= 1'b0;
      s2_valid <= 1'b0;
      h_busy <= 1'b0;
      h_ptr <= '0;
    end else begin
      if (in_fire) beat <= last ? '0 : beat + 1'b1;
      if (en) begin
        s1_valid <= in_fire;
        r_valid <= s1_valid;
        s2_valid <= r_valid;
      end
      if (merge && s2_last) begin
        h_busy <= 1'b1;
        h_ptr  <= '0;
      end else if (issue) begin
        if (issue_last) h_busy <= 1'b0;
        h_ptr <= issue_last ? '0 : h_ptr + 1'b1;
      end
    end
  end

  stream_out_fifo #(
      .WIDTH(IDX_BITS),
      .OUT_WIDTH(OUT_WIDTH),
      .DEPTH(FIFO_DEPTH),
      .LATENCY(0)  // pushes in the cycle of `can_issue`
  ) out_fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .issue(1'b0),
      .can_issue(room),
      .in_valid(issue),
      .in_data(IDX_BITS'(h_idx[h_ptr])),
      .out_TDATA(out0_V_TDATA),
      .out_TVALID(out0_V_TVALID),
      .out_TREADY(out0_V_TREADY)
  );
endmodule
