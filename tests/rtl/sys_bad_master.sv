// bnnforge tests: a small AXI4 master with the system ports that breaks a rule on request,
// so tests/test_system_sim.py can prove the system harness's protocol checks fail.
//
// AXI4-Lite: writing MODE to offset 0x0 runs one sequence; offset 0x4 reads {match, done},
// offset 0x8 the word of sys_bad_master_rom.hex ($readmemh from the run folder, with the
// plusarg +rom; else 0).
//   0 good: a 4-beat INCR write at 0x1000 (data = beat index in every 32-bit word), its B,
//     then a 4-beat read of it; match = the data read back is the data written
//   1 WLAST missing on the last beat of a 4-beat write burst
//   2 WLAST on beat 2 of a 4-beat write burst
//   3 a 2-beat read burst across a 4 KiB boundary
//   4 AWVALID dropped when AWREADY did not come in its first cycle (else a write as in 0)
//   5 WDATA changed while WVALID waits for WREADY
//   6 a one-byte write (AWSIZE 0) of 0xA1 at 0x3003, WSTRB all ones (data 32'hA1B2C3D4 in every
//     word): allowed, the other lanes are recorded and not written
//   7 ARVALID dropped when ARREADY did not come in its first cycle
//   8 $fatal (the harness process ends with the simulator's message)
//   9 the control port stops taking reads (ARREADY low from then on)
module sys_bad_master #(
    parameter int BUS_BITS  = 64,
    parameter int ADDR_BITS = 64
) (
    input  logic                  ap_clk,
    input  logic                  ap_rst_n,
    /* verilator lint_off UNUSEDSIGNAL */  // any write starts a sequence: the mode in wdata[3:0]
    input  logic [          12:0] s_axi_control_awaddr,
    input  logic                  s_axi_control_awvalid,
    output logic                  s_axi_control_awready,
    input  logic [          31:0] s_axi_control_wdata,
    input  logic [           3:0] s_axi_control_wstrb,
    /* verilator lint_on UNUSEDSIGNAL */
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
    output logic [ ADDR_BITS-1:0] m_axi_mem_awaddr,
    output logic [           7:0] m_axi_mem_awlen,
    output logic [           2:0] m_axi_mem_awsize,
    output logic [           1:0] m_axi_mem_awburst,
    output logic                  m_axi_mem_awvalid,
    input  logic                  m_axi_mem_awready,
    output logic [  BUS_BITS-1:0] m_axi_mem_wdata,
    output logic [BUS_BITS/8-1:0] m_axi_mem_wstrb,
    output logic                  m_axi_mem_wlast,
    output logic                  m_axi_mem_wvalid,
    input  logic                  m_axi_mem_wready,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [           1:0] m_axi_mem_bresp,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                  m_axi_mem_bvalid,
    output logic                  m_axi_mem_bready,
    output logic [ ADDR_BITS-1:0] m_axi_mem_araddr,
    output logic [           7:0] m_axi_mem_arlen,
    output logic [           2:0] m_axi_mem_arsize,
    output logic [           1:0] m_axi_mem_arburst,
    output logic                  m_axi_mem_arvalid,
    input  logic                  m_axi_mem_arready,
    input  logic [  BUS_BITS-1:0] m_axi_mem_rdata,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [           1:0] m_axi_mem_rresp,
    input  logic                  m_axi_mem_rlast,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic                  m_axi_mem_rvalid,
    output logic                  m_axi_mem_rready
);
  localparam int BB = BUS_BITS / 8;
  localparam logic [2:0] IDLE = 3'd0, AW = 3'd1, W = 3'd2, B = 3'd3, AR = 3'd4, R = 3'd5;

  // --- AXI4-Lite slave: a write starts a sequence, a read returns {match, done} ------------
  logic aw_q, w_q, bvalid_q, rvalid_q, go, done, match, hang;
  logic [3:0] mode;
  logic [31:0] rom[1];
  initial begin
    rom[0] = '0;
    if ($test$plusargs("rom")) $readmemh("sys_bad_master_rom.hex", rom);
  end
  assign s_axi_control_awready = !aw_q;
  assign s_axi_control_wready = !w_q;
  assign s_axi_control_bvalid = bvalid_q;
  assign s_axi_control_bresp = 2'b00;
  assign s_axi_control_arready = !rvalid_q && !hang;
  assign s_axi_control_rvalid = rvalid_q;
  assign s_axi_control_rresp = 2'b00;
  assign go = aw_q && w_q && !bvalid_q;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      aw_q <= 1'b0;
      w_q <= 1'b0;
      bvalid_q <= 1'b0;
      rvalid_q <= 1'b0;
    end else begin
      if (s_axi_control_awvalid && !aw_q) aw_q <= 1'b1;
      if (s_axi_control_wvalid && !w_q) begin
        w_q  <= 1'b1;
        mode <= s_axi_control_wdata[3:0];
      end
      if (go) begin
        aw_q <= 1'b0;
        w_q <= 1'b0;
        bvalid_q <= 1'b1;
      end else if (s_axi_control_bready) bvalid_q <= 1'b0;
      if (s_axi_control_arvalid && s_axi_control_arready) begin
        rvalid_q <= 1'b1;
        s_axi_control_rdata <= s_axi_control_araddr == 13'h4 ? {30'd0, match, done}
            : s_axi_control_araddr == 13'h8 ? rom[0] : 32'd0;
      end else if (s_axi_control_rready) rvalid_q <= 1'b0;
    end
  end

  // --- the AXI4 master ----------------------------------------------------------------
  logic [2:0] state;
  logic [7:0] beat;
  logic [31:0] wcount;

  assign m_axi_mem_awvalid = state == AW;
  assign m_axi_mem_wvalid = state == W;
  assign m_axi_mem_arvalid = state == AR;
  assign m_axi_mem_bready = 1'b1;
  assign m_axi_mem_rready = 1'b1;
  assign m_axi_mem_awaddr = ADDR_BITS'(mode == 4'd6 ? 64'h3003 : 64'h1000);
  assign m_axi_mem_awsize = mode == 4'd6 ? 3'd0 : 3'($clog2(BB));
  assign m_axi_mem_awlen = mode == 4'd6 ? 8'd0 : 8'd3;
  assign m_axi_mem_awburst = 2'b01;
  assign m_axi_mem_araddr = ADDR_BITS'(mode == 4'd3 ? 64'h2000 - 64'(BB) : 64'h1000);
  assign m_axi_mem_arlen = mode == 4'd3 ? 8'd1 : 8'd3;
  assign m_axi_mem_arsize = 3'($clog2(BB));
  assign m_axi_mem_arburst = 2'b01;
  assign m_axi_mem_wdata = {(BUS_BITS / 32) {mode == 4'd5 ? wcount : mode == 4'd6 ? 32'hA1B2C3D4 : 32'(beat)}};
  assign m_axi_mem_wstrb = '1;
  assign m_axi_mem_wlast = mode == 4'd1 ? 1'b0 : mode == 4'd2 ? beat == 8'd1 : beat == m_axi_mem_awlen;

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      state <= IDLE;
      done <= 1'b0;
      match <= 1'b0;
      wcount <= '0;
      hang <= 1'b0;
    end else begin
      wcount <= wcount + 32'd1;
      case (state)
        IDLE:
        if (go && mode == 4'd8) $fatal(1, "sys_bad_master: fatal on request");
        else if (go && mode == 4'd9) hang <= 1'b1;
        else if (go) begin
          done <= 1'b0;
          match <= 1'b1;
          beat <= '0;
          state <= (mode == 4'd3 || mode == 4'd7) ? AR : AW;
        end
        AW:
        if (m_axi_mem_awready) state <= W;
        else if (mode == 4'd4) state <= IDLE;  // dropped
        W:
        if (m_axi_mem_wready) begin
          beat <= beat + 8'd1;
          if (beat == m_axi_mem_awlen) state <= B;
        end
        B:
        if (m_axi_mem_bvalid) begin
          beat <= '0;
          if (mode == 4'd0) state <= AR;
          else begin
            state <= IDLE;
            done  <= 1'b1;
          end
        end
        AR:
        if (m_axi_mem_arready) state <= R;
        else if (mode == 4'd7) state <= IDLE;  // dropped
        default:
        if (m_axi_mem_rvalid) begin
          if (m_axi_mem_rdata != {(BUS_BITS / 32) {32'(beat)}}) match <= 1'b0;
          beat <= beat + 8'd1;
          if (beat == m_axi_mem_arlen) begin
            state <= IDLE;
            done  <= 1'b1;
          end
        end
      endcase
    end
  end
endmodule
