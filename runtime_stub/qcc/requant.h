// qcc kernel library: requantization (bit-exact twin of compiler/quant/Requant.cpp).
//
//   y = clamp(zero_point + R(acc), lo, hi)
//
// R(acc) scales an integer accumulator by M under one of three conventions:
//   kRoundTflite: gemmlowp saturating rounding doubling high multiply, then a
//                 rounding right shift (M = multiplier * 2^-31 * 2^-shift).
//   kRoundSingle: one rounding shift of the 64-bit product acc * multiplier by
//                 31 + shift (round half up).
//   kRoundOnnx:   float32(acc) * scale, rounded half to even.
// The accumulator is saturated to int32 first in every mode.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace qcc_rt {

enum : int32_t { kRoundTflite = 0, kRoundSingle = 1, kRoundOnnx = 2 };

// Per-channel (channels == number of output channels) or per-tensor
// (channels == 1) requantizer with the output zero point and clamp.
struct Requant {
  const int32_t *multiplier;
  const int32_t *shift;
  const float *scale;
  int32_t channels, rounding, zero_point, lo, hi;
};

namespace detail {

inline int32_t saturate32(int64_t v) {
  return int32_t(v < INT32_MIN ? int64_t(INT32_MIN) : v > INT32_MAX ? int64_t(INT32_MAX) : v);
}

inline int32_t clamp32(int64_t v, int32_t lo, int32_t hi) { return int32_t(v < lo ? lo : v > hi ? hi : v); }

inline int32_t sat_round_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN)
    return INT32_MAX;
  const int64_t ab = int64_t(a) * int64_t(b);
  const int64_t nudge = ab >= 0 ? (int64_t(1) << 30) : 1 - (int64_t(1) << 30);
  return int32_t((ab + nudge) / (int64_t(1) << 31)); // truncating division, as gemmlowp
}

inline int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  if (exponent <= 0)
    return x;
  const int32_t mask = int32_t((int64_t(1) << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// Round half to even of a float in the default rounding mode.
inline float round_even(float v) { return std::nearbyint(v); }

} // namespace detail

// R(acc) exactly as qcc::requantize, including saturation.
inline int32_t requantize(int64_t acc, int32_t multiplier, int32_t shift, float scale, int32_t rounding) {
  if (rounding == kRoundOnnx) {
    float v = float(detail::saturate32(acc)) * scale;
    v = std::fmin(std::fmax(v, -2147483648.f), 2147483520.f); // largest float below 2^31
    return int32_t(detail::round_even(v));
  }
  if (multiplier == 0)
    return 0;
  const int32_t x = detail::saturate32(acc);
  if (rounding == kRoundSingle) {
    // |x * multiplier| < 2^62: the product fits int64 (no 128-bit arithmetic).
    const int64_t prod = int64_t(x) * multiplier;
    const int total = 31 + shift; // >= 0 for shift >= -31
    if (total <= 0)
      return detail::saturate32(prod);
    if (total >= 63) // |prod| < 2^62: (prod + 2^(total-1)) >> total is 0
      return 0;
    return detail::saturate32((prod + (int64_t(1) << (total - 1))) >> total);
  }
  // tflite
  const int left = shift < 0 ? -shift : 0;
  const int right = shift > 0 ? shift : 0;
  int32_t v = x;
  if (left)
    v = detail::saturate32(int64_t(x) * (int64_t(1) << (left > 32 ? 32 : left)));
  const int32_t high = detail::sat_round_doubling_high_mul(v, multiplier);
  if (right > 31) // beyond int32: rounds to 0
    return 0;
  return detail::rounding_divide_by_pot(high, right);
}

// clamp(zero_point + R_channel(acc), lo, hi).
// Reads only the arrays the rounding uses: scale for kRoundOnnx, multiplier
// and shift otherwise.
inline int32_t requantize_output(int64_t acc, const Requant &rq, int32_t channel) {
  const int32_t c = rq.channels == 1 ? 0 : channel;
  const int32_t r = rq.rounding == kRoundOnnx ? requantize(acc, 0, 0, rq.scale[c], kRoundOnnx)
                                              : requantize(acc, rq.multiplier[c], rq.shift[c], 0.f, rq.rounding);
  return detail::clamp32(int64_t(rq.zero_point) + r, rq.lo, rq.hi);
}

} // namespace qcc_rt
