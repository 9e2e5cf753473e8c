// bnnforge DMA: splits a transfer of bus beats into AXI4 INCR bursts (docs/SPEC.md, "DMA engines").
//
// The one place that knows the burst rules: a burst is at most MAX_BURST beats (<= 256)
// and never crosses a 4 KiB boundary; the address advances by the bytes of each burst.
// `load` starts a transfer of `load_beats` beats at `load_addr` (a multiple of
// BUS_BYTES); `addr`/`beats` describe the next burst while `pending`; `take` consumes it.
// Everything offered comes from registers (plus a few gates), so an engine can hold
// VALID with a stable payload however long the slave stalls.
module dma_burst #(
    parameter int ADDR_BITS = 64,
    parameter int BUS_BYTES = 8,
    parameter int MAX_BURST = 256,
    parameter int NB = 40  // width of the beat count
) (
    input  logic                 clk,
    input  logic                 rst_n,
    input  logic                 load,
    input  logic [ADDR_BITS-1:0] load_addr,
    input  logic [       NB-1:0] load_beats,
    input  logic                 take,
    output logic                 pending,
    output logic [ADDR_BITS-1:0] addr,
    output logic [          8:0] beats      // 1..MAX_BURST
);
  localparam int LB = $clog2(BUS_BYTES);
  localparam int PAGE_BEATS = 4096 / BUS_BYTES;

  logic [NB-1:0] left;
  logic [12:0] to_page, cap;

  // beats from addr to the next 4 KiB boundary (addr is a multiple of BUS_BYTES)
  assign to_page = 13'(PAGE_BEATS) - 13'(addr[11:LB]);
  assign cap = (to_page < 13'(MAX_BURST)) ? to_page : 13'(MAX_BURST);
  assign beats = (left < NB'(cap)) ? 9'(left) : 9'(cap);
  assign pending = left != '0;

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      left <= '0;
      addr <= '0;
    end else if (load) begin
      left <= load_beats;
      addr <= load_addr;
    end else if (take) begin
      left <= left - NB'(beats);
      addr <= addr + (ADDR_BITS'(beats) << LB);
    end
  end
endmodule
