// How requantization parameters are stored on integer nodes, so the quantize
// pass, the QDQ importer, the reference kernels and the emitters agree:
//   <prefix>multiplier (ints), <prefix>shift (ints), <prefix>scale (floats):
//       one entry per output channel, or one for the tensor;
//   rounding (string): "tflite" | "single" | "onnx".
#pragma once

#include "ir/Graph.h"
#include "quant/Requant.h"

#include <llvm/Support/Error.h>

#include <string>
#include <vector>

namespace qcc {

llvm::Expected<Rounding> parseRounding(const std::string &s);

void setRequants(Node &n, const std::vector<Requant> &rqs, const std::string &prefix = "");
/// Reads what setRequants wrote; checks that the three lists agree in length
/// and that `channels` (when > 0) matches a per-channel list.
llvm::Expected<std::vector<Requant>> getRequants(const Node &n, int64_t channels, const std::string &prefix = "");

/// Output range of an integer node: out_min / out_max attributes, or the
/// full range of its output element type.
void outputClamp(const Node &n, int32_t &lo, int32_t &hi);

/// The output side of a per-tensor requantizing node: y = clamp(zp + R(acc)).
struct OutputRequant {
  Requant rq;
  int32_t zp = 0, lo = 0, hi = 0;
  int32_t apply(int64_t acc) const { return requantizeOutput(acc, rq, zp, lo, hi); }
};

/// Reads the single requantizer, out_zero_point and the output clamp.
llvm::Expected<OutputRequant> getOutputRequant(const Node &n);

} // namespace qcc
