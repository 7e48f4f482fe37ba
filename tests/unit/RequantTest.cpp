// Requantization against independent references: exact rational arithmetic
// (__int128 and long double) for the fixed-point conventions, and float32
// round-half-to-even for onnx. Sweeps the int32 edges and random accumulators
// with a fixed seed.
#include "quant/Requant.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <limits>
#include <random>

using namespace qcc;

namespace {

// Rounds num / 2^k to nearest, ties toward +inf (round half up).
int64_t divPow2HalfUp(__int128 num, int k) {
  __int128 d = __int128(1) << k;
  __int128 q = num >= 0 ? num / d : -((-num + d - 1) / d); // floor
  __int128 r = num - q * d;                                 // in [0, d)
  return int64_t(2 * r >= d ? q + 1 : q);
}

// Rounds num / 2^k to nearest, ties away from zero.
int64_t divPow2HalfAway(__int128 num, int k) {
  __int128 d = __int128(1) << k;
  __int128 a = num < 0 ? -num : num;
  __int128 q = (2 * a + d) / (2 * d);
  return int64_t(num < 0 ? -q : q);
}

int64_t clamp32(int64_t v) {
  return std::min<int64_t>(std::max<int64_t>(v, INT32_MIN), INT32_MAX);
}

std::vector<int64_t> accumulators() {
  std::vector<int64_t> v = {0, 1, -1, 2, -2, 3, -3, 127, -128, 255, 1 << 15, -(1 << 15), INT32_MAX, INT32_MIN,
                            INT32_MAX - 1, INT32_MIN + 1, 1 << 24, -(1 << 24), (1 << 24) + 1};
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> any(INT32_MIN, INT32_MAX), small(-100000, 100000);
  for (int i = 0; i < 2000; ++i)
    v.push_back(i % 2 ? any(rng) : small(rng));
  return v;
}

std::vector<double> multipliers() {
  std::vector<double> v = {1e-9, 3.1e-6, 0.0003, 0.00390625, 0.0125, 0.1, 0.25, 0.5, 0.49999999, 0.75, 0.999999, 1.0, 1.5, 3.0, 100.0};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> e(-20, 2);
  for (int i = 0; i < 50; ++i)
    v.push_back(std::pow(2.0, e(rng)));
  return v;
}

} // namespace

TEST(Requant, MultiplierIsNearestQ31) {
  for (double real : multipliers()) {
    FixedPoint fp = quantizeMultiplier(real);
    ASSERT_GE(fp.multiplier, 1 << 30) << real;
    long double back = (long double)fp.multiplier * std::pow(2.0L, -31 - fp.shift);
    EXPECT_LE(std::fabs(double(back / real - 1)), std::ldexp(1.0, -30)) << real;
  }
  EXPECT_EQ(quantizeMultiplier(0.0).multiplier, 0);
  EXPECT_EQ(quantizeMultiplier(1e-30).multiplier, 0); // below 2^-62 * 2^31 resolution
  FixedPoint one = quantizeMultiplier(1.0);
  EXPECT_EQ(one.multiplier, 1 << 30);
  EXPECT_EQ(one.shift, -1);
}

TEST(Requant, SingleIsOneRoundingShiftOfTheProduct) {
  for (double real : multipliers()) {
    Requant rq = Requant::make(real, Rounding::Single);
    for (int64_t acc : accumulators()) {
      __int128 prod = __int128(acc) * rq.fp.multiplier;
      int64_t want = clamp32(divPow2HalfUp(prod, 31 + rq.fp.shift));
      ASSERT_EQ(requantize(acc, rq), want) << "acc " << acc << " real " << real;
    }
  }
}

// gemmlowp: x << left (saturating), then the high 32 bits of the doubled
// product rounded to nearest with ties toward +inf (its nudge of 2^30, or
// 1 - 2^30 for negative products, then truncation), then a right shift rounded
// half away from zero.
TEST(Requant, TFLiteIsDoubleRounding) {
  for (double real : multipliers()) {
    Requant rq = Requant::make(real, Rounding::TFLite);
    int left = std::max(0, -rq.fp.shift), right = std::max(0, rq.fp.shift);
    for (int64_t acc : accumulators()) {
      int64_t x = clamp32(acc * (int64_t(1) << left));
      int64_t high = clamp32(divPow2HalfUp(__int128(x) * rq.fp.multiplier, 31));
      int64_t want = right > 31 ? 0 : divPow2HalfAway(high, right);
      ASSERT_EQ(requantize(acc, rq), want) << "acc " << acc << " real " << real;
    }
  }
}

TEST(Requant, OnnxIsFloat32RoundHalfEven) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  Requant rq = Requant::make(0.5, Rounding::Onnx);
  EXPECT_EQ(requantize(1, rq), 0);  // 0.5 -> 0
  EXPECT_EQ(requantize(3, rq), 2);  // 1.5 -> 2
  EXPECT_EQ(requantize(5, rq), 2);  // 2.5 -> 2
  EXPECT_EQ(requantize(-3, rq), -2);
  for (double real : multipliers()) {
    float s = float(real);
    Requant r = Requant::make(real, Rounding::Onnx, s);
    for (int64_t acc : accumulators()) {
      double v = double(float(acc) * s); // the float32 product, exactly as float
      double want = std::clamp(std::nearbyint(v), double(INT32_MIN), 2147483520.0);
      ASSERT_EQ(requantize(acc, r), int64_t(want)) << acc << " " << real;
    }
  }
}

TEST(Requant, OutputAddsZeroPointAndClamps) {
  Requant rq = Requant::make(0.25, Rounding::TFLite);
  EXPECT_EQ(requantizeOutput(400, rq, 10, -128, 127), 110);
  EXPECT_EQ(requantizeOutput(4000, rq, 10, -128, 127), 127);
  EXPECT_EQ(requantizeOutput(-4000, rq, 10, -128, 127), -128);
  EXPECT_EQ(requantizeOutput(-4000, rq, 10, 0, 255), 0);
}

TEST(Requant, GemmlowpPrimitiveEdges) {
  EXPECT_EQ(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN), INT32_MAX);
  EXPECT_EQ(roundingDivideByPOT(5, 1), 3);   // 2.5 -> 3
  EXPECT_EQ(roundingDivideByPOT(-5, 1), -3); // -2.5 -> -3
  EXPECT_EQ(roundingDivideByPOT(-4, 1), -2);
  EXPECT_EQ(roundingDivideByPOT(7, 0), 7);
}
