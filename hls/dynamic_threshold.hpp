// bnnforge: DyBNN dynamic threshold, HLS C++ (Vitis HLS style; compiles with g++ for C simulation).
//
// Computes docs/SPEC.md section 4's compare on an NHWC stream, PE channels per beat:
//   out[c,h,w] = 1 (bipolar +1) iff x[c,h,w] >= T[c], else 0 (-1)      (tie gives +1)
// where T (C values per frame) arrives on a second stream, produced by the hyper
// branch from the same frame. T for a frame can only exist after the whole frame
// passed the hyper branch, so the frame is buffered first; under DATAFLOW the
// frame buffer between the two processes becomes a ping-pong buffer (the next
// frame is loaded while this one is compared), one frame per H*W*C/PE cycles.
//
// Stream formats (FINN's packing, lane 0 in the least significant bits):
//   in : ap_uint<PE*IN_BITS>, lane p = channel f*PE+p, signed IN_BITS-bit integer
//   thr: ap_uint<PE*T_BITS>,  C/PE beats per frame, lane p = T[f*PE+p], signed
//   out: ap_uint<PE>,         bit p = channel f*PE+p
#ifndef BNNFORGE_DYNAMIC_THRESHOLD_HPP
#define BNNFORGE_DYNAMIC_THRESHOLD_HPP

#include <ap_int.h>
#include <hls_stream.h>

namespace bnnforge_dynthresh {

template <unsigned FOLD, unsigned HW, unsigned PE, unsigned IN_BITS>
void load_frame(hls::stream<ap_uint<PE * IN_BITS> > &in, ap_uint<PE * IN_BITS> frame[HW * FOLD]) {
    for (unsigned i = 0; i < HW * FOLD; i++) {
#pragma HLS PIPELINE II = 1
        frame[i] = in.read();
    }
}

template <unsigned FOLD, unsigned HW, unsigned PE, unsigned IN_BITS, unsigned T_BITS>
void compare_frame(const ap_uint<PE * IN_BITS> frame[HW * FOLD], hls::stream<ap_uint<PE * T_BITS> > &thr,
                   hls::stream<ap_uint<PE> > &out) {
    ap_uint<PE * T_BITS> t[FOLD];
    for (unsigned f = 0; f < FOLD; f++) {
#pragma HLS PIPELINE II = 1
        t[f] = thr.read();
    }
    unsigned f = 0;
    for (unsigned i = 0; i < HW * FOLD; i++) {
#pragma HLS PIPELINE II = 1
        const ap_uint<PE * IN_BITS> word = frame[i];
        ap_uint<PE> bits = 0;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<IN_BITS> xraw = word.range((p + 1) * IN_BITS - 1, p * IN_BITS);
            const ap_uint<T_BITS> traw = t[f].range((p + 1) * T_BITS - 1, p * T_BITS);
            const ap_int<IN_BITS> x = xraw;  // reinterpret the bits as signed
            const ap_int<T_BITS> th = traw;
            bits[p] = (x >= th) ? 1 : 0;
        }
        out.write(bits);
        f = (f == FOLD - 1) ? 0 : f + 1;
    }
}

}  // namespace bnnforge_dynthresh

template <unsigned C, unsigned HW, unsigned PE, unsigned IN_BITS, unsigned T_BITS>
void dynamic_threshold(hls::stream<ap_uint<PE * IN_BITS> > &in, hls::stream<ap_uint<PE * T_BITS> > &thr,
                       hls::stream<ap_uint<PE> > &out) {
    static_assert(C % PE == 0, "PE must divide C");
#pragma HLS DATAFLOW
    ap_uint<PE * IN_BITS> frame[HW * (C / PE)];
    bnnforge_dynthresh::load_frame<C / PE, HW, PE, IN_BITS>(in, frame);
    bnnforge_dynthresh::compare_frame<C / PE, HW, PE, IN_BITS, T_BITS>(frame, thr, out);
}

#endif
