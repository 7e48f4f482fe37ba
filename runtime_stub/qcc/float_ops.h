// Float kernels for float islands (ops left in float32 between a
// DequantizeLinear and a QuantizeLinear, e.g. a Softmax head). They are the
// same code the float reference interpreter runs (compiler/ops/ActivationOps.cpp
// and Simd.h call these), so generated code matches it bit for bit, provided
// both are compiled without -ffast-math and with -ffp-contract=off.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__GNUC__)
#define QCC_RT_INLINE inline __attribute__((always_inline))
#else
#define QCC_RT_INLINE inline
#endif

namespace qcc_rt {

/// exp(x) for float32, branch-free so that it vectorizes: x = n*ln2 + r with
/// |r| <= ln2/2; exp(r) by a minimax polynomial (about 1 ulp); 2^n from
/// exponent bits. Inputs are clamped to where 2^n is a normal float, so
/// exp(-inf) gives ~1e-38 instead of 0.
QCC_RT_INLINE float fast_exp(float x) {
  x = x > -87.3f ? x : -87.3f;
  x = x < 88.37f ? x : 88.37f;
  const float roundMagic = 12582912.0f; // 1.5 * 2^23: adding it rounds to an integer
  float t = x * 1.44269504088896341f + roundMagic;
  float n = t - roundMagic;
  int32_t ni;
  std::memcpy(&ni, &t, sizeof ni);
  ni -= 0x4B400000; // the integer n, read from t's mantissa
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/// Sum with 16 independent partial sums in a fixed order (vectorizable, and
/// the same result however it is vectorized: float adds are not reassociated).
template <typename T> QCC_RT_INLINE T lane_sum(const T *x, int64_t n) {
  T part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k)
      part[k] += x[i + k];
  for (; i < n; ++i)
    part[0] += x[i];
  T r = 0;
  for (int k = 0; k < 16; ++k)
    r += part[k];
  return r;
}

template <typename T> QCC_RT_INLINE T max_of(T a, T b) { return a > b ? a : b; }

/// Softmax (or LogSoftmax) of one contiguous row; `row_max` is its maximum.
template <typename T, typename Exp>
QCC_RT_INLINE void softmax_row(const T *x, T *y, int64_t len, bool log_mode, T row_max, Exp exp_of) {
  for (int64_t i = 0; i < len; ++i)
    y[i] = exp_of(x[i] - row_max);
  const T sum = lane_sum(y, len);
  if (log_mode) {
    const T lse = row_max + std::log(sum);
    for (int64_t i = 0; i < len; ++i)
      y[i] = x[i] - lse;
  } else {
    const T inv = T(1) / sum;
    for (int64_t i = 0; i < len; ++i)
      y[i] *= inv;
  }
}

/// Softmax along the middle axis of [outer, len, inner] blocks, every inner
/// loop over `inner` contiguous elements. scratch: 2 * inner values.
template <typename T, typename Exp>
QCC_RT_INLINE void softmax_strided(const T *x, T *y, int64_t outer, int64_t len, int64_t inner, bool log_mode,
                                   T *scratch, Exp exp_of) {
  T *m = scratch, *s = scratch + inner;
  for (int64_t o = 0; o < outer; ++o) {
    const T *xb = x + o * len * inner;
    T *yb = y + o * len * inner;
    for (int64_t j = 0; j < inner; ++j) {
      m[j] = -std::numeric_limits<T>::infinity();
      s[j] = T(0);
    }
    for (int64_t k = 0; k < len; ++k)
      for (int64_t j = 0; j < inner; ++j)
        m[j] = max_of(m[j], xb[k * inner + j]);
    for (int64_t k = 0; k < len; ++k)
      for (int64_t j = 0; j < inner; ++j) {
        T e = exp_of(xb[k * inner + j] - m[j]);
        yb[k * inner + j] = e;
        s[j] += e;
      }
    if (log_mode) {
      for (int64_t j = 0; j < inner; ++j)
        s[j] = m[j] + std::log(s[j]);
      for (int64_t k = 0; k < len; ++k)
        for (int64_t j = 0; j < inner; ++j)
          yb[k * inner + j] = xb[k * inner + j] - s[j];
    } else {
      for (int64_t j = 0; j < inner; ++j)
        s[j] = T(1) / s[j];
      for (int64_t k = 0; k < len; ++k)
        for (int64_t j = 0; j < inner; ++j)
          yb[k * inner + j] *= s[j];
    }
  }
}

/// Softmax over `axis` of a tensor of `rank` dims as [outer, len, inner] blocks;
/// coerce2d (ONNX before opset 13) flattens every dim from `axis` on into len.
inline void softmax_extents(const int64_t *shape, int64_t rank, int64_t axis, bool coerce2d, int64_t &outer,
                            int64_t &len, int64_t &inner) {
  outer = len = inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis)
      outer *= shape[d];
    else if (d == axis || coerce2d)
      len *= shape[d];
    else
      inner *= shape[d];
  }
}

/// Float-island Softmax / LogSoftmax of a float32 tensor seen as
/// [outer, len, inner]. scratch: 2 * inner floats (unused when inner == 1).
inline void softmax(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, bool log_mode,
                    float *scratch) {
  auto e = [](float v) { return fast_exp(v); };
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o) {
      const float *row = x + o * len;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < len; ++i)
        m = max_of(m, row[i]);
      softmax_row(row, y + o * len, len, log_mode, m, e);
    }
  } else {
    softmax_strided(x, y, outer, len, inner, log_mode, scratch, e);
  }
}

} // namespace qcc_rt
