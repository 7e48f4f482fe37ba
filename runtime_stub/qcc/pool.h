// qcc kernel library: pooling, NHWC, vectorized over channels.
#pragma once

#include "epilogue.h"
#include "ref_pool.h"

namespace qcc_rt {

// Max over the taps inside the image; a window with none gives T's lowest value.
template <typename T> void maxpool_nhwc(const PoolShape &s, const T *x, T *y) {
  const int32_t C = s.c;
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t oy = 0; oy < s.oh; ++oy)
      for (int32_t ox = 0; ox < s.ow; ++ox) {
        T *yp = y + ((size_t(b) * size_t(s.oh) + size_t(oy)) * size_t(s.ow) + size_t(ox)) * size_t(C);
        for (int32_t c = 0; c < C; ++c)
          yp[c] = std::numeric_limits<T>::lowest();
        for (int32_t ky = 0; ky < s.kh; ++ky) {
          const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
          if (iy < 0 || iy >= s.h)
            continue;
          for (int32_t kx = 0; kx < s.kw; ++kx) {
            const int32_t ix = ox * s.sw - s.pl + kx * s.dw;
            if (ix < 0 || ix >= s.w)
              continue;
            const T *xp = x + ((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) + size_t(ix)) * size_t(C);
            for (int32_t c = 0; c < C; ++c)
              yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];
          }
        }
      }
}

// qcc::QGlobalAveragePool: acc = sum over hw of (x - x_zp) (64-bit), requantized per tensor.
template <typename TX, typename TY>
void global_avgpool_nhwc(int32_t n, int32_t hw, int32_t c, const TX *x, int32_t x_zero_point, const Requant &rq,
                         TY *y) {
  using namespace detail;
  const RqTable1 t(rq);
  constexpr int32_t kBlock = 256;
  int64_t acc[kBlock];
  int32_t v[kBlock];
  for (int32_t b = 0; b < n; ++b)
    for (int32_t c0 = 0; c0 < c; c0 += kBlock) {
      const int32_t cn = c - c0 < kBlock ? c - c0 : kBlock;
      for (int32_t i = 0; i < cn; ++i)
        acc[i] = 0;
      for (int32_t p = 0; p < hw; ++p) {
        const TX *xp = x + (size_t(b) * size_t(hw) + size_t(p)) * size_t(c) + size_t(c0);
        for (int32_t i = 0; i < cn; ++i)
          acc[i] += int64_t(xp[i]);
      }
      for (int32_t i = 0; i < cn; ++i) {
        const int64_t sum = acc[i] - int64_t(x_zero_point) * hw;
        v[i] = int32_t(sum < INT32_MIN ? int64_t(INT32_MIN) : sum > INT32_MAX ? int64_t(INT32_MAX) : sum);
      }
      rq_apply<true>(v, cn, t.t);
      narrow(v, cn, y + size_t(b) * size_t(c) + size_t(c0));
    }
}

} // namespace qcc_rt
