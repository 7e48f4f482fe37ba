// qcc kernel library: scalar reference pooling (namespace qcc_rt::ref).
#pragma once

#include "shapes.h"

#include <limits>

namespace qcc_rt {
namespace ref {

// Max over the taps inside the image; a window with none gives T's lowest value.
template <typename T> void maxpool_nhwc(const PoolShape &s, const T *x, T *y) {
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t oy = 0; oy < s.oh; ++oy)
      for (int32_t ox = 0; ox < s.ow; ++ox)
        for (int32_t c = 0; c < s.c; ++c) {
          T best = std::numeric_limits<T>::lowest();
          for (int32_t ky = 0; ky < s.kh; ++ky) {
            const int32_t iy = oy * s.sh - s.pt + ky * s.dh;
            if (iy < 0 || iy >= s.h)
              continue;
            for (int32_t kx = 0; kx < s.kw; ++kx) {
              const int32_t ix = ox * s.sw - s.pl + kx * s.dw;
              if (ix < 0 || ix >= s.w)
                continue;
              const T v = x[((size_t(b) * s.h + iy) * s.w + ix) * s.c + c];
              best = v > best ? v : best;
            }
          }
          y[((size_t(b) * s.oh + oy) * s.ow + ox) * s.c + c] = best;
        }
}

// qcc::QGlobalAveragePool: acc = sum over hw of (x - x_zp), requantized per tensor.
template <typename TX, typename TY>
void global_avgpool_nhwc(int32_t n, int32_t hw, int32_t c, const TX *x, int32_t x_zero_point, const Requant &rq,
                         TY *y) {
  for (int32_t b = 0; b < n; ++b)
    for (int32_t ch = 0; ch < c; ++ch) {
      int64_t acc = 0;
      for (int32_t i = 0; i < hw; ++i)
        acc += int64_t(x[(size_t(b) * hw + i) * c + ch]) - x_zero_point;
      y[size_t(b) * c + ch] = TY(requantize_output(acc, rq, 0));
    }
}

} // namespace ref
} // namespace qcc_rt
