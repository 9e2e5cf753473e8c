// bnnforge tests: small AXI-Stream stages for the compiled harness tests (tests/test_harness.py).

// Register slice computing data + 1 (mod 2^W). With DROP=1 it is broken on purpose:
// always ready, a new beat overwrites a held one that the consumer has not taken yet.
module hx_slice #(
    parameter int W = 8,
    parameter bit DROP = 1'b0
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic [W-1:0] in_tdata,
    input  logic         in_tvalid,
    output logic         in_tready,
    output logic [W-1:0] out_tdata,
    output logic         out_tvalid,
    input  logic         out_tready
);
  assign in_tready = DROP ? 1'b1 : (!out_tvalid || out_tready);
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      out_tvalid <= 1'b0;
      out_tdata  <= '0;
    end else if (in_tready) begin
      if (in_tvalid) begin
        out_tvalid <= 1'b1;
        out_tdata  <= in_tdata + W'(1);
      end else if (out_tready) begin
        out_tvalid <= 1'b0;
      end
    end
  end
endmodule

// FIFO of DEPTH beats (a power of two) with its occupancy as an output.
module hx_fifo #(
    parameter int W = 8,
    parameter int DEPTH = 8
) (
    input  logic                       clk,
    input  logic                       rst_n,
    input  logic [              W-1:0] in_tdata,
    input  logic                       in_tvalid,
    output logic                       in_tready,
    output logic [              W-1:0] out_tdata,
    output logic                       out_tvalid,
    input  logic                       out_tready,
    output logic [$clog2(DEPTH+1)-1:0] count
);
  localparam int PW = $clog2(DEPTH);
  localparam int CW = $clog2(DEPTH + 1);
  logic [W-1:0] mem[DEPTH];
  logic [PW-1:0] wr_ptr, rd_ptr;
  logic push, pop;
  assign in_tready = count != CW'(DEPTH);
  assign out_tvalid = count != '0;
  assign out_tdata = mem[rd_ptr];
  assign push = in_tvalid && in_tready;
  assign pop = out_tvalid && out_tready;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      count  <= '0;
    end else begin
      if (push) begin
        mem[wr_ptr] <= in_tdata;
        wr_ptr <= wr_ptr + 1'b1;
      end
      if (pop) rd_ptr <= rd_ptr + 1'b1;
      count <= count + CW'(push) - CW'(pop);
    end
  end
endmodule

// Register slice computing ~data, taking at most one beat every II cycles. With
// STOP_AFTER > 0 it never takes another beat after that many (a deadlock on purpose).
module hx_throttle #(
    parameter int W = 8,
    parameter int II = 1,
    parameter int STOP_AFTER = 0
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic [W-1:0] in_tdata,
    input  logic         in_tvalid,
    output logic         in_tready,
    output logic [W-1:0] out_tdata,
    output logic         out_tvalid,
    input  logic         out_tready
);
  logic [15:0] wait_cnt;
  logic [31:0] taken;
  logic stopped, fire;
  assign stopped = (STOP_AFTER != 0) && (taken >= 32'(STOP_AFTER));
  assign in_tready = (wait_cnt == '0) && !stopped && (!out_tvalid || out_tready);
  assign fire = in_tvalid && in_tready;
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      out_tvalid <= 1'b0;
      out_tdata <= '0;
      wait_cnt <= '0;
      taken <= '0;
    end else begin
      if (fire) begin
        out_tvalid <= 1'b1;
        out_tdata <= ~in_tdata;
        wait_cnt <= 16'(II - 1);
        taken <= taken + 1'b1;
      end else begin
        if (out_tready) out_tvalid <= 1'b0;
        if (wait_cnt != '0) wait_cnt <= wait_cnt - 1'b1;
      end
    end
  end
endmodule
