// The narrowest accumulator a QConv / QGemm needs, proven from its constants:
// acc_o = bias_o + sum_k w_ok * x_k with every x_k (and the padding value)
// anywhere in the input's integer range [xmin, xmax] (integerRange: its type's
// range, e.g. [0, 15] for u4, narrowed by the producer's clamp, e.g. the Clip
// of a QCDQ input or a requantizing op's out_min / out_max). Per channel the
// exact extremes are
//   bias_o + sum_k min(w_ok * xmin, w_ok * xmax)  and  bias_o + sum_k max(...),
// which each x_k reaches independently; `bits` is the smallest signed width
// holding every channel's range.
#pragma once

#include "ir/Graph.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace qcc::cpp {

struct AccumulatorBound {
  int64_t lo = 0, hi = 0; ///< extremes of acc over all channels and inputs
  int bits = 0;           ///< narrowest two's complement accumulator for [lo, hi]
  /// max over channels of |bias_o| + sum_k |w_ok| * storageMax: bounds every
  /// partial sum the reference (int32, bias first) and the kernels (inputs
  /// offset by up to 128 for dot-product instructions) form; int32 is safe
  /// when it is at most INT32_MAX.
  int64_t partialBound = 0;
};

/// w: [channels][K] row-major integer weights; bias: channels values (or empty).
/// storageMax: largest |value| an input element's storage (offset by the
/// kernels) can hold, 255 for 8-bit storage.
AccumulatorBound accumulatorBound(const std::vector<int8_t> &w, int64_t channels, const std::vector<int32_t> &bias,
                                  int64_t xmin, int64_t xmax, int64_t storageMax);

/// Values an integer value can take, from its type and what produced it:
/// clamps (Clip, the out_min / out_max of qcc ops, Lut tables) and data
/// movement (reshapes, transposes, max pooling, concatenation, constant pads).
std::pair<int64_t, int64_t> integerRange(const Value *v);

/// Smallest b with -2^(b-1) <= lo and hi <= 2^(b-1) - 1.
int signedBitsFor(int64_t lo, int64_t hi);

} // namespace qcc::cpp
