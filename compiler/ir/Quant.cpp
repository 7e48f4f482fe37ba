#include "ir/Quant.h"

#include <fmt/format.h>

namespace qcc {

const char *roundingName(Rounding r) {
  switch (r) {
  case Rounding::TFLite: return "tflite";
  case Rounding::Single: return "single";
  case Rounding::Onnx: return "onnx";
  }
  return "?";
}

int64_t QuantInfo::qmin() const {
  if (!isSigned)
    return 0;
  int64_t m = -(int64_t(1) << (bits - 1));
  return narrow ? m + 1 : m;
}

int64_t QuantInfo::qmax() const {
  if (!isSigned)
    return narrow ? (int64_t(1) << bits) - 2 : (int64_t(1) << bits) - 1;
  return (int64_t(1) << (bits - 1)) - 1;
}

std::string QuantInfo::str() const {
  std::string s = fmt::format("{}{}{}", isSigned ? 'i' : 'u', bits, narrow ? " narrow" : "");
  if (scale.size() == 1)
    s += fmt::format(" scale={:g} zp={}", scale[0], zeroPoint.empty() ? 0 : zeroPoint[0]);
  else
    s += fmt::format(" axis={} scales[{}]", axis, scale.size());
  return s + fmt::format(" round={}", roundingName(rounding));
}

} // namespace qcc
