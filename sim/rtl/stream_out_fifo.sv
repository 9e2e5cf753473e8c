// bnnforge: the output FIFO of every bnnforge core, with credit-based issue.
//
// A core raises `issue` when it starts work that will push one beat exactly LATENCY
// cycles later (`in_valid`), and may do so only while `can_issue` is high: the FIFO counts
// the beats it holds plus those in flight, so `in_valid` never finds it full and any TREADY
// pattern downstream is safe. Work that ends without a beat may simply not raise `issue`;
// a core without a pipeline leaves `issue` low and pushes while `can_issue` (room) is high.
// TVALID depends only on registered state. All counters are sized from the parameters.
module stream_out_fifo #(
    parameter int WIDTH = 1,
    parameter int OUT_WIDTH = 8,  // TDATA width (bytes)
    parameter int DEPTH = 4,  // a power of two, at least 2
    parameter int LATENCY = 1  // cycles from `issue` to the matching `in_valid` (at least 1)
) (
    input  logic                 clk,
    input  logic                 rst_n,
    input  logic                 issue,
    output logic                 can_issue,
    input  logic                 in_valid,
    input  logic [    WIDTH-1:0] in_data,
    output logic [OUT_WIDTH-1:0] out_TDATA,
    output logic                 out_TVALID,
    input  logic                 out_TREADY
);
  localparam int PW = $clog2(DEPTH);
  localparam int CW = $clog2(DEPTH + LATENCY + 1);  // holds held + in flight
  logic [WIDTH-1:0] mem[DEPTH];
  logic [PW-1:0] wr_ptr, rd_ptr;
  logic [CW-1:0] count, inflight;
  logic [LATENCY-1:0] pending;  // issued beats not yet pushed, newest in bit 0
  logic out_fire;

  always_comb begin
    inflight = '0;
    for (int i = 0; i < LATENCY; i++) inflight = inflight + CW'(pending[i]);
  end
  assign can_issue = rst_n && (count + inflight < CW'(DEPTH));
  assign out_fire = out_TVALID && out_TREADY;
  assign out_TVALID = count != '0;
  assign out_TDATA = OUT_WIDTH'(mem[rd_ptr]);

  generate
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
  endgenerate

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      count  <= '0;
    end else begin
      if (in_valid) begin
        mem[wr_ptr] <= in_data;
        wr_ptr <= wr_ptr + 1'b1;
      end
      if (out_fire) rd_ptr <= rd_ptr + 1'b1;
      count <= count + CW'(in_valid) - CW'(out_fire);
    end
  end
endmodule
