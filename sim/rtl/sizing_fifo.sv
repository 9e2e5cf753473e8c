// bnnforge: a simulation-only stand-in for finn-rtllib's `fifo` (same name, parameters and
// ports) whose capacity is set when the simulation starts, so that FIFO sizing
// (finn_flow/rtl/sizing.py) compiles the stitched design once and tries many depths.
//
// Built with DEPTH = the most the sizing will try; the plusarg
//   +fifo_limit:<hierarchical instance name>=<depth>     (2 <= depth <= DEPTH)
// sets this instance's capacity (default DEPTH); +fifo_limit_required makes a missing one
// fatal (a mistyped name would otherwise size nothing). Timing as finn-rtllib's distributed
// FIFO: depth - 1 words of memory and an output register; a word written at one clock edge
// reaches the output register at the next (two edges from TVALID to the output's TVALID).
// The sized design is checked again with the real finn-rtllib FIFOs (whose implemented
// capacity may exceed the depth asked for).
/* verilator lint_off DECLFILENAME */  // stands in for finn-rtllib's fifo.sv
module fifo #(
    /* verilator lint_on DECLFILENAME */
    int unsigned DEPTH = 2,
    int unsigned DATA_WIDTH = 1,
    /* verilator lint_off UNUSEDPARAM */  // the memory style of the real FIFO: no timing meaning here
    parameter RAM_STYLE = "auto"
    /* verilator lint_on UNUSEDPARAM */
) (
    input logic clk,
    input logic rst,

    input  logic [DATA_WIDTH-1:0] idat,
    input  logic                  ivld,
    output logic                  irdy,

    output logic [DATA_WIDTH-1:0] odat,
    output logic                  ovld,
    input  logic                  ordy,

    output logic [$clog2(DEPTH+1):0] count,
    output logic [$clog2(DEPTH+1):0] maxcount
);
  localparam int CW = $clog2(DEPTH + 1) + 1;
  localparam int AW = (DEPTH > 2) ? $clog2(DEPTH - 1) : 1;

  int unsigned limit = DEPTH;
  int unsigned asked;
  initial begin
    if ($value$plusargs($sformatf("fifo_limit:%m=%%d"), asked)) begin
      if (asked < 2 || asked > DEPTH) begin
        $display("%m: +fifo_limit %0d outside 2..%0d", asked, DEPTH);
        $fatal(1);
      end
      limit = asked;
    end else if ($test$plusargs("fifo_limit_required")) begin
      $display("%m: no +fifo_limit:%m=<depth> given");
      $fatal(1);
    end
  end

  logic [DATA_WIDTH-1:0] mem[DEPTH-1];
  logic [AW-1:0] wr_ptr, rd_ptr;
  logic [CW-1:0] held, held_next;  // words in the memory (not counting the output register)
  logic [CW-1:0] peak, count_next;
  logic vld, vld_next;
  logic [DATA_WIDTH-1:0] b;
  logic we, drain, bload;

  assign irdy = 32'(held) < limit - 1;
  assign we = irdy && ivld;
  assign bload = !vld || ordy;
  assign drain = held != 0 && bload;
  assign held_next = held + CW'(we) - CW'(drain);
  assign vld_next = bload ? drain : vld;
  assign count_next = held_next + CW'(vld_next);  // the words held after this edge, as finn-rtllib counts
  assign odat = b;
  assign ovld = vld;
  assign count = held + CW'(vld);
  assign maxcount = peak;

  function automatic logic [AW-1:0] next(logic [AW-1:0] p);
    return (32'(p) == DEPTH - 2) ? '0 : p + 1'b1;
  endfunction

  always_ff @(posedge clk) begin
    if (rst) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      held <= '0;
      vld <= 1'b0;
      peak <= '0;
    end else begin
      if (we) begin
        mem[wr_ptr] <= idat;
        wr_ptr <= next(wr_ptr);
      end
      if (drain) rd_ptr <= next(rd_ptr);
      held <= held_next;
      vld <= vld_next;
      if (bload) b <= mem[rd_ptr];
      if (count_next > peak) peak <= count_next;
    end
  end
endmodule
