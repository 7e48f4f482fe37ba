// Options every command that loads a model shares (--input-shape), and the
// loader call that applies them.
#pragma once

#include "frontend/OnnxLoader.h"

#include <llvm/Support/CommandLine.h>

#include <map>
#include <string>
#include <vector>

namespace qcc {

/// Loads MODEL applying --input-shape specs. Pre-quantized QDQ / QOperator
/// models are lowered onto qcc's integer ops; QONNX models keep their float
/// semantics (their Quant nodes run as qonnx runs them) until
/// lowerQonnxModel.
llvm::Expected<std::unique_ptr<Graph>> loadModelWithShapes(const std::string &path,
                                                           const std::vector<std::string> &shapeSpecs);

/// For `qcc compile`: when `g` has QONNX nodes, rewrites channels-last ops
/// and data movement so that quantized ops sit between Quants
/// (quant/QonnxLayout.h), folds a Relu on a graph input into its Quant, rewrites
/// its Quant nodes into QDQ form (quant/ImportQonnx.h) and lowers that onto
/// integer ops keeping the model's own grids; an error (naming the node and op) when a QONNX node is
/// left that is not lowered to integers yet. No-op for other models.
///
/// `ranges` (calibrated real ranges by value name, optional): a graph input
/// the model reads unquantized (ESPCN subpixel: a Conv straight on the
/// input) gets an 8-bit Quant from its calibrated range (uint8 when the
/// range is >= 0), chosen by qcc: each is described in `qccQuantized`
/// (for the console and report.json). Without `ranges` such an input is
/// an error naming the op that reads it.
llvm::Error lowerQonnxModel(Graph &g, const std::string &path,
                            const std::map<std::string, std::pair<float, float>> *ranges = nullptr,
                            std::vector<std::string> *qccQuantized = nullptr);

} // namespace qcc
