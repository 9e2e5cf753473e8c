// bnnforge DMA: stream-to-memory engine, FINN's IODMA (odma) role (docs/SPEC.md, "DMA engines").
//
// Takes frames * FRAME_BEATS stream beats from s_axis and writes their bytes,
// frames * FRAME_BEATS * TDATA_BITS/8 of them, contiguously from the buffer address (a
// multiple of BUS_BITS/8) over an AXI4 master: the layout the deploy driver unpacks.
// WSTRB covers exactly those bytes (the last bus beat's strobe is partial when the
// transfer is not a whole number of bus words); beats beyond the transfer are not taken
// (TREADY stays low). Control: AXI4-Lite, FINN IODMA register map (dma_ctrl.sv); done =
// every byte written and every write response received.
//
// - s_axis -> byte gearbox -> FIFO (FIFO_DEPTH bus words, block RAM) -> W.
// - AW: INCR bursts of up to MAX_BURST beats, never across 4 KiB (dma_burst.sv), each
//   issued once all its data is in the FIFO, so W never waits on the stream; up to
//   MAX_OUTSTANDING bursts await their B response while the next ones go out.
// - W follows the AW handshakes in order (a queue of burst lengths), WLAST on each
//   burst's last beat.
module dma_writer #(
    parameter int BUS_BITS = 64,  // m_axi data width: PYNQ-Z2 HP 64, ZCU104 HP 128
    parameter int ADDR_BITS = 64,  // m_axi address width (32..64; ZCU104 HP: 49)
    parameter int TDATA_BITS = 8,  // s_axis_tdata width, whole bytes
    parameter int FRAME_BEATS = 1,  // stream beats per frame
    parameter int MAX_BURST = 256,  // beats per burst (1..256)
    parameter int MAX_OUTSTANDING = 8,  // bursts awaiting their write response
    parameter int FIFO_DEPTH = 512,  // write-data FIFO (bus words, a power of two >= MAX_BURST)
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
    // memory (AXI4 master, write channels)
    output logic [       ID_BITS-1:0] m_axi_awid,
    output logic [     ADDR_BITS-1:0] m_axi_awaddr,
    output logic [               7:0] m_axi_awlen,
    output logic [               2:0] m_axi_awsize,
    output logic [               1:0] m_axi_awburst,
    output logic                      m_axi_awvalid,
    input  logic                      m_axi_awready,
    output logic [      BUS_BITS-1:0] m_axi_wdata,
    output logic [  BUS_BITS/8-1:0] m_axi_wstrb,
    output logic                      m_axi_wlast,
    output logic                      m_axi_wvalid,
    input  logic                      m_axi_wready,
    /* verilator lint_off UNUSEDSIGNAL */  // one ID: responses come back in order
    input  logic [       ID_BITS-1:0] m_axi_bid,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [               1:0] m_axi_bresp,
    input  logic                      m_axi_bvalid,
    output logic                      m_axi_bready,
    // the accelerator's output stream
    input  logic [    TDATA_BITS-1:0] s_axis_tdata,
    input  logic                      s_axis_tvalid,
    output logic                      s_axis_tready
);
  localparam int BUS_BYTES = BUS_BITS / 8;
  localparam int LB = $clog2(BUS_BYTES);
  localparam int FRAME_BYTES = FRAME_BEATS * TDATA_BITS / 8;
  localparam int TB = 32 + $clog2(FRAME_BYTES + 1);
  localparam int NB = TB - LB + 1;
  localparam int FW = $clog2(FIFO_DEPTH + 1);
  localparam int OW = $clog2(MAX_OUTSTANDING + 1);
  localparam int QW = (MAX_OUTSTANDING > 1) ? $clog2(MAX_OUTSTANDING) : 1;
  localparam int BW = (FRAME_BEATS > 1) ? $clog2(FRAME_BEATS) : 1;

  // --- control -------------------------------------------------------------------------
  logic start, finish, resp_error;
  logic [ADDR_BITS-1:0] run_addr;
  logic [31:0] run_frames;
  logic [NB-1:0] run_beats;
  logic [BUS_BYTES-1:0] run_last_strb;
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
      .run_last_strb,
      .finish,
      .resp_error
  );

  // --- stream -> gearbox -> FIFO -----------------------------------------------------------
  logic stream_on, flush_q, last_beat, sfire, gb_valid, fifo_ready, push, running;
  logic [BUS_BITS-1:0] gb_data;
  logic [BW-1:0] beat;
  logic [31:0] frame;
  logic gb_in_ready;

  assign s_axis_tready = stream_on && gb_in_ready;
  assign sfire = s_axis_tvalid && s_axis_tready;
  assign last_beat = beat == BW'(FRAME_BEATS - 1) && frame == run_frames - 32'd1;

  dma_gearbox #(
      .IN_BYTES (TDATA_BITS / 8),
      .OUT_BYTES(BUS_BYTES)
  ) gearbox (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .clear(start),
      .flush(flush_q),  // the last, partial bus word
      .in_valid(stream_on && s_axis_tvalid),
      .in_ready(gb_in_ready),
      .in_data(s_axis_tdata),
      .out_valid(gb_valid),
      .out_ready(fifo_ready),
      .out_data(gb_data)
  );
  assign push = gb_valid && fifo_ready;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      stream_on <= 1'b0;
      flush_q <= 1'b0;
    end else if (start) begin
      stream_on <= 1'b1;
      flush_q <= 1'b0;
      beat <= '0;
      frame <= '0;
    end else if (sfire) begin
      if (last_beat) begin
        stream_on <= 1'b0;
        flush_q <= 1'b1;
      end
      if (beat == BW'(FRAME_BEATS - 1)) begin
        beat  <= '0;
        frame <= frame + 32'd1;
      end else beat <= beat + 1'b1;
    end
  end

  logic w_fire, fifo_valid;
  dma_fifo #(
      .WIDTH(BUS_BITS),
      .DEPTH(FIFO_DEPTH),
      .RAM_STYLE(RAM_STYLE)
  ) fifo (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .in_valid(gb_valid),
      .in_ready(fifo_ready),
      .in_data(gb_data),
      .out_valid(fifo_valid),
      .out_ready(w_fire),
      .out_data(m_axi_wdata)
  );

  // --- AW: a burst goes out once all its beats are buffered ------------------------------
  logic aw_pending, aw_take, awvalid_q, aw_fire, b_fire;
  logic [ADDR_BITS-1:0] aw_addr;
  logic [8:0] aw_beats;
  logic [FW-1:0] avail;  // buffered beats not yet covered by a burst
  logic [OW-1:0] outstanding;  // bursts issued whose write response has not arrived

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
      .take(aw_take),
      .pending(aw_pending),
      .addr(aw_addr),
      .beats(aw_beats)
  );

  assign aw_take = aw_pending && (!awvalid_q || m_axi_awready) && avail >= FW'(aw_beats)
      && outstanding < OW'(MAX_OUTSTANDING);
  assign m_axi_awvalid = awvalid_q;
  assign aw_fire = awvalid_q && m_axi_awready;
  assign m_axi_awid = '0;
  assign m_axi_awsize = 3'(LB);
  assign m_axi_awburst = 2'b01;  // INCR
  assign m_axi_bready = 1'b1;
  assign b_fire = m_axi_bvalid;
  assign resp_error = b_fire && m_axi_bresp != 2'b00;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      awvalid_q <= 1'b0;
      avail <= '0;
      outstanding <= '0;
      running <= 1'b0;
    end else begin
      if (aw_take) begin
        awvalid_q <= 1'b1;
        m_axi_awaddr <= aw_addr;
        m_axi_awlen <= 8'(aw_beats - 9'd1);
      end else if (m_axi_awready) awvalid_q <= 1'b0;
      avail <= avail + FW'(push) - (aw_take ? FW'(aw_beats) : FW'(0));
      outstanding <= outstanding + OW'(aw_take) - OW'(b_fire);
      if (start) running <= 1'b1;
      else if (finish) running <= 1'b0;
    end
  end
  // all bursts issued and answered (a B comes after its burst's last W, so all bytes are written)
  assign finish = running && !aw_pending && outstanding == '0;

  // --- W: the bursts' lengths in AW order ------------------------------------------------
  logic [7:0] lenq[MAX_OUTSTANDING];
  logic [QW-1:0] q_wr, q_rd;
  logic [OW-1:0] q_n;
  logic [7:0] w_cnt;
  logic [NB-1:0] w_left;  // beats of the transfer not yet written

  assign m_axi_wvalid = q_n != '0 && fifo_valid;
  assign m_axi_wlast = w_cnt == lenq[q_rd];
  assign m_axi_wstrb = (w_left == NB'(1)) ? run_last_strb : {BUS_BITS / 8{1'b1}};
  assign w_fire = m_axi_wvalid && m_axi_wready;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      q_wr <= '0;
      q_rd <= '0;
      q_n <= '0;
      w_cnt <= '0;
    end else begin
      if (aw_fire) begin
        lenq[q_wr] <= m_axi_awlen;
        q_wr <= (q_wr == QW'(MAX_OUTSTANDING - 1)) ? '0 : q_wr + 1'b1;
      end
      if (w_fire) begin
        w_cnt <= m_axi_wlast ? 8'd0 : w_cnt + 8'd1;
        if (m_axi_wlast) q_rd <= (q_rd == QW'(MAX_OUTSTANDING - 1)) ? '0 : q_rd + 1'b1;
      end
      q_n <= q_n + OW'(aw_fire) - OW'(w_fire && m_axi_wlast);
    end
  end

  always_ff @(posedge ap_clk) begin
    if (start) w_left <= run_beats;
    else if (w_fire) w_left <= w_left - NB'(1);
  end
endmodule
