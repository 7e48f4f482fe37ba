// IR -> ONNX ModelProto. A compiled model is saved as ONNX with qcc's integer
// ops in the "qcc" domain, so `qcc run OUT`, `qcc inspect OUT` and standard
// ONNX tools (netron, onnx.checker with custom domains) can read it.
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <string>

namespace qcc {

/// Writes `g` to `path` atomically (temporary file, then rename).
llvm::Error writeOnnx(const Graph &g, const std::string &path);

} // namespace qcc
