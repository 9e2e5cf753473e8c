// Test stand-in for BUILD/rtl/system.sv (bnnforge_system: DMA reader + accelerator + DMA writer +
// AXI4-Lite decode), until the rtl stage writes the real one: exactly its ports, every output tied
// off. tests/test_vivado_tcl.py writes a copy per board with BUS_BITS / ADDR_BITS set to the board's
// widths (the Vivado wrapper instantiates bnnforge_system without parameters).
module bnnforge_system #(
    parameter int BUS_BITS = 64,
    parameter int ADDR_BITS = 32,
    parameter int ID_BITS = 1
) (
    /* verilator lint_off UNUSEDSIGNAL */  // a stand-in: inputs go nowhere
    input  logic                  ap_clk,
    input  logic                  ap_rst_n,
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
    output logic                  m_axi_mem_rready
    /* verilator lint_on UNUSEDSIGNAL */
);
  assign s_axi_control_awready = 1'b0;
  assign s_axi_control_wready = 1'b0;
  assign s_axi_control_bresp = 2'b00;
  assign s_axi_control_bvalid = 1'b0;
  assign s_axi_control_arready = 1'b0;
  assign s_axi_control_rdata = 32'd0;
  assign s_axi_control_rresp = 2'b00;
  assign s_axi_control_rvalid = 1'b0;
  assign m_axi_mem_awid = '0;
  assign m_axi_mem_awaddr = '0;
  assign m_axi_mem_awlen = 8'd0;
  assign m_axi_mem_awsize = 3'd0;
  assign m_axi_mem_awburst = 2'b01;
  assign m_axi_mem_awcache = 4'b0011;
  assign m_axi_mem_awprot = 3'b000;
  assign m_axi_mem_awvalid = 1'b0;
  assign m_axi_mem_wdata = '0;
  assign m_axi_mem_wstrb = '0;
  assign m_axi_mem_wlast = 1'b0;
  assign m_axi_mem_wvalid = 1'b0;
  assign m_axi_mem_bready = 1'b1;
  assign m_axi_mem_arid = '0;
  assign m_axi_mem_araddr = '0;
  assign m_axi_mem_arlen = 8'd0;
  assign m_axi_mem_arsize = 3'd0;
  assign m_axi_mem_arburst = 2'b01;
  assign m_axi_mem_arcache = 4'b0011;
  assign m_axi_mem_arprot = 3'b000;
  assign m_axi_mem_arvalid = 1'b0;
  assign m_axi_mem_rready = 1'b1;
endmodule
