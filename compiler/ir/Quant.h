// Quantization parameters attached to a value.
//
// On a float value this means "fake-quantized to this grid" (before lowering);
// on an integer value it describes what the integers stand for:
//   real = scale[c] * (q - zeroPoint[c])   with c the index along `axis`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qcc {

/// Requantization rounding conventions (DESIGN.md "Numerics").
enum class Rounding : uint8_t {
  TFLite, ///< gemmlowp: saturating doubling high multiply + rounding shift
  Single, ///< one rounding shift of the 64-bit product
  Onnx,   ///< float32 rescale, round half to even (as ONNX Runtime)
};

const char *roundingName(Rounding r);

struct QuantInfo {
  std::vector<float> scale;       ///< one per tensor, or one per channel along axis
  std::vector<int64_t> zeroPoint; ///< same length as scale
  int64_t axis = -1;              ///< -1: per tensor
  unsigned bits = 8;
  bool isSigned = true;
  bool narrow = false; ///< symmetric range [-(2^(b-1)-1), 2^(b-1)-1]
  Rounding rounding = Rounding::TFLite;

  bool perChannel() const { return axis >= 0; }
  int64_t qmin() const;
  int64_t qmax() const;
  std::string str() const;
};

} // namespace qcc
