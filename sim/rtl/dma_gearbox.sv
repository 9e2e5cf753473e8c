// bnnforge DMA: byte gearbox between two word widths, any ratio (docs/SPEC.md, "DMA engines").
//
// A continuous little-endian byte stream: input word k's byte 0 follows input word k-1's
// last byte; output words are cut from the same byte sequence. Positions are counted in
// lanes of G = gcd(IN_BYTES, OUT_BYTES) bytes, the unit every input lands on and every
// output leaves from, so an integer ratio costs no more than a plain width converter.
//
// Holds at most IN + OUT - G bytes. An input word is accepted when fewer than OUT bytes
// remain after this cycle's output, which keeps both sides at full rate: one output word
// per cycle when OUT <= IN, one input word per cycle when OUT > IN (a proof is in the SPEC).
// out_valid depends on registered state only; in_ready also sees out_ready (same cycle).
// `flush` (a level): no more input comes, so fewer than OUT bytes go out as a last,
// partial word (bytes above the held ones are zero). `clear` drops everything held.
module dma_gearbox #(
    parameter int IN_BYTES  = 8,
    parameter int OUT_BYTES = 1
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic                   clear,
    input  logic                   flush,
    input  logic                   in_valid,
    output logic                   in_ready,
    input  logic [ 8*IN_BYTES-1:0] in_data,
    output logic                   out_valid,
    input  logic                   out_ready,
    output logic [8*OUT_BYTES-1:0] out_data
);
  function automatic integer gcd(input integer a, input integer b);
    integer x, y, t;
    x = a;
    y = b;
    while (y != 0) begin
      t = x % y;
      x = y;
      y = t;
    end
    gcd = x;
  endfunction

  localparam int G = gcd(IN_BYTES, OUT_BYTES);
  localparam int LW = 8 * G;  // bits per lane
  localparam int IL = IN_BYTES / G;  // lanes per input word
  localparam int OL = OUT_BYTES / G;  // lanes per output word
  localparam int CAP = IL + OL - 1;  // lanes held at most
  localparam int CW = $clog2(CAP + 1);

  logic [CAP*LW-1:0] buf_q, shifted, nxt;
  logic [CW-1:0] cnt_q, rem;
  logic full_word, out_fire, in_fire;

  assign full_word = cnt_q >= CW'(OL);
  assign out_valid = full_word || (flush && cnt_q != '0);
  assign out_data = buf_q[8*OUT_BYTES-1:0];
  assign out_fire = out_valid && out_ready;
  // lanes left after this cycle's output (a partial word leaves nothing)
  assign rem = !out_fire ? cnt_q : full_word ? cnt_q - CW'(OL) : '0;
  assign in_ready = rem < CW'(OL);
  assign in_fire = in_valid && in_ready;

  generate
    if (CAP > OL) begin : g_shift
      assign shifted = out_fire ? {(8 * OUT_BYTES)'(0), buf_q[CAP*LW-1:8*OUT_BYTES]} : buf_q;
    end else begin : g_whole  // one output word empties the buffer
      assign shifted = out_fire ? '0 : buf_q;
    end
  endgenerate

  always_comb begin
    nxt = shifted;
    // the input lands right above the remaining lanes: rem < OL, so r*LW + 8*IN_BYTES <= CAP*LW
    if (in_fire) for (int r = 0; r < OL; r++) if (rem == CW'(r)) nxt[r*LW+:8*IN_BYTES] = in_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n || clear) begin
      cnt_q <= '0;
      buf_q <= '0;
    end else begin
      buf_q <= nxt;
      cnt_q <= rem + (in_fire ? CW'(IL) : CW'(0));
    end
  end
endmodule
