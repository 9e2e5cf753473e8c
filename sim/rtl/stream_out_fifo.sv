// bnnforge: the two building blocks every bnnforge core ships with: stream_out_fifo, the
// output FIFO with credit-based issue, and pipe_tree, a pipelined adder tree (below).
//
// A core raises `issue` when it starts work that will push one beat exactly LATENCY cycles
// later (`in_valid`), and may do so only while `can_issue` is high: the FIFO counts credits,
// DEPTH minus the beats it holds and the beats issued but not yet pushed, so `in_valid`
// never finds it full and any TREADY pattern downstream is safe. Work that ends without a
// beat returns its credit LATENCY cycles after its issue (or may simply not raise `issue`).
// LATENCY = 0: no pipeline: the core pushes in the cycle it sees `can_issue` (room) and
// leaves `issue` low.
// Throughput: a credit comes back two cycles after the beat it paid for is pushed and taken
// at once, so one beat per cycle needs DEPTH >= LATENCY + 2.
// can_issue and TVALID are flip-flop outputs (no logic between them and the registers);
// can_issue is high during a reset too: a core gates its TREADY with ap_rst_n itself.
module stream_out_fifo #(
    parameter int WIDTH = 1,
    parameter int OUT_WIDTH = 8,  // TDATA width (bytes)
    parameter int DEPTH = 4,  // a power of two, at least 2
    parameter int LATENCY = 1  // cycles from `issue` to the matching `in_valid`; 0: no issue
) (
    input  logic                 clk,
    input  logic                 rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // unused with LATENCY = 0
    input  logic                 issue,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic                 can_issue,
    input  logic                 in_valid,
    input  logic [    WIDTH-1:0] in_data,
    output logic [OUT_WIDTH-1:0] out_TDATA,
    output logic                 out_TVALID,
    input  logic                 out_TREADY
);
  localparam int PW = $clog2(DEPTH);
  localparam int CW = $clog2(DEPTH + 1);  // holds 0..DEPTH
  logic [WIDTH-1:0] mem[DEPTH];
  logic [PW-1:0] wr_ptr, rd_ptr;
  logic [CW-1:0] count;  // beats held
  logic has_credit, nonempty, out_fire;

  assign can_issue = has_credit;
  assign out_fire = nonempty && out_TREADY;
  assign out_TVALID = nonempty;
  assign out_TDATA = OUT_WIDTH'(mem[rd_ptr]);

  generate
    if (LATENCY == 0) begin : g_direct
      // no beats in flight: the credits are DEPTH - count
      always_ff @(posedge clk) begin
        if (!rst_n) has_credit <= 1'b1;
        else has_credit <= (in_valid && !out_fire) ? count != CW'(DEPTH - 1) : (has_credit || out_fire);
      end
    end else begin : g_pending
      // an issue LATENCY cycles ago that pushed nothing gives its credit back
      logic [CW-1:0] credits;  // DEPTH - beats held - beats in flight
      logic back;
      logic [LATENCY-1:0] pending;  // issues of the last LATENCY cycles, the newest in bit 0
      if (LATENCY > 1) begin : g_shift
        always_ff @(posedge clk) begin
          if (!rst_n) pending <= '0;
          else pending <= {pending[LATENCY-2:0], issue};
        end
      end else begin : g_one
        always_ff @(posedge clk) begin
          if (!rst_n) pending <= '0;
          else pending <= issue;
        end
      end
      assign back = pending[LATENCY-1] && !in_valid;
      // credits != 0 after this edge without waiting for the adder: they go down by at most one
      always_ff @(posedge clk) begin
        if (!rst_n) begin
          credits <= CW'(DEPTH);
          has_credit <= 1'b1;
        end else begin
          credits <= credits - CW'(issue) + CW'(out_fire) + CW'(back);
          has_credit <= (issue && !out_fire && !back) ? credits != CW'(1) : (has_credit || out_fire || back);
        end
      end
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      count <= '0;
      nonempty <= 1'b0;
    end else begin
      if (in_valid) begin
        mem[wr_ptr] <= in_data;
        wr_ptr <= wr_ptr + 1'b1;
      end
      if (out_fire) rd_ptr <= rd_ptr + 1'b1;
      count <= count + CW'(in_valid) - CW'(out_fire);
      // count != 0 after this edge without waiting for the adder: it moves by at most one
      nonempty <= in_valid ? (nonempty || !out_fire) : (out_fire ? count != CW'(1) : nonempty);
    end
  end
endmodule

// pipe_tree: LANES sums of N values each (lane a's value i at leaves[(a*N+i)*IW +: IW]), as
// binary trees whose nodes grow by one bit per level up to OW bits, with a register after
// level FIRST (level 0: the leaves themselves) and after every LPS further levels; the valid
// bit (reset) and the tag move with the sums through the same registers. Sums are exact
// modulo 2^OW (two's complement if SIGNED, else unsigned).
/* verilator lint_off DECLFILENAME */  // shipped with every core in stream_out_fifo.sv
module pipe_tree #(
    /* verilator lint_on DECLFILENAME */
    parameter int LANES = 1,
    parameter int N = 2,
    parameter int IW = 1,
    parameter int OW = 2,
    parameter bit SIGNED = 1'b0,
    parameter int FIRST = 1,
    parameter int LPS = 2,
    parameter int TW = 1
) (
    /* verilator lint_off UNUSEDSIGNAL */  // a tree without registers (FIRST > its levels)
    input  logic                  clk,
    input  logic                  rst_n,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                  valid_in,
    input  logic [        TW-1:0] tag_in,
    input  logic [LANES*N*IW-1:0] leaves,
    output logic                  valid_out,
    output logic [        TW-1:0] tag_out,
    output logic [  LANES*OW-1:0] sums
);
  localparam int LV = (N > 1) ? $clog2(N) : 0;  // adder levels
  localparam int MW = (OW > IW) ? OW : IW;  // the widest node

  function automatic int nodes(int l);  // nodes of level l (an odd one is carried up)
    nodes = (N + (1 << l) - 1) >> l;
  endfunction
  function automatic int width(int l);
    width = (IW + l < MW) ? IW + l : MW;
  endfunction

  generate
    for (genvar l = 0; l <= LV; l++) begin : g_lvl
      localparam int NN = nodes(l);
      localparam int W = width(l);
      logic [LANES*NN*W-1:0] d, q;  // the level's sums before and after its register
      logic [TW-1:0] td, tq;
      logic vd, vq;
      if (l == 0) begin : g_leaves
        assign d  = leaves;
        assign td = tag_in;
        assign vd = valid_in;
      end else begin : g_sum
        localparam int PN = nodes(l - 1);
        localparam int PWD = width(l - 1);
        assign td = g_lvl[l-1].tq;
        assign vd = g_lvl[l-1].vq;
        for (genvar a = 0; a < LANES; a++) begin : g_lane
          for (genvar i = 0; i < NN; i++) begin : g_node
            logic [PWD-1:0] x0, x1;
            logic [W-1:0] y0, y1;
            assign x0 = g_lvl[l-1].q[(a*PN+2*i)*PWD+:PWD];
            if (2 * i + 1 < PN) begin : g_pair
              assign x1 = g_lvl[l-1].q[(a*PN+2*i+1)*PWD+:PWD];
            end else begin : g_single
              assign x1 = '0;
            end
            if (SIGNED) begin : g_s
              assign y0 = W'($signed(x0));
              assign y1 = W'($signed(x1));
            end else begin : g_u
              assign y0 = W'(x0);
              assign y1 = W'(x1);
            end
            assign d[(a*NN+i)*W+:W] = y0 + y1;
          end
        end
      end
      if (l >= FIRST && (l - FIRST) % LPS == 0) begin : g_reg
        // the valid bit and the tag are reset (so they do not become slow SRL shift registers)
        always_ff @(posedge clk) begin
          if (!rst_n) begin
            vq <= 1'b0;
            tq <= '0;
          end else begin
            vq <= vd;
            tq <= td;
          end
          q <= d;
        end
      end else begin : g_wire
        assign vq = vd;
        assign tq = td;
        assign q  = d;
      end
    end
  endgenerate

  localparam int RW = width(LV);
  assign valid_out = g_lvl[LV].vq;
  assign tag_out = g_lvl[LV].tq;
  generate
    for (genvar a = 0; a < LANES; a++) begin : g_out
      /* verilator lint_off UNUSEDSIGNAL */  // bits above OW when the leaves are wider
      logic [RW-1:0] r;
      /* verilator lint_on UNUSEDSIGNAL */
      assign r = g_lvl[LV].q[a*RW+:RW];
      if (SIGNED) begin : g_s
        assign sums[a*OW+:OW] = OW'($signed(r));
      end else begin : g_u
        assign sums[a*OW+:OW] = OW'(r);
      end
    end
  endgenerate
endmodule
