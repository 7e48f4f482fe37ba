// qcc kernel library: scalar reference elementwise ops (namespace qcc_rt::ref).
#pragma once

#include "shapes.h"

#include <cmath>

namespace qcc_rt {

namespace detail {

// Calls f(out_index, a_index, b_index) over a Broadcast in its physical order.
template <typename F> void for_each_broadcast(const Broadcast &s, F &&f) {
  int64_t total = 1;
  for (int32_t d = 0; d < s.rank; ++d)
    total *= s.dims[d];
  if (total <= 0)
    return;
  int64_t idx[6] = {0, 0, 0, 0, 0, 0};
  int64_t ia = 0, ib = 0;
  for (int64_t o = 0; o < total; ++o) {
    f(o, ia, ib);
    for (int32_t d = s.rank - 1; d >= 0; --d) {
      ia += s.a_stride[d];
      ib += s.b_stride[d];
      if (++idx[d] < s.dims[d])
        break;
      ia -= s.a_stride[d] * idx[d];
      ib -= s.b_stride[d] * idx[d];
      idx[d] = 0;
    }
  }
}

// QAdd, onnx rounding: nearbyint(float(a - za) * sa + float(b - zb) * sb),
// each product rounded to float before the sum. "+ 0.0f" keeps a compiler that
// contracts a * b + c into an fma (gcc's default in GNU mode, clang's within an
// expression) from fusing a product into the sum: an fma with a 0 addend is the
// correctly rounded product, and the sum's operands are then no products.
inline int32_t add_onnx(int32_t a, int32_t b, const AddParams &p) {
  const float pa = float(a - p.a_zero_point) * p.a.scale[0] + 0.0f;
  const float pb = float(b - p.b_zero_point) * p.b.scale[0] + 0.0f;
  const float r = std::nearbyint(pa + pb) + float(p.out.zero_point);
  return int32_t(std::fmin(std::fmax(r, float(p.out.lo)), float(p.out.hi)));
}

constexpr int kAddLeftShift = 20;

// QAdd, tflite/single rounding.
inline int32_t add_fixed(int32_t a, int32_t b, const AddParams &p) {
  const int32_t sa = requantize(int64_t(a - p.a_zero_point) * (1 << kAddLeftShift), p.a.multiplier[0], p.a.shift[0],
                                0.f, p.a.rounding);
  const int32_t sb = requantize(int64_t(b - p.b_zero_point) * (1 << kAddLeftShift), p.b.multiplier[0], p.b.shift[0],
                                0.f, p.b.rounding);
  return requantize_output(int64_t(sa) + sb, p.out, 0);
}

inline int32_t add_fma_one(float a, float b, float offset, const AddFmaParams &p) {
  const float v = p.scalar_a ? std::fma(b, p.b_ratio, std::fma(a, p.a_ratio, offset))
                             : std::fma(a, p.a_ratio, std::fma(b, p.b_ratio, offset));
  const float r = std::nearbyint(v);
  return int32_t(std::fmin(std::fmax(r, float(p.lo)), float(p.hi)));
}

inline float add_fma_offset(const AddFmaParams &p) {
  return float(p.out_zero_point) - std::fma(p.a_ratio, float(p.a_zero_point), p.b_ratio * float(p.b_zero_point));
}

} // namespace detail

namespace ref {

template <typename TA, typename TB, typename TY>
void add(const Broadcast &s, const TA *a, const TB *b, const AddParams &p, TY *y) {
  const bool onnx = p.a.rounding == kRoundOnnx;
  detail::for_each_broadcast(s, [&](int64_t o, int64_t ia, int64_t ib) {
    const int32_t va = int32_t(a[ia]), vb = int32_t(b[ib]);
    y[o] = TY(onnx ? detail::add_onnx(va, vb, p) : detail::add_fixed(va, vb, p));
  });
}

template <typename TA, typename TB, typename TY>
void mul(const Broadcast &s, const TA *a, const TB *b, const MulParams &p, TY *y) {
  detail::for_each_broadcast(s, [&](int64_t o, int64_t ia, int64_t ib) {
    const int64_t acc = (int64_t(a[ia]) - p.a_zero_point) * (int64_t(b[ib]) - p.b_zero_point);
    y[o] = TY(requantize_output(acc, p.out, 0));
  });
}

template <typename TA, typename TB, typename TY>
void add_fma(const Broadcast &s, const TA *a, const TB *b, const AddFmaParams &p, TY *y) {
  const float offset = detail::add_fma_offset(p);
  detail::for_each_broadcast(s, [&](int64_t o, int64_t ia, int64_t ib) {
    y[o] = TY(detail::add_fma_one(float(a[ia]), float(b[ib]), offset, p));
  });
}

template <typename TX, typename TY>
void requantize_tensor(int64_t count, const TX *x, int32_t x_zero_point, const Requant &rq, TY *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = TY(requantize_output(int64_t(x[i]) - x_zero_point, rq, 0));
}

template <typename TX, typename TY> void lut(int64_t count, const TX *x, const int32_t *table, int32_t qmin, TY *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = TY(table[int32_t(x[i]) - qmin]);
}

template <typename T> void clip(int64_t count, const T *x, int32_t lo, int32_t hi, T *y) {
  for (int64_t i = 0; i < count; ++i) {
    const int32_t v = int32_t(x[i]);
    y[i] = T(v < lo ? lo : v > hi ? hi : v);
  }
}

// ONNX QuantizeLinear: saturate(round_half_even(x / scale) + zero_point).
template <typename TY>
void quantize(int64_t count, const float *x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax, TY *y) {
  const double lo = double(qmin), hi = double(qmax);
  for (int64_t i = 0; i < count; ++i) {
    const double v = double(std::nearbyint(x[i] / scale)) + double(zero_point);
    y[i] = TY(std::isnan(v) ? 0 : std::fmin(std::fmax(v, lo), hi));
  }
}

template <typename TX> void dequantize(int64_t count, const TX *x, float scale, int32_t zero_point, float *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = float(int64_t(x[i]) - zero_point) * scale;
}

} // namespace ref
} // namespace qcc_rt
