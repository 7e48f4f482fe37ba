#include "quant/Requant.h"

#include <cmath>
#include <limits>

namespace qcc {

namespace {
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

int32_t saturate32(int64_t v) { return int32_t(v < kInt32Min ? kInt32Min : v > kInt32Max ? kInt32Max : v); }
} // namespace

FixedPoint quantizeMultiplier(double real) {
  if (!(real > 0.0))
    return {};
  int exponent = 0;
  double q = std::frexp(real, &exponent); // real = q * 2^exponent, q in [0.5, 1)
  int64_t m = std::llround(q * double(int64_t(1) << 31));
  if (m == (int64_t(1) << 31)) { // q rounded up to 1.0
    m /= 2;
    ++exponent;
  }
  if (exponent > 31) // M >= 2^31: no accumulator survives this; clamp
    return {int32_t(kInt32Max), -31};
  if (-exponent > 62) // too small to matter: every int32 accumulator maps to 0
    return {};
  return {int32_t(m), -exponent};
}

Requant Requant::make(double real, Rounding r, float scaleF32) {
  Requant rq;
  rq.fp = quantizeMultiplier(real);
  rq.scale = scaleF32;
  rq.rounding = r;
  return rq;
}

int32_t saturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min())
    return std::numeric_limits<int32_t>::max();
  int64_t ab = int64_t(a) * int64_t(b);
  int64_t nudge = ab >= 0 ? (int64_t(1) << 30) : 1 - (int64_t(1) << 30);
  // Division truncates toward zero, as gemmlowp's reference does.
  return int32_t((ab + nudge) / (int64_t(1) << 31));
}

int32_t roundingDivideByPOT(int32_t x, int exponent) {
  if (exponent <= 0)
    return x;
  const int32_t mask = int32_t((int64_t(1) << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t requantize(int64_t acc, const Requant &rq) {
  switch (rq.rounding) {
  case Rounding::TFLite: {
    if (rq.fp.multiplier == 0)
      return 0;
    int64_t x = saturate32(acc);
    int left = rq.fp.shift < 0 ? -rq.fp.shift : 0;
    int right = rq.fp.shift > 0 ? rq.fp.shift : 0;
    if (left)
      x = saturate32(x * (int64_t(1) << left));
    int32_t high = saturatingRoundingDoublingHighMul(int32_t(x), rq.fp.multiplier);
    if (right > 31) // beyond int32: the result rounds to 0 (or -0)
      return 0;
    return roundingDivideByPOT(high, right);
  }
  case Rounding::Single: {
    if (rq.fp.multiplier == 0)
      return 0;
    __int128 prod = __int128(saturate32(acc)) * rq.fp.multiplier;
    int total = 31 + rq.fp.shift; // >= 0: shift >= -31
    if (total == 0)
      return saturate32(int64_t(prod));
    __int128 rounded = (prod + (__int128(1) << (total - 1))) >> total;
    return saturate32(rounded > kInt32Max ? kInt32Max : rounded < kInt32Min ? kInt32Min : int64_t(rounded));
  }
  case Rounding::Onnx: {
    float v = float(saturate32(acc)) * rq.scale;
    v = std::fmin(std::fmax(v, float(kInt32Min)), 2147483520.f); // largest float below 2^31
    return int32_t(std::nearbyint(v));
  }
  }
  return 0;
}

int32_t requantizeOutput(int64_t acc, const Requant &rq, int32_t zp, int32_t qmin, int32_t qmax) {
  int64_t y = int64_t(zp) + requantize(acc, rq);
  return int32_t(y < qmin ? qmin : y > qmax ? qmax : y);
}

} // namespace qcc
