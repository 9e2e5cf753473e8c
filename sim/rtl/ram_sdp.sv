// bnnforge: simple dual-port RAM (one write port, one registered read port) in the memory
// style the node's estimate assumes. RAM_STYLE "block" / "distributed" become a literal
// ram_style attribute (a parameter's value reaches some frontends, slang, as bits); "auto"
// sets none and the tool decides. rdata is the word at raddr of LATENCY clock edges ago (a
// write in the same cycle as the read is not seen: read first); LATENCY = 2 adds an output
// register (a block RAM's own, DO_REG, in Vivado), so that nothing but a route follows the
// block RAM's slow clock-to-out.
module ram_sdp #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 16,
    parameter RAM_STYLE = "auto",
    parameter int LATENCY = 1,  // 1 or 2
    parameter int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  logic             clk,
    input  logic             we,
    input  logic [   AW-1:0] waddr,
    input  logic [WIDTH-1:0] wdata,
    input  logic [   AW-1:0] raddr,
    output logic [WIDTH-1:0] rdata
);
  logic [WIDTH-1:0] q;  // the registered read
  // "auto" first: the default's width, so lint compares equal widths
  generate
    if (RAM_STYLE == "auto") begin : g_auto
      logic [WIDTH-1:0] mem[DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        q <= mem[raddr];
      end
    end else if (RAM_STYLE == "block") begin : g_block
      (* ram_style = "block" *) logic [WIDTH-1:0] mem[DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        q <= mem[raddr];
      end
    end else begin : g_distributed
      (* ram_style = "distributed" *) logic [WIDTH-1:0] mem[DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        q <= mem[raddr];
      end
    end
    if (LATENCY > 1) begin : g_out_reg
      always_ff @(posedge clk) rdata <= q;
    end else begin : g_no_out_reg
      assign rdata = q;
    end
  endgenerate
endmodule
