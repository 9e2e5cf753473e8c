// bnnforge DMA: first-word-fall-through FIFO of bus words, one push and one pop per cycle.
//
// DEPTH words in a simple dual-port RAM (ram_sdp.sv: block RAM for the DMA's sizes) plus
// a two-word output stage that prefetches from the RAM's registered read port, so
// out_valid/out_data come from registers and a word can leave every cycle. in_ready is
// registered state (RAM not full); the engines never rely on it, they reserve room
// before asking the bus for data (reader) or count what the FIFO holds (writer).
// DEPTH: a power of two.
module dma_fifo #(
    parameter int WIDTH = 64,
    parameter int DEPTH = 512,
    parameter RAM_STYLE = "auto"
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic             in_valid,
    output logic             in_ready,
    input  logic [WIDTH-1:0] in_data,
    output logic             out_valid,
    input  logic             out_ready,
    output logic [WIDTH-1:0] out_data
);
  localparam int PW = $clog2(DEPTH);

  logic [PW:0] wr_ptr, rd_ptr;  // one wrap bit above the RAM address
  logic [WIDTH-1:0] rdata, q0, q1;
  logic [1:0] qn, base;  // words in the output stage; what stays of them after a pop
  logic rd_pend;  // a RAM read issued last cycle: its word arrives now
  logic push, pop, rd_en, ram_empty;

  assign ram_empty = wr_ptr == rd_ptr;
  assign in_ready = !(wr_ptr[PW] != rd_ptr[PW] && wr_ptr[PW-1:0] == rd_ptr[PW-1:0]);
  assign push = in_valid && in_ready;
  assign out_valid = qn != 2'd0;
  assign out_data = q0;
  assign pop = out_valid && out_ready;
  assign base = qn - 2'(pop);
  // read ahead while the stage keeps room for the word in flight (at most two held)
  assign rd_en = !ram_empty && (base + 2'(rd_pend)) <= 2'd1;

  ram_sdp #(
      .WIDTH(WIDTH),
      .DEPTH(DEPTH),
      .RAM_STYLE(RAM_STYLE)
  ) ram (
      .clk(clk),
      .we(push),
      .waddr(wr_ptr[PW-1:0]),
      .wdata(in_data),
      .raddr(rd_ptr[PW-1:0]),
      .rdata(rdata)
  );

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      qn <= '0;
      rd_pend <= 1'b0;
    end else begin
      if (push) wr_ptr <= wr_ptr + 1'b1;
      if (rd_en) rd_ptr <= rd_ptr + 1'b1;
      rd_pend <= rd_en;
      qn <= base + 2'(rd_pend);
    end
  end

  always_ff @(posedge clk) begin
    if (pop) q0 <= q1;
    if (rd_pend) begin
      if (base == 2'd0) q0 <= rdata;
      else q1 <= rdata;
    end
  end
endmodule
