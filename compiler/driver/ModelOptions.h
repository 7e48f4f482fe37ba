// Options every command that loads a model shares (--input-shape), and the
// loader call that applies them.
#pragma once

#include "frontend/OnnxLoader.h"

#include <llvm/Support/CommandLine.h>

namespace qcc {

/// Loads MODEL applying --input-shape specs. Pre-quantized QDQ / QOperator
/// models are lowered onto qcc's integer ops; QONNX models keep their float
/// semantics (their Quant nodes run as qonnx runs them) until
/// lowerQonnxModel.
llvm::Expected<std::unique_ptr<Graph>> loadModelWithShapes(const std::string &path,
                                                           const std::vector<std::string> &shapeSpecs);

/// For `qcc compile`: when `g` has QONNX nodes, rewrites its Quant nodes into
/// QDQ form (quant/ImportQonnx.h) and lowers that onto integer ops keeping the
/// model's own grids; an error (naming the node and op) when a QONNX node is
/// left that is not lowered to integers yet. No-op for other models.
llvm::Error lowerQonnxModel(Graph &g, const std::string &path);

} // namespace qcc
