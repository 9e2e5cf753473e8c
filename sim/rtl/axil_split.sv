// bnnforge: AXI4-Lite decode, one slave port to two (docs/SPEC.md, "DMA engines", dma_shell).
//
// Address bit ADDR_BITS-1 selects the downstream port (0: m0, 1: m1); the lower ADDR_BITS-1
// bits go through. One transaction at a time: a write (AW and W taken independently, in
// any order, each held in a register) or a read is forwarded to the selected port only,
// so the other port never sees a VALID (a read of the other block never happens: reads
// have side effects, ap_done clears on read). Its response is registered and held until
// the master takes it. When a whole write and a read are both waiting, the write goes
// first. Every VALID this module drives comes from a register and stays high, with its
// payload unchanged, until READY; no READY waits on the other side's VALID in the same
// cycle. Synchronous, active-low reset.
module axil_split #(
    parameter int ADDR_BITS = 13
) (
    input  logic                 clk,
    input  logic                 rst_n,
    // upstream (from the master)
    input  logic [ADDR_BITS-1:0] s_awaddr,
    input  logic                 s_awvalid,
    output logic                 s_awready,
    input  logic [         31:0] s_wdata,
    input  logic [          3:0] s_wstrb,
    input  logic                 s_wvalid,
    output logic                 s_wready,
    output logic [          1:0] s_bresp,
    output logic                 s_bvalid,
    input  logic                 s_bready,
    input  logic [ADDR_BITS-1:0] s_araddr,
    input  logic                 s_arvalid,
    output logic                 s_arready,
    output logic [         31:0] s_rdata,
    output logic [          1:0] s_rresp,
    output logic                 s_rvalid,
    input  logic                 s_rready,
    // downstream: the same address, data and strobes to both ports, VALID to one
    output logic [ADDR_BITS-2:0] m_awaddr,
    output logic [          1:0] m_awvalid,
    input  logic [          1:0] m_awready,
    output logic [         31:0] m_wdata,
    output logic [          3:0] m_wstrb,
    output logic [          1:0] m_wvalid,
    input  logic [          1:0] m_wready,
    input  logic [          3:0] m_bresp,    // {port 1, port 0}
    input  logic [          1:0] m_bvalid,
    output logic [          1:0] m_bready,
    output logic [ADDR_BITS-2:0] m_araddr,
    output logic [          1:0] m_arvalid,
    input  logic [          1:0] m_arready,
    input  logic [         63:0] m_rdata,    // {port 1, port 0}
    input  logic [          3:0] m_rresp,
    input  logic [          1:0] m_rvalid,
    output logic [          1:0] m_rready
);
  localparam logic [2:0] IDLE = 3'd0, WR = 3'd1, WR_RESP = 3'd2, RD = 3'd3, RD_RESP = 3'd4;

  logic [2:0] state;
  logic aw_q, w_q, aw_sent, w_sent, ar_sent, wsel, rsel;
  logic [ADDR_BITS-2:0] awaddr_q, araddr_q;
  logic [31:0] wdata_q, rdata_q;
  logic [3:0] wstrb_q;
  logic [1:0] bresp_q, rresp_q;
  logic aw_fire, w_fire, ar_fire, maw_fire, mw_fire, mb_fire, mar_fire, mr_fire;

  // upstream handshakes: AW and W each into a register while it is free; AR only when idle
  // and no whole write waits
  assign s_awready = !aw_q;
  assign s_wready = !w_q;
  assign s_arready = state == IDLE && !(aw_q && w_q);
  assign aw_fire = s_awvalid && s_awready;
  assign w_fire = s_wvalid && s_wready;
  assign ar_fire = s_arvalid && s_arready;
  assign s_bvalid = state == WR_RESP;
  assign s_bresp = bresp_q;
  assign s_rvalid = state == RD_RESP;
  assign s_rdata = rdata_q;
  assign s_rresp = rresp_q;

  // downstream: only the selected port sees VALID (and READY for its response)
  assign m_awaddr = awaddr_q;
  assign m_wdata = wdata_q;
  assign m_wstrb = wstrb_q;
  assign m_araddr = araddr_q;
  assign m_awvalid = (state == WR && !aw_sent) ? (wsel ? 2'b10 : 2'b01) : 2'b00;
  assign m_wvalid = (state == WR && !w_sent) ? (wsel ? 2'b10 : 2'b01) : 2'b00;
  assign m_bready = (state == WR) ? (wsel ? 2'b10 : 2'b01) : 2'b00;
  assign m_arvalid = (state == RD && !ar_sent) ? (rsel ? 2'b10 : 2'b01) : 2'b00;
  assign m_rready = (state == RD) ? (rsel ? 2'b10 : 2'b01) : 2'b00;
  assign maw_fire = |(m_awvalid & m_awready);
  assign mw_fire = |(m_wvalid & m_wready);
  assign mb_fire = |(m_bvalid & m_bready);
  assign mar_fire = |(m_arvalid & m_arready);
  assign mr_fire = |(m_rvalid & m_rready);

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state <= IDLE;
      aw_q <= 1'b0;
      w_q <= 1'b0;
    end else begin
      if (aw_fire) begin
        aw_q <= 1'b1;
        wsel <= s_awaddr[ADDR_BITS-1];
        awaddr_q <= s_awaddr[ADDR_BITS-2:0];
      end
      if (w_fire) begin
        w_q <= 1'b1;
        wdata_q <= s_wdata;
        wstrb_q <= s_wstrb;
      end
      case (state)
        IDLE:
        if (aw_q && w_q) begin
          state   <= WR;
          aw_sent <= 1'b0;
          w_sent  <= 1'b0;
        end else if (ar_fire) begin
          state <= RD;
          ar_sent <= 1'b0;
          rsel <= s_araddr[ADDR_BITS-1];
          araddr_q <= s_araddr[ADDR_BITS-2:0];
        end
        WR: begin
          if (maw_fire) aw_sent <= 1'b1;
          if (mw_fire) w_sent <= 1'b1;
          if (mb_fire) begin
            state   <= WR_RESP;
            bresp_q <= wsel ? m_bresp[3:2] : m_bresp[1:0];
          end
        end
        WR_RESP:
        if (s_bready) begin
          state <= IDLE;
          aw_q  <= 1'b0;
          w_q   <= 1'b0;
        end
        RD: begin
          if (mar_fire) ar_sent <= 1'b1;
          if (mr_fire) begin
            state   <= RD_RESP;
            rdata_q <= rsel ? m_rdata[63:32] : m_rdata[31:0];
            rresp_q <= rsel ? m_rresp[3:2] : m_rresp[1:0];
          end
        end
        default: if (s_rready) state <= IDLE;
      endcase
    end
  end
endmodule
