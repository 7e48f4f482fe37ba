// Post-training quantization: float graph + calibrated ranges -> integer graph.
//
// Weights: symmetric int8 per output channel in [-127, 127] (per tensor on
// request). Activations: asymmetric per tensor (int8 by default; uint8 or
// symmetric on request). Other widths (2..16 bits, globally or per node):
// quant/Precision.h. Bias: int32 at s_in * s_w with the input zero point
// folded in. Every scale change is a fixed-point requantization (quant/Requant.h)
// in the chosen rounding convention. Ops without an integer lowering become
// explicit float islands (DequantizeLinear -> op -> QuantizeLinear), listed in
// the result; nothing falls back to float silently.
#pragma once

#include "ir/Graph.h"
#include "ir/Quant.h"
#include "quant/Precision.h"

#include <llvm/Support/Error.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcc {

struct QuantizeOptions {
  Rounding rounding = Rounding::TFLite;
  bool perChannelWeights = true;
  bool actUnsigned = false;  ///< uint8 activations instead of int8
  bool actSymmetric = false; ///< zero point 0
  unsigned weightBits = 8;   ///< symmetric grid [-(2^(N-1)-1), 2^(N-1)-1]
  unsigned actBits = 8;      ///< activations (unsigned: [0, 2^N-1])
  /// Per ONNX node name: its weight width and its output activation width.
  std::map<std::string, NodePrecision> nodePrecision;
};

/// Calibrated real range of each float value, by value name.
using RangeMap = std::map<std::string, std::pair<float, float>>;

struct QuantizeResult {
  std::unique_ptr<Graph> graph;
  /// float value name -> the integer value standing for it (for per-layer
  /// comparisons and the report).
  std::map<std::string, std::string> quantizedName;
  /// Nodes left in float between DequantizeLinear and QuantizeLinear.
  std::vector<std::string> floatIslands;
};

llvm::Expected<QuantizeResult> quantizeGraph(const Graph &g, const RangeMap &ranges, const QuantizeOptions &opts);

/// Scale and zero point of a real range [lo, hi] on the opts.actBits grid.
QuantInfo chooseActivationQuant(float lo, float hi, const QuantizeOptions &opts);
/// The same on a `bits` grid (signedness and symmetry from opts).
QuantInfo chooseActivationQuant(float lo, float hi, const QuantizeOptions &opts, unsigned bits);

} // namespace qcc
