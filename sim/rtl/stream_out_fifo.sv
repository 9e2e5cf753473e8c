// bnnforge: output FIFO of the custom layers (AXI-Stream master side).
// The producer pushes without checking for room: it issues work only while
// count + beats in flight < DEPTH (credit), so any TREADY pattern is safe.
module stream_out_fifo #(
    parameter int WIDTH = 1,
    parameter int OUT_WIDTH = 8,  // TDATA width (bytes)
    parameter int DEPTH = 4  // a power of two
) (
    input  logic                       clk,
    input  logic                       rst_n,
    input  logic                       in_valid,
    input  logic [          WIDTH-1:0] in_data,
    output logic [      OUT_WIDTH-1:0] out_TDATA,
    output logic                       out_TVALID,
    input  logic                       out_TREADY,
    output logic [$clog2(DEPTH+1)-1:0] count
);
  localparam int PW = $clog2(DEPTH);
  localparam int CW = $clog2(DEPTH + 1);
  logic [WIDTH-1:0] mem[DEPTH];
  logic [PW-1:0] wr_ptr, rd_ptr;
  logic out_fire;
  assign out_fire = out_TVALID && out_TREADY;
  assign out_TVALID = count != 0;
  assign out_TDATA = OUT_WIDTH'(mem[rd_ptr]);

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
