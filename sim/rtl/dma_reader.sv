// bnnforge DMA: memory-to-stream engine, FINN's IODMA (idma) role (docs/SPEC.md, "DMA engines").
//
// Reads frames * FRAME_BEATS * TDATA_BITS/8 contiguous bytes from the buffer address
// (a multiple of BUS_BITS/8) over an AXI4 master and emits them as FRAME_BEATS stream
// beats per frame on m_axis, frames back to back: the bytes the deploy driver packs.
// Control: AXI4-Lite, FINN IODMA register map (dma_ctrl.sv); done = the last beat left on
// the stream.
//
// - AR: INCR bursts of up to MAX_BURST beats, never across 4 KiB (dma_burst.sv), issued
//   ahead up to MAX_OUTSTANDING bursts, each only when the read-data FIFO has room
//   reserved for all its beats: RREADY never has to drop (the memory's latency is hidden
//   by FIFO_DEPTH beats of requests in flight).
// - R -> FIFO (FIFO_DEPTH bus words, block RAM) -> byte gearbox -> m_axis.
// - The last bus beat may hold bytes past the transfer (up to BUS_BYTES-1, in the same
//   bus word, so never in another page); they are read and dropped.
module dma_reader #(
    parameter int BUS_BITS = 64,  // m_axi data width: PYNQ-Z2 HP 64, ZCU104 HP 128
    parameter int ADDR_BITS = 64,  // m_axi address width (32..64; ZCU104 HP: 49)
    parameter int TDATA_BITS = 8,  // m_axis_tdata width, whole bytes
    parameter int FRAME_BEATS = 1,  // stream beats per frame
    parameter int MAX_BURST = 256,  // beats per burst (1..256)
    parameter int MAX_OUTSTANDING = 8,  // bursts in flight
    parameter int FIFO_DEPTH = 512,  // read-data FIFO (bus words, a power of two >= MAX_BURST)
    parameter RAM_STYLE = "auto",  // the FIFO's memory (ram_sdp.sv)
    parameter int ID_BITS = 1,
    parameter int CTRL_ADDR_BITS = 6
) (
    input  logic                      ap_clk,
    input  logic                      ap_rst_n,
    // control (AXI4-Lite slave)
    input  logic [CTRL_ADDR_BITS-1:0] s_axi_control_awaddr,
    input  logic                      s_axi_control_awvalid,
    output logic                      s_axi_control_awready,
    input  logic [              31:0] s_axi_control_wdata,
    input  logic [               3:0] s_axi_control_wstrb,
    input  logic                      s_axi_control_wvalid,
    output logic                      s_axi_control_wready,
    output logic [               1:0] s_axi_control_bresp,
    output logic                      s_axi_control_bvalid,
    input  logic                      s_axi_control_bready,
    input  logic [CTRL_ADDR_BITS-1:0] s_axi_control_araddr,
    input  logic                      s_axi_control_arvalid,
    output logic                      s_axi_control_arready,
    output logic [              31:0] s_axi_control_rdata,
    output logic [               1:0] s_axi_control_rresp,
    output logic                      s_axi_control_rvalid,
    input  logic                      s_axi_control_rready,
    // memory (AXI4 master, read channels)
    output logic [       ID_BITS-1:0] m_axi_arid,
    output logic [     ADDR_BITS-1:0] m_axi_araddr,
    output logic [               7:0] m_axi_arlen,
    output logic [               2:0] m_axi_arsize,
    output logic [               1:0] m_axi_arburst,
    output logic                      m_axi_arvalid,
    input  logic                      m_axi_arready,
    /* verilator lint_off UNUSEDSIGNAL */  // one ID: responses come back in order
    input  logic [       ID_BITS-1:0] m_axi_rid,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [      BUS_BITS-1:0] m_axi_rdata,
    input  logic [               1:0] m_axi_rresp,
    input  logic                      m_axi_rlast,
    input  logic                      m_axi_rvalid,
    output logic                      m_axi_rready,
    // the accelerator's input stream
    output logic [    TDATA_BITS-1:0] m_axis_tdata,
    output logic                      m_axis_tvalid,
    input  logic                      m_axis_tready
);
  localparam int BUS_BYTES = BUS_BITS / 8;
  localparam int LB = $clog2(BUS_BYTES);
  localparam int FRAME_BYTES = FRAME_BEATS * TDATA_BITS / 8;
  localparam int TB = 32 + $clog2(FRAME_BYTES + 1);
  localparam int NB = TB - LB + 1;
  localparam int FW = $clog2(FIFO_DEPTH + 1);
  localparam int OW = $clog2(MAX_OUTSTANDING + 1);
  localparam int BW = (FRAME_BEATS > 1) ? $clog2(FRAME_BEATS) : 1;

  // --- control -------------------------------------------------------------------------
  logic start, finish, resp_error;
  logic [ADDR_BITS-1:0] run_addr;
  logic [31:0] run_frames;
  logic [NB-1:0] run_beats;
  dma_ctrl #(
      .ADDR_BITS(ADDR_BITS),
      .BUS_BYTES(BUS_BYTES),
      .FRAME_BYTES(FRAME_BYTES),
      .CTRL_ADDR_BITS(CTRL_ADDR_BITS),
      .TB(TB),
      .NB(NB)
  ) ctrl (
      .ap_clk,
      .ap_rst_n,
      .s_axi_control_awaddr,
      .s_axi_control_awvalid,
      .s_axi_control_awready,
      .s_axi_control_wdata,
      .s_axi_control_wstrb,
      .s_axi_control_wvalid,
      .s_axi_control_wready,
      .s_axi_control_bresp,
      .s_axi_control_bvalid,
      .s_axi_control_bready,
      .s_axi_control_araddr,
      .s_axi_control_arvalid,
      .s_axi_control_arready,
      .s_axi_control_rdata,
      .s_axi_control_rresp,
      .s_axi_control_rvalid,
      .s_axi_control_rready,
      .start,
      .run_addr,
      .run_frames,
      .run_beats,
      /* verilator lint_off PINCONNECTEMPTY */  // every read beat is whole
      .run_last_strb(),
      /* verilator lint_on PINCONNECTEMPTY */
      .finish,
      .resp_error
  );

  // --- AR: bursts ahead, each with its FIFO room reserved ------------------------------------
  logic ar_pending, ar_take, arvalid_q, r_fire, pop;
  logic [ADDR_BITS-1:0] ar_addr;
  logic [8:0] ar_beats;
  logic [FW-1:0] room;  // FIFO words not reserved by a burst asked for
  logic [OW-1:0] outstanding;  // bursts asked for whose last beat has not arrived

  dma_burst #(
      .ADDR_BITS(ADDR_BITS),
      .BUS_BYTES(BUS_BYTES),
      .MAX_BURST(MAX_BURST),
      .NB(NB)
  ) bursts (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .load(start),
      .load_addr(run_addr),
      .load_beats(run_beats),
      .take(ar_take),
      .pending(ar_pending),
      .addr(ar_addr),
      .beats(ar_beats)
  );

  assign ar_take = ar_pending && (!arvalid_q || m_axi_arready) && room >= FW'(ar_beats)
      && outstanding < OW'(MAX_OUTSTANDING);
  assign m_axi_arvalid = arvalid_q;
  assign m_axi_arid = '0;
  assign m_axi_arsize = 3'(LB);
  assign m_axi_arburst = 2'b01;  // INCR
  assign r_fire = m_axi_rvalid && m_axi_rready;
  assign resp_error = r_fire && m_axi_rresp != 2'b00;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      arvalid_q <= 1'b0;
      room <= FW'(FIFO_DEPTH);
      outstanding <= '0;
    end else begin
      if (ar_take) begin
        arvalid_q <= 1'b1;
        m_axi_araddr <= ar_addr;
        m_axi_arlen <= 8'(ar_beats - 9'd1);
      end else if (m_axi_arready) arvalid_q <= 1'b0;
      room <= room - (ar_take ? FW'(ar_beats) : FW'(0)) + FW'(pop);
      outstanding <= outstanding + OW'(ar_take) - OW'(r_fire && m_axi_rlast);
    end
  end

  // --- R -> FIFO -> gearbox -> stream ------------------------------------------------------
  logic fifo_valid, gb_ready, gb_valid, stream_on, last_beat, tfire;
  logic [BUS_BITS-1:0] fifo_data;
  logic [BW-1:0] beat;
  logic [31:0] frame;

  dma_fifo #(
      .WIDTH(BUS_BITS),
      .DEPTH(FIFO_DEPTH),
      .RAM_STYLE(RAM_STYLE)
  ) fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .in_valid(m_axi_rvalid),
      .in_ready(m_axi_rready),
      .in_data(m_axi_rdata),
      .out_valid(fifo_valid),
      .out_ready(gb_ready),
      .out_data(fifo_data)
  );
  assign pop = fifo_valid && gb_ready;

  dma_gearbox #(
      .IN_BYTES (BUS_BYTES),
      .OUT_BYTES(TDATA_BITS / 8)
  ) gearbox (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .clear(tfire && last_beat),  // what is left is the last bus word's padding
      .flush(1'b0),
      .in_valid(fifo_valid),
      .in_ready(gb_ready),
      .in_data(fifo_data),
      .out_valid(gb_valid),
      .out_ready(stream_on && m_axis_tready),
      .out_data(m_axis_tdata)
  );

  assign m_axis_tvalid = stream_on && gb_valid;
  assign tfire = m_axis_tvalid && m_axis_tready;
  assign last_beat = beat == BW'(FRAME_BEATS - 1) && frame == run_frames - 32'd1;
  assign finish = tfire && last_beat;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) stream_on <= 1'b0;
    else if (start) begin
      stream_on <= 1'b1;
      beat <= '0;
      frame <= '0;
    end else if (tfire) begin
      if (last_beat) stream_on <= 1'b0;
      if (beat == BW'(FRAME_BEATS - 1)) begin
        beat  <= '0;
        frame <= frame + 32'd1;
      end else beat <= beat + 1'b1;
    end
  end
endmodule
