// bnnforge DMA: AXI4-Lite control block shared by dma_reader and dma_writer
// (docs/SPEC.md, "DMA engines"): the register map of FINN's IODMA (HLS ap_ctrl_hs) and
// the geometry of a transfer.
//
//   0x00 ap_ctrl  bit 0 ap_start (write 1 to start; reads 1 while a transfer runs)
//                 bit 1 ap_done  (set when a transfer completes; cleared on read and by a start)
//                 bit 2 ap_idle  (no transfer running)
//                 bit 3 ap_ready (set with ap_done; cleared on read and by a start)
//   0x10 buffer address [31:0]   0x14 buffer address [63:32] (bits at and above ADDR_BITS read 0)
//   0x1C number of frames (32 bit)
//   0x24 status (ours, read only): bit 0 the last start had an address that is not a
//        multiple of BUS_BYTES (nothing moved), bit 1 a non-OKAY RRESP/BRESP was seen;
//        both cleared by the next start
// Other offsets read 0; writes to them (and to read-only bits) are ignored. A start while
// a transfer runs is ignored: the running transfer uses the address and frame count
// latched at its start, so writing the registers while busy prepares the next one.
//
// A start with 0 frames or an unaligned address completes at once (ap_done) without a
// bus access. Otherwise, two cycles after the write, `start` pulses with the latched
// transfer: run_beats = ceil(frames * FRAME_BYTES / BUS_BYTES) bus beats from run_addr,
// the last one carrying run_last_strb's bytes. The engine pulses `finish` when it is done.
module dma_ctrl #(
    parameter int ADDR_BITS = 64,
    parameter int BUS_BYTES = 8,
    parameter int FRAME_BYTES = 1,
    parameter int CTRL_ADDR_BITS = 6,
    parameter int TB = 32 + $clog2(FRAME_BYTES + 1),  // bytes of a transfer
    parameter int NB = TB - $clog2(BUS_BYTES) + 1  // its bus beats
) (
    input  logic                      ap_clk,
    input  logic                      ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // byte offset within a 32-bit register
    input  logic [CTRL_ADDR_BITS-1:0] s_axi_control_awaddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                      s_axi_control_awvalid,
    output logic                      s_axi_control_awready,
    input  logic [              31:0] s_axi_control_wdata,
    input  logic [               3:0] s_axi_control_wstrb,
    input  logic                      s_axi_control_wvalid,
    output logic                      s_axi_control_wready,
    output logic [               1:0] s_axi_control_bresp,
    output logic                      s_axi_control_bvalid,
    input  logic                      s_axi_control_bready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [CTRL_ADDR_BITS-1:0] s_axi_control_araddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                      s_axi_control_arvalid,
    output logic                      s_axi_control_arready,
    output logic [              31:0] s_axi_control_rdata,
    output logic [               1:0] s_axi_control_rresp,
    output logic                      s_axi_control_rvalid,
    input  logic                      s_axi_control_rready,
    // the engine
    output logic                      start,
    output logic [     ADDR_BITS-1:0] run_addr,
    output logic [              31:0] run_frames,
    output logic [            NB-1:0] run_beats,
    output logic [     BUS_BYTES-1:0] run_last_strb,
    input  logic                      finish,
    input  logic                      resp_error
);
  localparam int LB = $clog2(BUS_BYTES);
  localparam int WA = CTRL_ADDR_BITS - 2;  // register (word) address bits
  localparam logic [WA-1:0] R_CTRL = WA'(8'h00 >> 2);
  localparam logic [WA-1:0] R_ADDR_LO = WA'(8'h10 >> 2);
  localparam logic [WA-1:0] R_ADDR_HI = WA'(8'h14 >> 2);
  localparam logic [WA-1:0] R_FRAMES = WA'(8'h1C >> 2);
  localparam logic [WA-1:0] R_STATUS = WA'(8'h24 >> 2);
  // no '1 here: Debian's yosys 0.23 sizes a '1 inside a parameter's ?: as one bit
  localparam logic [63:0] ADDR_MASK = {64{1'b1}} >> (64 - ADDR_BITS);
  localparam logic [1:0] IDLE = 2'd0, CHECK = 2'd1, SIZE = 2'd2, RUN = 2'd3;

  // --- AXI4-Lite write: address and data taken independently, one response ---------------
  logic aw_q, w_q, bvalid_q, wr;
  logic [WA-1:0] waddr_q;
  logic [31:0] wdata_q;
  logic [3:0] wstrb_q;
  logic [31:0] wmask;  // WSTRB as a bit mask
  assign s_axi_control_awready = !aw_q;
  assign s_axi_control_wready = !w_q;
  assign s_axi_control_bvalid = bvalid_q;
  assign s_axi_control_bresp = 2'b00;
  assign wr = aw_q && w_q && !bvalid_q;
  assign wmask = {{8{wstrb_q[3]}}, {8{wstrb_q[2]}}, {8{wstrb_q[1]}}, {8{wstrb_q[0]}}};

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      aw_q <= 1'b0;
      w_q <= 1'b0;
      bvalid_q <= 1'b0;
    end else begin
      if (s_axi_control_awvalid && !aw_q) begin
        aw_q <= 1'b1;
        waddr_q <= s_axi_control_awaddr[CTRL_ADDR_BITS-1:2];
      end
      if (s_axi_control_wvalid && !w_q) begin
        w_q <= 1'b1;
        wdata_q <= s_axi_control_wdata;
        wstrb_q <= s_axi_control_wstrb;
      end
      if (wr) begin
        aw_q <= 1'b0;
        w_q <= 1'b0;
        bvalid_q <= 1'b1;
      end else if (s_axi_control_bready) bvalid_q <= 1'b0;
    end
  end

  // --- registers ----------------------------------------------------------------------
  logic [63:0] addr_r;
  logic [31:0] frames_r;
  logic [1:0] phase;
  logic done_q, ready_q, rd_ctrl, start_req, misaligned;
  logic [1:0] status_q;
  logic [TB-1:0] total_q;
  logic [TB:0] total_up;

  assign start_req = wr && waddr_q == R_CTRL && wstrb_q[0] && wdata_q[0] && phase == IDLE;
  assign misaligned = run_addr[LB-1:0] != '0;
  assign total_up = {1'b0, total_q} + (TB + 1)'(BUS_BYTES - 1);

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      addr_r <= '0;
      frames_r <= '0;
    end else if (wr) begin
      if (waddr_q == R_ADDR_LO) addr_r[31:0] <= ((addr_r[31:0] & ~wmask) | (wdata_q & wmask)) & ADDR_MASK[31:0];
      if (waddr_q == R_ADDR_HI) addr_r[63:32] <= ((addr_r[63:32] & ~wmask) | (wdata_q & wmask)) & ADDR_MASK[63:32];
      if (waddr_q == R_FRAMES) frames_r <= (frames_r & ~wmask) | (wdata_q & wmask);
    end
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      phase <= IDLE;
      start <= 1'b0;
      done_q <= 1'b0;
      ready_q <= 1'b0;
      status_q <= '0;
    end else begin
      start <= 1'b0;
      if (rd_ctrl) begin  // clear on read (a bit set in this cycle below stays set)
        done_q  <= 1'b0;
        ready_q <= 1'b0;
      end
      if (resp_error) status_q[1] <= 1'b1;
      case (phase)
        IDLE:
        if (start_req) begin
          phase <= CHECK;
          run_addr <= addr_r[ADDR_BITS-1:0];
          run_frames <= frames_r;
          done_q <= 1'b0;
          ready_q <= 1'b0;
          status_q <= '0;
        end
        CHECK:
        if (run_frames == '0 || misaligned) begin
          phase <= IDLE;
          done_q <= 1'b1;
          ready_q <= 1'b1;
          status_q[0] <= misaligned;
        end else begin
          total_q <= TB'(run_frames) * TB'(FRAME_BYTES);
          phase <= SIZE;
        end
        SIZE: begin
          run_beats <= NB'(total_up >> LB);
          for (int i = 0; i < BUS_BYTES; i++)
            run_last_strb[i] <= total_q[LB-1:0] == '0 || LB'(i) < total_q[LB-1:0];
          start <= 1'b1;
          phase <= RUN;
        end
        default:
        if (finish) begin
          phase <= IDLE;
          done_q <= 1'b1;
          ready_q <= 1'b1;
        end
      endcase
    end
  end

  // --- AXI4-Lite read ------------------------------------------------------------------
  logic rvalid_q;
  logic [31:0] rdata_q, rmux;
  logic [WA-1:0] raddr;
  assign raddr = s_axi_control_araddr[CTRL_ADDR_BITS-1:2];
  assign s_axi_control_arready = !rvalid_q;
  assign s_axi_control_rvalid = rvalid_q;
  assign s_axi_control_rdata = rdata_q;
  assign s_axi_control_rresp = 2'b00;
  assign rd_ctrl = s_axi_control_arvalid && !rvalid_q && raddr == R_CTRL;

  assign rmux = (raddr == R_CTRL) ? {28'd0, ready_q, phase == IDLE, done_q, phase != IDLE}
      : (raddr == R_ADDR_LO) ? addr_r[31:0]
      : (raddr == R_ADDR_HI) ? addr_r[63:32]
      : (raddr == R_FRAMES) ? frames_r
      : (raddr == R_STATUS) ? {30'd0, status_q}
      : 32'd0;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) rvalid_q <= 1'b0;
    else if (s_axi_control_arvalid && !rvalid_q) begin
      rvalid_q <= 1'b1;
      rdata_q  <= rmux;
    end else if (s_axi_control_rready) rvalid_q <= 1'b0;
  end
endmodule
