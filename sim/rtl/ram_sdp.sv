// bnnforge: simple dual-port RAM (one write port, one registered read port) in the memory
// style the node's estimate assumes. RAM_STYLE "block" / "distributed" become a literal
// ram_style attribute (a parameter's value reaches some frontends, slang, as bits); "auto"
// sets none and the tool decides.
module ram_sdp #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 16,
    parameter RAM_STYLE = "auto",
    parameter int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  logic             clk,
    input  logic             we,
    input  logic [   AW-1:0] waddr,
    input  logic [WIDTH-1:0] wdata,
    input  logic [   AW-1:0] raddr,
    output logic [WIDTH-1:0] rdata
);
  // "auto" first: the default's width, so lint compares equal widths
  generate
    if (RAM_STYLE == "auto") begin : g_auto
      logic [WIDTH-1:0] mem[DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata <= mem[raddr];
      end
    end else if (RAM_STYLE == "block") begin : g_block
      (* ram_style = "block" *) logic [WIDTH-1:0] mem[DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata <= mem[raddr];
      end
    end else begin : g_distributed
      (* ram_style = "distributed" *) logic [WIDTH-1:0] mem[DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata <= mem[raddr];
      end
    end
  endgenerate
endmodule
