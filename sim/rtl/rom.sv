// bnnforge: ROM ($readmemh file, one word per line, hex) with a registered read, in the
// memory style the node's estimate assumes: the weight and threshold ROMs of the MVAU and
// VVAU (mvau.sv, vvau.sv, dot_threshold.sv). ROM_STYLE "block" / "distributed" become
// literal rom_style and ram_style attributes (a parameter's value reaches some frontends,
// slang, as bits); "auto" sets none and the tool decides. rdata is the word at the address
// of LATENCY clock edges ago (block RAM and LUT ROM alike): LATENCY = 2 adds an output
// register (a block RAM's own, DO_REG, in Vivado), so that nothing but a route follows the
// block RAM's slow clock-to-out (2.45 ns on 7-series -1).
module rom #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 16,
    parameter FILE = "",
    parameter ROM_STYLE = "auto",
    parameter int LATENCY = 1,  // 1 or 2
    parameter int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  logic             clk,
    input  logic [   AW-1:0] addr,
    output logic [WIDTH-1:0] rdata
);
  logic [WIDTH-1:0] q;  // the registered read
  // "auto" first: the default's width, so lint compares equal widths
  generate
    if (ROM_STYLE == "auto") begin : g_auto
      logic [WIDTH-1:0] mem[DEPTH];
      initial if (FILE != "") $readmemh(FILE, mem);
      always_ff @(posedge clk) q <= mem[addr];
    end else if (ROM_STYLE == "block") begin : g_block
      (* rom_style = "block", ram_style = "block" *) logic [WIDTH-1:0] mem[DEPTH];
      initial if (FILE != "") $readmemh(FILE, mem);
      always_ff @(posedge clk) q <= mem[addr];
    end else begin : g_distributed
      (* rom_style = "distributed", ram_style = "distributed" *) logic [WIDTH-1:0] mem[DEPTH];
      initial if (FILE != "") $readmemh(FILE, mem);
      always_ff @(posedge clk) q <= mem[addr];
    end
    if (LATENCY > 1) begin : g_out_reg
      always_ff @(posedge clk) rdata <= q;
    end else begin : g_no_out_reg
      assign rdata = q;
    end
  endgenerate
endmodule
