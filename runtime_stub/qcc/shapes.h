// qcc kernel library: the shape and parameter structs every kernel takes.
#pragma once

#include "requant.h"

#include <cstdint>

namespace qcc_rt {

// Convolution (qcc::QConv), NHWC activations. 1-D convs use h = kh = 1,
// sh = dh = 1, pt = 0. Weights in the IR are int8 OIHW [cout, cin/group, kh, kw].
struct ConvShape {
  int32_t n, h, w, cin, oh, ow, cout, kh, kw, sh, sw, dh, dw, pt, pl, group, x_zero_point;
};

// Fully connected / QGemm: x [m, k], IR weights int8 [n, k], y [m, n].
struct GemmShape {
  int32_t m, n, k;
};

// MaxPool, NHWC. Padded taps are ignored.
struct PoolShape {
  int32_t n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

// Broadcasting binary ops over up to 6 dims (elements, physical order; y is
// written contiguously in that order; a stride of 0 broadcasts).
struct Broadcast {
  int32_t rank;
  int64_t dims[6];
  int64_t a_stride[6];
  int64_t b_stride[6];
};

// qcc::QAdd. a/b: per-tensor requantizers to the shared scale (their
// zero_point/lo/hi are unused); out: the output requantizer.
struct AddParams {
  int32_t a_zero_point, b_zero_point;
  Requant a, b, out;
};

// qcc::QMul.
struct MulParams {
  int32_t a_zero_point, b_zero_point;
  Requant out;
};

// qcc::QAddFma. scalar_a selects the fma nesting of MLAS's scalar-a kernel.
struct AddFmaParams {
  float a_ratio, b_ratio;
  int32_t a_zero_point, b_zero_point, out_zero_point, lo, hi, scalar_a;
};

} // namespace qcc_rt
