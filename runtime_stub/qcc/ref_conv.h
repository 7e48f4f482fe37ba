// qcc kernel library: scalar reference convolution and GEMM (namespace
// qcc_rt::ref). Plain loops that the optimized kernels are tested against.
// Reference packing: conv weights OHWI [cout][kh][kw][cin/group], GEMM
// weights unchanged [n][k]. No scratch.
#pragma once

#include "shapes.h"

#include <cstring>

namespace qcc_rt {
namespace ref {

inline size_t conv_packed_weight_bytes(const ConvShape &s) {
  return size_t(s.cout) * size_t(s.kh) * size_t(s.kw) * size_t(s.cin / s.group);
}

inline void conv_pack_weights(const ConvShape &s, const int8_t *w_oihw, int8_t *packed) {
  const int32_t cg = s.cin / s.group;
  for (int32_t o = 0; o < s.cout; ++o)
    for (int32_t c = 0; c < cg; ++c)
      for (int32_t ky = 0; ky < s.kh; ++ky)
        for (int32_t kx = 0; kx < s.kw; ++kx)
          packed[((size_t(o) * s.kh + ky) * s.kw + kx) * cg + c] = w_oihw[((size_t(o) * cg + c) * s.kh + ky) * s.kw + kx];
}

inline size_t conv_scratch_bytes(const ConvShape &) { return 0; }

template <typename TX, typename TY>
void conv_nhwc(const ConvShape &s, const TX *x, const int8_t *w_packed, const int32_t *bias, const Requant &rq, TY *y,
               void *) {
  const int32_t cg = s.cin / s.group, og = s.cout / s.group;
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t oy = 0; oy < s.oh; ++oy)
      for (int32_t ox = 0; ox < s.ow; ++ox) {
        TY *yp = y + ((size_t(b) * s.oh + oy) * s.ow + ox) * s.cout;
        for (int32_t o = 0; o < s.cout; ++o) {
          const int32_t g = o / og;
          int32_t acc = bias[o];
          for (int32_t ky = 0; ky < s.kh; ++ky) {
            const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
            for (int32_t kx = 0; kx < s.kw; ++kx) {
              const int32_t ix = ox * s.sw - s.pl + kx * s.dw;
              const int8_t *wp = w_packed + ((size_t(o) * s.kh + ky) * s.kw + kx) * cg;
              if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) {
                const TX *xp = x + ((size_t(b) * s.h + iy) * s.w + ix) * s.cin + size_t(g) * cg;
                for (int32_t c = 0; c < cg; ++c)
                  acc += int32_t(xp[c]) * int32_t(wp[c]);
              } else { // padding reads the input zero point
                for (int32_t c = 0; c < cg; ++c)
                  acc += s.x_zero_point * int32_t(wp[c]);
              }
            }
          }
          yp[o] = TY(requantize_output(acc, rq, o));
        }
      }
}

inline size_t gemm_packed_weight_bytes(const GemmShape &s) { return size_t(s.n) * size_t(s.k); }

inline void gemm_pack_weights(const GemmShape &s, const int8_t *w_nk, int8_t *packed) {
  std::memcpy(packed, w_nk, gemm_packed_weight_bytes(s));
}

inline size_t gemm_scratch_bytes(const GemmShape &) { return 0; }

template <typename TX, typename TY>
void gemm(const GemmShape &s, const TX *x, const int8_t *w_packed, const int32_t *bias, const Requant &rq, TY *y,
          void *) {
  for (int32_t m = 0; m < s.m; ++m)
    for (int32_t o = 0; o < s.n; ++o) {
      int32_t acc = bias[o];
      for (int32_t k = 0; k < s.k; ++k)
        acc += int32_t(x[size_t(m) * s.k + k]) * int32_t(w_packed[size_t(o) * s.k + k]);
      y[size_t(m) * s.n + o] = TY(requantize_output(acc, rq, o));
    }
}

} // namespace ref
} // namespace qcc_rt
