// ONNX frontend: ModelProto -> qcc IR.
//
// Loads the protobuf (external data confined to the model's folder), sorts the
// nodes, fixes symbolic dimensions, canonicalizes each node for its opset, infers
// static shapes, and folds every node whose inputs are constant (this removes the
// Shape/Gather/Concat/Unsqueeze chains that PyTorch exports).
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <map>
#include <memory>
#include <string>

namespace qcc {

struct LoadOptions {
  /// --input-shape name=1x3x224x224: replaces the input's declared shape.
  std::map<std::string, Shape> inputShapes;
  /// Value given to a symbolic leading (batch) dimension.
  int64_t defaultBatch = 1;
  /// Graph inputs replaced by these constants before import (tests bind the
  /// non-data inputs of ONNX node tests this way).
  std::map<std::string, Tensor> bindInputs;
  /// Largest tensor accepted, in elements (guards against absurd sizes).
  int64_t maxElements = int64_t(1) << 32;
};

/// Loads `path`. Errors name the file, node, op and domain/opset.
llvm::Expected<std::unique_ptr<Graph>> loadOnnx(const std::string &path, const LoadOptions &opts = {});

/// Parses "x=1x3x224x224" into (name, shape).
llvm::Expected<std::pair<std::string, Shape>> parseInputShape(const std::string &spec);

} // namespace qcc
