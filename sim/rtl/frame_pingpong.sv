// bnnforge: the control of a frame-buffered layer whose per-frame parameters depend on the
// whole frame (DyBNN's dynamic threshold and dynamic RPReLU: the hyper branch pools the frame).
//
// Two frame buffers (N words each) and two parameter buffers (FOLD words each), ping-pong: the
// next frame (stream f) and its parameters (stream p) are written while the reader issues the
// buffered frame, one word per `issue`, in order, each paired with its parameter word
// (word i of a frame with parameter word i mod FOLD). Frame k is always paired with parameter
// set k. Buffer b's word i is at address b*N + i (b*FOLD + i), so both memories of a layer
// are one array each.
//
// Timing: every address is a register (a counter that wraps at the end of both buffers), and
// the ends of frames and parameter sets are registered compares of the counters (`*_last`),
// so no adder or wide compare sits between a buffer's full flags and the next issue; the
// full flags are one register each, set and cleared by their own enables.
module frame_pingpong #(
    parameter int N = 16,  // words per frame
    parameter int FOLD = 4,  // parameter words per frame (N is a multiple)
    parameter int FAW = $clog2(2 * N),  // frame buffer address width
    parameter int PAW = (FOLD > 1) ? $clog2(2 * FOLD) : 1,  // parameter buffer address width
    parameter int FW = (FOLD > 1) ? $clog2(FOLD) : 1
) (
    input  logic           clk,
    input  logic           rst_n,
    // frame writer: a word is written at f_addr in a cycle with f_we (= f_valid && f_ready)
    input  logic           f_valid,
    output logic           f_ready,
    output logic           f_we,
    output logic [FAW-1:0] f_addr,
    // parameter writer
    input  logic           p_valid,
    output logic           p_ready,
    output logic           p_we,
    output logic [PAW-1:0] p_addr,
    // reader: issue when both buffers of the frame are full and the consumer has room
    input  logic           can_issue,
    output logic           issue,
    output logic [FAW-1:0] rf_addr,  // the frame word issued
    output logic [PAW-1:0] rp_addr,  // its parameter word
    output logic [ FW-1:0] r_fold  // rp_addr within its buffer (a ROM address)
);
  localparam int NW = (N > 1) ? $clog2(N) : 1;

  logic f_wr, p_wr, rd;  // the buffer written / read
  logic [1:0] f_full, p_full;
  logic [NW-1:0] f_cnt, r_cnt;
  logic [FW-1:0] p_cnt;
  logic f_last, p_last, r_last;  // the counter is at its last word (registered compares)
  logic f_done, p_done, r_done;  // a buffer completed in this cycle
  logic r_fold_last;

  assign f_ready = rst_n && !f_full[f_wr];
  assign p_ready = rst_n && !p_full[p_wr];
  assign f_we = f_valid && f_ready;
  assign p_we = p_valid && p_ready;
  assign f_done = f_we && f_last;
  assign p_done = p_we && p_last;
  assign issue = rst_n && can_issue && (rd ? (f_full[1] && p_full[1]) : (f_full[0] && p_full[0]));
  assign r_done = issue && r_last;
  assign r_fold_last = r_fold == FW'(FOLD - 1);

  // full flags: set by the writer finishing buffer b, cleared by the reader finishing it
  // (never in the same cycle: the writer waits for an empty buffer, the reader for a full one)
  generate
    for (genvar b = 0; b < 2; b++) begin : g_buf
      always_ff @(posedge clk) begin
        if (!rst_n) begin
          f_full[b] <= 1'b0;
          p_full[b] <= 1'b0;
        end else begin
          if (f_done && f_wr == 1'(b)) f_full[b] <= 1'b1;
          else if (r_done && rd == 1'(b)) f_full[b] <= 1'b0;
          if (p_done && p_wr == 1'(b)) p_full[b] <= 1'b1;
          else if (r_done && rd == 1'(b)) p_full[b] <= 1'b0;
        end
      end
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      f_wr <= 1'b0;
      p_wr <= 1'b0;
      rd <= 1'b0;
      f_cnt <= '0;
      p_cnt <= '0;
      r_cnt <= '0;
      r_fold <= '0;
      f_last <= N == 1;
      p_last <= FOLD == 1;
      r_last <= N == 1;
      f_addr <= '0;
      p_addr <= '0;
      rf_addr <= '0;
      rp_addr <= '0;
    end else begin
      if (f_we) begin
        f_cnt <= f_last ? '0 : f_cnt + 1'b1;
        f_last <= N == 1 || (!f_last && f_cnt == NW'(N - 2));
        f_addr <= (f_done && f_wr) ? '0 : f_addr + 1'b1;
        if (f_last) f_wr <= !f_wr;
      end
      if (p_we) begin
        p_cnt <= p_last ? '0 : p_cnt + 1'b1;
        p_last <= FOLD == 1 || (!p_last && p_cnt == FW'(FOLD - 2));
        p_addr <= (p_done && p_wr) ? '0 : p_addr + 1'b1;
        if (p_last) p_wr <= !p_wr;
      end
      if (issue) begin
        r_cnt <= r_last ? '0 : r_cnt + 1'b1;
        r_last <= N == 1 || (!r_last && r_cnt == NW'(N - 2));
        r_fold <= r_fold_last ? '0 : r_fold + 1'b1;
        rf_addr <= (r_done && rd) ? '0 : rf_addr + 1'b1;
        // a frame ends at a fold's end: then the next word is word 0 of the next buffer
        if (r_fold_last) rp_addr <= (rd ^ r_last) ? PAW'(FOLD) : '0;
        else rp_addr <= rp_addr + 1'b1;
        if (r_last) rd <= !rd;
      end
    end
  end
endmodule
