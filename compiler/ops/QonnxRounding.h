// QONNX rounding modes (qonnx intquant.py resolve_rounding_mode; case-insensitive):
//   ROUND, HALF_EVEN: rint (half to even)   CEIL, FLOOR
//   UP: sign(x)*ceil(|x|)   DOWN: trunc     HALF_UP: sign(x)*floor(|x|+0.5)
//   HALF_DOWN: sign(x)*ceil(|x|-0.5)
// One parser and the rounding steps, shared by the Quant/Trunc float ops
// (ops/QonnxOps.cpp), qcc::QTrunc (ops/TruncOps.cpp) and the threshold lowering.
//
// API:
//   enum class QonnxRounding { HalfEven, Ceil, Floor, Up, Down, HalfUp, HalfDown };
//   std::optional<QonnxRounding> parseQonnxRounding(std::string name);
//       case-insensitive; ROUND and HALF_EVEN both give HalfEven; nullopt if unknown.
//   llvm::Expected<QonnxRounding> qonnxRoundingOf(const Node &n, const char *dflt);
//       n's "rounding_mode" (dflt when absent: "ROUND" for Quant, "FLOOR" for Trunc);
//       unknown -> nodeError "unknown rounding_mode '<as written>' (ROUND, HALF_EVEN, ...)".
//   template <typename T> T qonnxSign(T x);   numpy sign (NaN stays NaN)
//   template <typename T> T qonnxRound(QonnxRounding m, T x);
//       one rounding step exactly as numpy computes it in T (float or double).
//   int64_t qonnxRoundShift(int64_t acc, int shift, QonnxRounding m);
//       round_mode(acc / 2^shift) exactly in integers, shift > 0.
#pragma once

#include <llvm/Support/Error.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

namespace qcc {

class Node;

enum class QonnxRounding { HalfEven, Ceil, Floor, Up, Down, HalfUp, HalfDown };

std::optional<QonnxRounding> parseQonnxRounding(std::string name);

llvm::Expected<QonnxRounding> qonnxRoundingOf(const Node &n, const char *dflt);

/// numpy's sign: -1, 0 or 1 (NaN stays NaN; -0 gives +0).
template <typename T> T qonnxSign(T x) { return x > 0 ? T(1) : x < 0 ? T(-1) : x == 0 ? T(0) : x; }

/// One rounding step exactly as numpy computes it in T (each op rounded to T).
template <typename T> T qonnxRound(QonnxRounding m, T x) {
  switch (m) {
  case QonnxRounding::HalfEven: return std::nearbyint(x);
  case QonnxRounding::Ceil: return std::ceil(x);
  case QonnxRounding::Floor: return std::floor(x);
  case QonnxRounding::Up: return qonnxSign(x) * std::ceil(std::fabs(x));
  case QonnxRounding::Down: return std::trunc(x);
  case QonnxRounding::HalfUp: return qonnxSign(x) * std::floor(T(std::fabs(x) + T(0.5)));
  case QonnxRounding::HalfDown: return qonnxSign(x) * std::ceil(T(std::fabs(x) - T(0.5)));
  }
  return x;
}

int64_t qonnxRoundShift(int64_t acc, int shift, QonnxRounding m);

} // namespace qcc
