// report.json of `qcc compile`: per layer bit widths, scales, zero points and
// the SQNR of the layer's output against float on calibration samples.
#pragma once

#include "driver/DataIO.h"
#include "ir/Graph.h"
#include "quant/QuantizeGraph.h"

#include <llvm/Support/JSON.h>

namespace qcc {

struct LayerAccuracy {
  double signal = 0, noise = 0; ///< sums of f^2 and (f - dequantized)^2
  double sqnrDb() const;
};

/// Runs the float graph and the integer graph on `samples` samples of `data`
/// and accumulates, for every float value the integer graph represents, the
/// SQNR of the dequantized integer value against the float one.
llvm::Expected<std::map<std::string, LayerAccuracy>> measureLayers(const Graph &floatGraph, const QuantizeResult &q,
                                                                  const Dataset &data, int64_t samples);

llvm::json::Object buildReport(const Graph &floatGraph, const QuantizeResult &q,
                               const std::map<std::string, LayerAccuracy> &acc, const llvm::json::Object &settings);

} // namespace qcc
