// bnnforge: LAB binarizer, HLS C++ (Vitis HLS style; compiles with g++ for C simulation).
//
// Computes docs/SPEC.md section 3 on an NHWC stream, PE channels per beat:
//   acc[c,h,w] = sum_{i,j} weights[c][i*K+j] * x[c, h+i-P, w+j-P]     (zero padding, P = K/2)
//   out[c,h,w] = 1 (bipolar +1) iff acc >= thresholds[c], else 0 (-1)
//
// Stream formats (FINN's packing, lane 0 in the least significant bits):
//   in : ap_uint<PE*IN_BITS>, lane p = channel f*PE+p as a signed IN_BITS-bit integer
//   out: ap_uint<PE>,        bit p  = channel f*PE+p
// Parameters: weights[FOLD][PE][K*K] (signed W_BITS), thresholds[FOLD][PE] (signed ACC_BITS).
//
// Structure: a line buffer of K+1 rows; output pixel t-LAG is produced in the same
// step as input pixel t arrives (LAG = P*W+P), and the last LAG pixels of a frame
// are flushed with zero padding. One frame takes (H*W + LAG) * C/PE iterations.
#ifndef BNNFORGE_LAB_BINARIZER_HPP
#define BNNFORGE_LAB_BINARIZER_HPP

#include <ap_int.h>
#include <hls_stream.h>

template <unsigned C, unsigned H, unsigned W, unsigned K, unsigned PE, unsigned IN_BITS, unsigned W_BITS,
          unsigned ACC_BITS>
void lab_binarizer(hls::stream<ap_uint<PE * IN_BITS> > &in, hls::stream<ap_uint<PE> > &out,
                   const ap_int<W_BITS> weights[C / PE][PE][K * K], const ap_int<ACC_BITS> thresholds[C / PE][PE]) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(K % 2 == 1, "K must be odd");
    const unsigned FOLD = C / PE;
    const unsigned P = K / 2;
    const unsigned ROWS = K + 1;  // one spare row: input may write while the oldest row is still read
    const unsigned LAG = P * W + P;

    ap_uint<PE * IN_BITS> buf[ROWS][W][FOLD];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 1
#pragma HLS ARRAY_PARTITION variable = buf cyclic factor = K dim = 2

    unsigned in_row = 0, in_col = 0;    // next input pixel
    unsigned out_row = 0, out_col = 0;  // next output pixel
    for (unsigned t = 0; t < H * W + LAG; t++) {
        for (unsigned f = 0; f < FOLD; f++) {
#pragma HLS PIPELINE II = 1
            if (t < H * W) {
                buf[in_row % ROWS][in_col][f] = in.read();
            }
            if (t >= LAG) {
                ap_uint<PE> bits = 0;
                for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                    ap_int<ACC_BITS> acc = 0;
                    for (unsigned i = 0; i < K; i++) {
#pragma HLS UNROLL
                        for (unsigned j = 0; j < K; j++) {
#pragma HLS UNROLL
                            const int r = int(out_row) + int(i) - int(P);
                            const int c = int(out_col) + int(j) - int(P);
                            if (r >= 0 && r < int(H) && c >= 0 && c < int(W)) {
                                const ap_uint<PE * IN_BITS> word = buf[unsigned(r) % ROWS][unsigned(c)][f];
                                const ap_uint<IN_BITS> raw = word.range((p + 1) * IN_BITS - 1, p * IN_BITS);
                                const ap_int<IN_BITS> x = raw;  // reinterpret the bits as signed
                                acc += weights[f][p][i * K + j] * x;
                            }
                        }
                    }
                    bits[p] = (acc >= thresholds[f][p]) ? 1 : 0;
                }
                out.write(bits);
            }
        }
        if (t < H * W) {
            if (++in_col == W) { in_col = 0; in_row++; }
        }
        if (t >= LAG) {
            if (++out_col == W) { out_col = 0; out_row++; }
        }
    }
}

#endif
