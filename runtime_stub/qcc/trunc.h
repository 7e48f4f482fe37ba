// qcc kernel library: qcc::QTrunc (QONNX Trunc, with the average pooling before it).
//   acc = offset + sum over the window's taps inside the image of (x - x_zero_point)
//   y   = clamp(round_mode(acc / 2^shift), lo, hi)      (shift < 0: acc * 2^-shift)
// Windows NHWC (PoolShape; dilations are 1); trunc_elementwise: one tap per element.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shapes.h"

namespace qcc_rt {

enum : int32_t {
  kTruncFloor = 0, kTruncCeil = 1, kTruncHalfEven = 2, kTruncUp = 3, kTruncDown = 4, kTruncHalfUp = 5,
  kTruncHalfDown = 6
};

struct TruncParams { int32_t x_zero_point, offset, shift, mode, lo, hi; };

// round_mode(acc / 2^shift), clamped. Arithmetic shift gives the floor; the low
// bits, compared with half, decide the other modes.
inline int32_t trunc_value(int64_t acc, const TruncParams &p) {
  int64_t v;
  if (p.shift <= 0) {
    v = acc * (int64_t(1) << -p.shift);
  } else {
    const int64_t half = int64_t(1) << (p.shift - 1), low = acc & ((half << 1) - 1);
    const int64_t fl = (acc - low) / (half << 1); // exact division: the floor
    const bool neg = acc < 0;
    switch (p.mode) {
    case kTruncCeil: v = fl + (low != 0); break;
    case kTruncUp: v = fl + (low != 0 && !neg); break;
    case kTruncDown: v = fl + (low != 0 && neg); break;
    case kTruncHalfEven: v = fl + (low > half || (low == half && (fl & 1))); break;
    case kTruncHalfUp: v = fl + (low > half || (low == half && !neg)); break;
    case kTruncHalfDown: v = fl + (low > half || (low == half && neg)); break;
    default: v = fl; break;
    }
  }
  v = v < p.lo ? p.lo : v;
  v = v > p.hi ? p.hi : v;
  return int32_t(v);
}

template <typename TX, typename TY>
void trunc_elementwise(int64_t count, const TX *x, const TruncParams &p, TY *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = TY(trunc_value(int64_t(p.offset) + int64_t(x[i]) - p.x_zero_point, p));
}

template <typename TX, typename TY>
void trunc_pool_nhwc(const PoolShape &s, const TX *x, const TruncParams &p, TY *y) {
  for (int32_t b = 0; b < s.n; ++b)
    for (int32_t oy = 0; oy < s.oh; ++oy)
      for (int32_t ox = 0; ox < s.ow; ++ox) {
        TY *yp = y + ((size_t(b) * size_t(s.oh) + size_t(oy)) * size_t(s.ow) + size_t(ox)) * size_t(s.c);
        for (int32_t c = 0; c < s.c; ++c) {
          int64_t acc = p.offset;
          for (int32_t ky = 0; ky < s.kh; ++ky) {
            const int32_t iy = oy * s.sh - s.pt + ky;
            if (iy < 0 || iy >= s.h)
              continue;
            for (int32_t kx = 0; kx < s.kw; ++kx) {
              const int32_t ix = ox * s.sw - s.pl + kx;
              if (ix >= 0 && ix < s.w)
                acc += int64_t(x[((size_t(b) * size_t(s.h) + size_t(iy)) * size_t(s.w) + size_t(ix)) * size_t(s.c) +
                                 size_t(c)]) - p.x_zero_point;
            }
          }
          yp[c] = TY(trunc_value(acc, p));
        }
      }
}

namespace ref { // scalar already: the reference twins are the kernels
using qcc_rt::trunc_elementwise;
using qcc_rt::trunc_pool_nhwc;
} // namespace ref

} // namespace qcc_rt
