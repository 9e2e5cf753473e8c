// bnnforge: the board system's memory-mapped side around an accelerator (docs/SPEC.md, "DMA
// engines", dma_shell): dma_reader (FINN's idma0 role) and dma_writer (odma0) behind one
// AXI4-Lite control port and one AXI4 memory port.
//
//   s_axi_control  AXI4-Lite slave, 13-bit addresses, 32-bit data: 0x0000-0x0FFF the
//                  reader's register block, 0x1000-0x1FFF the writer's (address bit 12
//                  selects; axil_split.sv), each the FINN IODMA map 0x00/0x10/0x14/0x1C/0x24
//   m_axi_mem      AXI4 master: the read channels are the reader's, the write channels the
//                  writer's; AxCACHE 4'b0011 (normal, non-cacheable, bufferable), AxPROT 0
//   m_axis_acc     the accelerator's input stream (from the reader), IN_BITS wide
//   s_axis_acc     the accelerator's output stream (to the writer), OUT_BITS wide
// The other parameters go to both engines unchanged.
module dma_shell #(
    parameter int BUS_BITS = 64,  // m_axi_mem data width: PYNQ-Z2 HP 64, ZCU104 HP 128
    parameter int ADDR_BITS = 64,  // m_axi_mem address width (32..64; ZCU104 HP: 49)
    parameter int IN_BITS = 8,  // m_axis_acc_tdata width (the accelerator's input), whole bytes
    parameter int OUT_BITS = 8,  // s_axis_acc_tdata width (its output), whole bytes
    parameter int IN_FRAME_BEATS = 1,  // input stream beats per frame
    parameter int OUT_FRAME_BEATS = 1,  // output stream beats per frame
    parameter int MAX_BURST = 256,
    parameter int MAX_OUTSTANDING = 8,
    parameter int FIFO_DEPTH = 512,
    parameter RAM_STYLE = "auto",
    parameter int ID_BITS = 1
) (
    input  logic                  ap_clk,
    input  logic                  ap_rst_n,
    // control (AXI4-Lite slave)
    input  logic [          12:0] s_axi_control_awaddr,
    input  logic                  s_axi_control_awvalid,
    output logic                  s_axi_control_awready,
    input  logic [          31:0] s_axi_control_wdata,
    input  logic [           3:0] s_axi_control_wstrb,
    input  logic                  s_axi_control_wvalid,
    output logic                  s_axi_control_wready,
    output logic [           1:0] s_axi_control_bresp,
    output logic                  s_axi_control_bvalid,
    input  logic                  s_axi_control_bready,
    input  logic [          12:0] s_axi_control_araddr,
    input  logic                  s_axi_control_arvalid,
    output logic                  s_axi_control_arready,
    output logic [          31:0] s_axi_control_rdata,
    output logic [           1:0] s_axi_control_rresp,
    output logic                  s_axi_control_rvalid,
    input  logic                  s_axi_control_rready,
    // memory (AXI4 master)
    output logic [   ID_BITS-1:0] m_axi_mem_awid,
    output logic [ ADDR_BITS-1:0] m_axi_mem_awaddr,
    output logic [           7:0] m_axi_mem_awlen,
    output logic [           2:0] m_axi_mem_awsize,
    output logic [           1:0] m_axi_mem_awburst,
    output logic [           3:0] m_axi_mem_awcache,
    output logic [           2:0] m_axi_mem_awprot,
    output logic                  m_axi_mem_awvalid,
    input  logic                  m_axi_mem_awready,
    output logic [  BUS_BITS-1:0] m_axi_mem_wdata,
    output logic [BUS_BITS/8-1:0] m_axi_mem_wstrb,
    output logic                  m_axi_mem_wlast,
    output logic                  m_axi_mem_wvalid,
    input  logic                  m_axi_mem_wready,
    input  logic [   ID_BITS-1:0] m_axi_mem_bid,
    input  logic [           1:0] m_axi_mem_bresp,
    input  logic                  m_axi_mem_bvalid,
    output logic                  m_axi_mem_bready,
    output logic [   ID_BITS-1:0] m_axi_mem_arid,
    output logic [ ADDR_BITS-1:0] m_axi_mem_araddr,
    output logic [           7:0] m_axi_mem_arlen,
    output logic [           2:0] m_axi_mem_arsize,
    output logic [           1:0] m_axi_mem_arburst,
    output logic [           3:0] m_axi_mem_arcache,
    output logic [           2:0] m_axi_mem_arprot,
    output logic                  m_axi_mem_arvalid,
    input  logic                  m_axi_mem_arready,
    input  logic [   ID_BITS-1:0] m_axi_mem_rid,
    input  logic [  BUS_BITS-1:0] m_axi_mem_rdata,
    input  logic [           1:0] m_axi_mem_rresp,
    input  logic                  m_axi_mem_rlast,
    input  logic                  m_axi_mem_rvalid,
    output logic                  m_axi_mem_rready,
    // the accelerator's streams
    output logic [   IN_BITS-1:0] m_axis_acc_tdata,
    output logic                  m_axis_acc_tvalid,
    input  logic                  m_axis_acc_tready,
    input  logic [  OUT_BITS-1:0] s_axis_acc_tdata,
    input  logic                  s_axis_acc_tvalid,
    output logic                  s_axis_acc_tready
);
  localparam int CTRL_ADDR_BITS = 13;  // two 4 KiB register blocks

  assign m_axi_mem_awcache = 4'b0011;
  assign m_axi_mem_arcache = 4'b0011;
  assign m_axi_mem_awprot = 3'b000;
  assign m_axi_mem_arprot = 3'b000;

  // --- AXI4-Lite: bit 12 selects the engine ------------------------------------------------
  logic [CTRL_ADDR_BITS-2:0] c_awaddr, c_araddr;
  logic [1:0] c_awvalid, c_awready, c_wvalid, c_wready, c_bvalid, c_bready;
  logic [1:0] c_arvalid, c_arready, c_rvalid, c_rready;
  logic [3:0] c_wstrb, c_bresp, c_rresp;
  logic [31:0] c_wdata;
  logic [63:0] c_rdata;

  axil_split #(
      .ADDR_BITS(CTRL_ADDR_BITS)
  ) split (
      .clk(ap_clk),
      .rst_n(ap_rst_n),
      .s_awaddr(s_axi_control_awaddr),
      .s_awvalid(s_axi_control_awvalid),
      .s_awready(s_axi_control_awready),
      .s_wdata(s_axi_control_wdata),
      .s_wstrb(s_axi_control_wstrb),
      .s_wvalid(s_axi_control_wvalid),
      .s_wready(s_axi_control_wready),
      .s_bresp(s_axi_control_bresp),
      .s_bvalid(s_axi_control_bvalid),
      .s_bready(s_axi_control_bready),
      .s_araddr(s_axi_control_araddr),
      .s_arvalid(s_axi_control_arvalid),
      .s_arready(s_axi_control_arready),
      .s_rdata(s_axi_control_rdata),
      .s_rresp(s_axi_control_rresp),
      .s_rvalid(s_axi_control_rvalid),
      .s_rready(s_axi_control_rready),
      .m_awaddr(c_awaddr),
      .m_awvalid(c_awvalid),
      .m_awready(c_awready),
      .m_wdata(c_wdata),
      .m_wstrb(c_wstrb),
      .m_wvalid(c_wvalid),
      .m_wready(c_wready),
      .m_bresp(c_bresp),
      .m_bvalid(c_bvalid),
      .m_bready(c_bready),
      .m_araddr(c_araddr),
      .m_arvalid(c_arvalid),
      .m_arready(c_arready),
      .m_rdata(c_rdata),
      .m_rresp(c_rresp),
      .m_rvalid(c_rvalid),
      .m_rready(c_rready)
  );

  // --- the engines -----------------------------------------------------------------------
  dma_reader #(
      .BUS_BITS(BUS_BITS),
      .ADDR_BITS(ADDR_BITS),
      .TDATA_BITS(IN_BITS),
      .FRAME_BEATS(IN_FRAME_BEATS),
      .MAX_BURST(MAX_BURST),
      .MAX_OUTSTANDING(MAX_OUTSTANDING),
      .FIFO_DEPTH(FIFO_DEPTH),
      .RAM_STYLE(RAM_STYLE),
      .ID_BITS(ID_BITS),
      .CTRL_ADDR_BITS(CTRL_ADDR_BITS - 1)
  ) reader (
      .ap_clk,
      .ap_rst_n,
      .s_axi_control_awaddr(c_awaddr),
      .s_axi_control_awvalid(c_awvalid[0]),
      .s_axi_control_awready(c_awready[0]),
      .s_axi_control_wdata(c_wdata),
      .s_axi_control_wstrb(c_wstrb),
      .s_axi_control_wvalid(c_wvalid[0]),
      .s_axi_control_wready(c_wready[0]),
      .s_axi_control_bresp(c_bresp[1:0]),
      .s_axi_control_bvalid(c_bvalid[0]),
      .s_axi_control_bready(c_bready[0]),
      .s_axi_control_araddr(c_araddr),
      .s_axi_control_arvalid(c_arvalid[0]),
      .s_axi_control_arready(c_arready[0]),
      .s_axi_control_rdata(c_rdata[31:0]),
      .s_axi_control_rresp(c_rresp[1:0]),
      .s_axi_control_rvalid(c_rvalid[0]),
      .s_axi_control_rready(c_rready[0]),
      .m_axi_arid(m_axi_mem_arid),
      .m_axi_araddr(m_axi_mem_araddr),
      .m_axi_arlen(m_axi_mem_arlen),
      .m_axi_arsize(m_axi_mem_arsize),
      .m_axi_arburst(m_axi_mem_arburst),
      .m_axi_arvalid(m_axi_mem_arvalid),
      .m_axi_arready(m_axi_mem_arready),
      .m_axi_rid(m_axi_mem_rid),
      .m_axi_rdata(m_axi_mem_rdata),
      .m_axi_rresp(m_axi_mem_rresp),
      .m_axi_rlast(m_axi_mem_rlast),
      .m_axi_rvalid(m_axi_mem_rvalid),
      .m_axi_rready(m_axi_mem_rready),
      .m_axis_tdata(m_axis_acc_tdata),
      .m_axis_tvalid(m_axis_acc_tvalid),
      .m_axis_tready(m_axis_acc_tready)
  );

  dma_writer #(
      .BUS_BITS(BUS_BITS),
      .ADDR_BITS(ADDR_BITS),
      .TDATA_BITS(OUT_BITS),
      .FRAME_BEATS(OUT_FRAME_BEATS),
      .MAX_BURST(MAX_BURST),
      .MAX_OUTSTANDING(MAX_OUTSTANDING),
      .FIFO_DEPTH(FIFO_DEPTH),
      .RAM_STYLE(RAM_STYLE),
      .ID_BITS(ID_BITS),
      .CTRL_ADDR_BITS(CTRL_ADDR_BITS - 1)
  ) writer (
      .ap_clk,
      .ap_rst_n,
      .s_axi_control_awaddr(c_awaddr),
      .s_axi_control_awvalid(c_awvalid[1]),
      .s_axi_control_awready(c_awready[1]),
      .s_axi_control_wdata(c_wdata),
      .s_axi_control_wstrb(c_wstrb),
      .s_axi_control_wvalid(c_wvalid[1]),
      .s_axi_control_wready(c_wready[1]),
      .s_axi_control_bresp(c_bresp[3:2]),
      .s_axi_control_bvalid(c_bvalid[1]),
      .s_axi_control_bready(c_bready[1]),
      .s_axi_control_araddr(c_araddr),
      .s_axi_control_arvalid(c_arvalid[1]),
      .s_axi_control_arready(c_arready[1]),
      .s_axi_control_rdata(c_rdata[63:32]),
      .s_axi_control_rresp(c_rresp[3:2]),
      .s_axi_control_rvalid(c_rvalid[1]),
      .s_axi_control_rready(c_rready[1]),
      .m_axi_awid(m_axi_mem_awid),
      .m_axi_awaddr(m_axi_mem_awaddr),
      .m_axi_awlen(m_axi_mem_awlen),
      .m_axi_awsize(m_axi_mem_awsize),
      .m_axi_awburst(m_axi_mem_awburst),
      .m_axi_awvalid(m_axi_mem_awvalid),
      .m_axi_awready(m_axi_mem_awready),
      .m_axi_wdata(m_axi_mem_wdata),
      .m_axi_wstrb(m_axi_mem_wstrb),
      .m_axi_wlast(m_axi_mem_wlast),
      .m_axi_wvalid(m_axi_mem_wvalid),
      .m_axi_wready(m_axi_mem_wready),
      .m_axi_bid(m_axi_mem_bid),
      .m_axi_bresp(m_axi_mem_bresp),
      .m_axi_bvalid(m_axi_mem_bvalid),
      .m_axi_bready(m_axi_mem_bready),
      .s_axis_tdata(s_axis_acc_tdata),
      .s_axis_tvalid(s_axis_acc_tvalid),
      .s_axis_tready(s_axis_acc_tready)
  );
endmodule
