// Options every command that loads a model shares (--input-shape), and the
// loader call that applies them.
#pragma once

#include "frontend/OnnxLoader.h"

#include <llvm/Support/CommandLine.h>

namespace qcc {

/// Loads MODEL applying --input-shape specs.
llvm::Expected<std::unique_ptr<Graph>> loadModelWithShapes(const std::string &path,
                                                           const std::vector<std::string> &shapeSpecs);

} // namespace qcc
