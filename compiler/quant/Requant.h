// Requantization: the one place where an integer accumulator is scaled to an
// output quantization grid. Passes, the integer reference kernels, every
// emitter and the kernel tests call these functions; nothing else rescales.
//
//   y = clamp(zp_out + R(acc), qmin, qmax)
//
// where R approximates acc * M with M = s_in * s_w / s_out, in one of three
// conventions (DESIGN.md "Numerics"):
//   tflite: M = m * 2^-31 * 2^-shift, m in [2^30, 2^31). acc is saturated to
//           int32, left-shifted when shift < 0, then gemmlowp's saturating
//           rounding doubling high multiply and a rounding (half away from
//           zero) right shift.
//   single: one rounding shift of the 64-bit product acc * m by 31 + shift
//           (round half up: add 2^(n-1), arithmetic shift). Cheapest on DSPs
//           and FPGAs.
//   onnx:   float32(acc) * float32(M), rounded half to even, as ONNX Runtime
//           (MLAS) does; M is computed in float32 like ONNX Runtime does.
#pragma once

#include "ir/Quant.h"

#include <cstdint>

namespace qcc {

/// M ~= multiplier * 2^-31 * 2^-shift. multiplier == 0 means M == 0.
struct FixedPoint {
  int32_t multiplier = 0;
  int32_t shift = 0; ///< right shift; negative means a left shift (M >= 1)
};

/// The nearest Q31 fixed-point form of `real` (>= 0). Multipliers too small to
/// represent (shift > 62) become 0; real >= 2^31 is clamped.
FixedPoint quantizeMultiplier(double real);

/// One requantization: the fixed-point form and the float32 scale (for onnx).
struct Requant {
  FixedPoint fp;
  float scale = 0.f; ///< float32 M, used by Rounding::Onnx
  Rounding rounding = Rounding::TFLite;

  /// Builds both forms from the real multiplier. For Rounding::Onnx pass the
  /// float32 product ONNX Runtime computes (e.g. float(s_in) * s_w / s_out in
  /// float32); `real` is used for the fixed-point form.
  static Requant make(double real, Rounding r, float scaleF32);
  static Requant make(double real, Rounding r) { return make(real, r, float(real)); }
};

/// R(acc): acc scaled by M under the rounding convention, saturated to int32.
int32_t requantize(int64_t acc, const Requant &rq);

/// clamp(zp + R(acc), qmin, qmax).
int32_t requantizeOutput(int64_t acc, const Requant &rq, int32_t zp, int32_t qmin, int32_t qmax);

// gemmlowp primitives, exposed for kernels and tests.
int32_t saturatingRoundingDoublingHighMul(int32_t a, int32_t b);
int32_t roundingDivideByPOT(int32_t x, int exponent);

} // namespace qcc
