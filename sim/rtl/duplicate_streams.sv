// bnnforge: stream duplication, synthesizable SystemVerilog; computes exactly FINN's
// DuplicateStreams (every output gets every input beat, unchanged, in order).
//
// Streams (any element type; lane p in bits [p*BITS +: BITS]):
//   in0_V                  : PE x BITS, H*W*C/PE beats per frame (any beat count: the module
//                            has no notion of frames)
//   out0_V .. out<N_OUT-1>_V : PE x BITS, the same beats
// Ports: a fixed maximum of 4 outputs (out0_V .. out3_V). Outputs i >= N_OUT are tied
// off (TVALID = 0, TDATA = 0) and their TREADY is ignored; N_OUT = 2..4.
//
// Decoupling: each output has its own FIFO of FIFO_DEPTH beats (a power of two, >= 2).
// An input beat is taken when every used output FIFO has room and is written to all of
// them at once; each output then drains on its own TREADY. A stalled output therefore
// stops neither the input nor the other outputs until it lags FIFO_DEPTH beats behind
// them. This is slack, not deadlock protection: branches that re-join (e.g. a residual
// add) still need a FIFO on the short branch as deep as the long branch's latency (FINN's
// FIFO insertion / sizing provides it).
//
// Throughput: one beat per cycle (FIFO_DEPTH >= 2): H*W*C/PE cycles per frame
// (= FINN DuplicateStreams.get_exp_cycles). Latency: a beat can be taken from the outputs
// at the clock edge after the one that took it from in0_V. TREADY and TVALID are functions
// of registered state only.
module duplicate_streams #(
    parameter int PE = 1,
    parameter int BITS = 4,
    parameter int N_OUT = 2,  // FINN NumOutputStreams, 2..4
    parameter int FIFO_DEPTH = 2,  // beats of slack per output, a power of two >= 2
    parameter int WIDTH = ((PE * BITS + 7) / 8) * 8  // AXI-Stream TDATA width (bytes)
) (
    input  logic             ap_clk,
    input  logic             ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // AXI-Stream byte padding above PE*BITS
    input  logic [WIDTH-1:0] in0_V_TDATA,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic             in0_V_TVALID,
    output logic             in0_V_TREADY,
    output logic [WIDTH-1:0] out0_V_TDATA,
    output logic             out0_V_TVALID,
    input  logic             out0_V_TREADY,
    output logic [WIDTH-1:0] out1_V_TDATA,
    output logic             out1_V_TVALID,
    input  logic             out1_V_TREADY,
    output logic [WIDTH-1:0] out2_V_TDATA,
    output logic             out2_V_TVALID,
    input  logic             out2_V_TREADY,
    output logic [WIDTH-1:0] out3_V_TDATA,
    output logic             out3_V_TVALID,
    input  logic             out3_V_TREADY
);
  localparam int MAX_OUT = 4;
  localparam int XB = PE * BITS;

  logic [WIDTH-1:0] o_data[MAX_OUT];
  logic [MAX_OUT-1:0] o_valid, room;
  /* verilator lint_off UNUSEDSIGNAL */  // TREADY of an unused output (index >= N_OUT) is ignored
  logic [MAX_OUT-1:0] o_ready;
  /* verilator lint_on UNUSEDSIGNAL */
  logic in_fire;

  assign o_ready = {out3_V_TREADY, out2_V_TREADY, out1_V_TREADY, out0_V_TREADY};
  assign {out3_V_TDATA, out2_V_TDATA, out1_V_TDATA, out0_V_TDATA} = {o_data[3], o_data[2], o_data[1], o_data[0]};
  assign {out3_V_TVALID, out2_V_TVALID, out1_V_TVALID, out0_V_TVALID} = o_valid;

  assign in0_V_TREADY = ap_rst_n && (&room);
  assign in_fire = in0_V_TVALID && in0_V_TREADY;

  generate
    for (genvar i = 0; i < MAX_OUT; i++) begin : g_out
      if (i < N_OUT) begin : g_used
        stream_out_fifo #(
            .WIDTH(XB),
            .OUT_WIDTH(WIDTH),
            .DEPTH(FIFO_DEPTH),
            .LATENCY(0)  // pushes in the cycle of `can_issue`
        ) fifo (
            .clk(ap_clk),
            .rst_n(ap_rst_n),
            .issue(1'b0),  // pushes in the same cycle: room, no credits in flight
            .can_issue(room[i]),
            .in_valid(in_fire),
            .in_data(in0_V_TDATA[XB-1:0]),
            .out_TDATA(o_data[i]),
            .out_TVALID(o_valid[i]),
            .out_TREADY(o_ready[i])
        );
      end else begin : g_unused
        assign room[i] = 1'b1;
        assign o_data[i] = '0;
        assign o_valid[i] = 1'b0;
      end
    end
  endgenerate
endmodule
