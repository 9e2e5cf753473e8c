// bnnforge tests: slice (+1) -> FIFO -> throttle (~), FINN stitched-IP port names.
// With BNNFORGE_TAPS defined, the two inner edges are output ports (taps) and the
// FIFO occupancy is a counter port either way. Output beat = ~(input beat + 1).
module hx_top #(
    parameter int W = 72,
    parameter int DEPTH = 8,
    parameter int II = 1,
    parameter int STOP_AFTER = 0,
    parameter bit DROP = 1'b0
) (
    input  logic                       ap_clk,
    input  logic                       ap_rst_n,
    input  logic [              W-1:0] s_axis_0_tdata,
    input  logic                       s_axis_0_tvalid,
    output logic                       s_axis_0_tready,
    output logic [              W-1:0] m_axis_0_tdata,
    output logic                       m_axis_0_tvalid,
    input  logic                       m_axis_0_tready,
`ifdef BNNFORGE_TAPS
    output logic [              W-1:0] slice_out_tdata,
    output logic                       slice_out_tvalid,
    output logic                       slice_out_tready,
    output logic [              W-1:0] fifo_out_tdata,
    output logic                       fifo_out_tvalid,
    output logic                       fifo_out_tready,
`endif
    output logic [$clog2(DEPTH+1)-1:0] fifo_count
);
  logic [W-1:0] a_data, f_data;
  logic a_valid, a_ready, f_valid, f_ready;

  hx_slice #(
      .W(W),
      .DROP(DROP)
  ) slice (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .in_tdata(s_axis_0_tdata),
      .in_tvalid(s_axis_0_tvalid),
      .in_tready(s_axis_0_tready),
      .out_tdata(a_data),
      .out_tvalid(a_valid),
      .out_tready(a_ready)
  );
  hx_fifo #(
      .W(W),
      .DEPTH(DEPTH)
  ) fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .in_tdata(a_data),
      .in_tvalid(a_valid),
      .in_tready(a_ready),
      .out_tdata(f_data),
      .out_tvalid(f_valid),
      .out_tready(f_ready),
      .count(fifo_count)
  );
  hx_throttle #(
      .W(W),
      .II(II),
      .STOP_AFTER(STOP_AFTER)
  ) throttle (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .in_tdata(f_data),
      .in_tvalid(f_valid),
      .in_tready(f_ready),
      .out_tdata(m_axis_0_tdata),
      .out_tvalid(m_axis_0_tvalid),
      .out_tready(m_axis_0_tready)
  );
`ifdef BNNFORGE_TAPS
  assign slice_out_tdata = a_data;
  assign slice_out_tvalid = a_valid;
  assign slice_out_tready = a_ready;
  assign fifo_out_tdata = f_data;
  assign fifo_out_tvalid = f_valid;
  assign fifo_out_tready = f_ready;
`endif
endmodule
