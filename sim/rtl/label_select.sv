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
// Architecture: a sorted list of K (value, index) entries. Each beat merges its PE values
// in one cycle: every candidate (K list entries, PE new values) gets its rank from
// pairwise comparisons, and list slot j takes the candidate of rank j. At the last beat of
// a vector the K indices move to an output buffer, which is emitted one index per cycle
// while the next vector is merged.
// Throughput: max(LABELS/PE, K) cycles per vector (FINN's get_exp_cycles says LABELS/PE,
// which ignores the K output beats of one index each). Latency: without stalls, index j of
// a vector can be taken at the (2+j)-th clock edge after the edge that took its last beat.
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
  localparam int RKW = $clog2(K + PE + 1);  // rank bits
  localparam int FIFO_DEPTH = 4;

  logic [BW-1:0] beat;
  logic first, last, in_fire;
  assign first = (beat == '0);
  assign last  = (beat == BW'(NB - 1));

  // --- sorted list (value descending, equal values: lower index first) -----------------
  logic signed [BITS:0] l_val[K];
  logic [IW-1:0] l_idx[K];
  logic [K-1:0] l_ok;  // valid entries form a prefix of the list

  // --- candidates of this beat ------------------------------------------------------------
  logic signed [BITS:0] n_val[PE];
  logic [IW-1:0] n_idx[PE];
  generate
    for (genvar p = 0; p < PE; p++) begin : g_lane
      logic [BITS-1:0] raw;
      assign raw = in0_V_TDATA[p*BITS+:BITS];
      assign n_val[p] = $signed({(SIGNED != 0) && raw[BITS-1], raw});
      assign n_idx[p] = IW'(beat) * IW'(PE) + IW'(p);
    end
  endgenerate

  // lane_wins[p][i]: new value p goes before list entry i (list entries have lower indices)
  logic [K-1:0] lane_wins[PE];
  // lane_before[p][q]: new value q goes before new value p
  logic [PE-1:0] lane_before[PE];
  logic [RKW-1:0] rank_l[K], rank_n[PE];
  logic signed [BITS:0] m_val[K];
  logic [IW-1:0] m_idx[K];
  logic [K-1:0] m_ok;

  always_comb begin
    for (int p = 0; p < PE; p++) begin
      for (int i = 0; i < K; i++) lane_wins[p][i] = first || !l_ok[i] || (n_val[p] > l_val[i]);
      for (int q = 0; q < PE; q++) begin
        if (q < p) lane_before[p][q] = n_val[q] >= n_val[p];
        else if (q > p) lane_before[p][q] = n_val[q] > n_val[p];
        else lane_before[p][q] = 1'b0;
      end
    end
    // rank = number of candidates that go before this one (a permutation of 0..K+PE-1)
    for (int i = 0; i < K; i++) begin
      rank_l[i] = RKW'(i);
      for (int p = 0; p < PE; p++) rank_l[i] = rank_l[i] + RKW'(lane_wins[p][i]);
    end
    for (int p = 0; p < PE; p++) begin
      rank_n[p] = '0;
      for (int i = 0; i < K; i++) rank_n[p] = rank_n[p] + RKW'(!lane_wins[p][i]);
      for (int q = 0; q < PE; q++) rank_n[p] = rank_n[p] + RKW'(lane_before[p][q]);
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
          m_ok[j]  = m_ok[j] | (l_ok[i] && !first);
        end
      end
      for (int p = 0; p < PE; p++) begin
        if (rank_n[p] == RKW'(j)) begin
          m_val[j] = m_val[j] | n_val[p];
          m_idx[j] = m_idx[j] | n_idx[p];
          m_ok[j]  = 1'b1;
        end
      end
    end
  end

  // --- output buffer: the K indices of the last finished vector ---------------------------
  logic [IW-1:0] h_idx[K];
  logic h_busy, issue, issue_last, h_free;
  logic [KW-1:0] h_ptr;
  logic room;
  assign issue = h_busy && room;  // pushes in the same cycle: room, no credits in flight
  assign issue_last = issue && (h_ptr == KW'(K - 1));
  assign h_free = !h_busy || issue_last;
  // the last beat of a vector needs the output buffer
  assign in0_V_TREADY = ap_rst_n && (!last || h_free);
  assign in_fire = in0_V_TVALID && in0_V_TREADY;

  always_ff @(posedge ap_clk) begin
    if (in_fire) begin
      for (int j = 0; j < K; j++) begin
        l_val[j] <= m_val[j];
        l_idx[j] <= m_idx[j];
      end
      l_ok <= m_ok;
    end
    if (in_fire && last) for (int j = 0; j < K; j++) h_idx[j] <= m_idx[j];
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      beat <= '0;
      h_busy <= 1'b0;
      h_ptr <= '0;
    end else begin
      if (in_fire) beat <= last ? '0 : beat + 1'b1;
      if (in_fire && last) begin
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
