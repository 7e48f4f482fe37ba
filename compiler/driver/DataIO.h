// Model input/output data for the CLI: .npy (batch first), .npz (input name ->
// array) or a folder of ONNX TensorProto files (input_0.pb, ...). Data holds N
// samples; a model compiled for batch B runs them N/B batches at a time.
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <string>
#include <vector>

namespace qcc {

struct Dataset {
  std::vector<Tensor> arrays; ///< one per graph input, leading dim = samples
  int64_t samples = 0;
};

/// Reads `path` and matches it to g's inputs (names, element types, shapes).
llvm::Expected<Dataset> loadDataset(const std::string &path, const Graph &g);

/// Batch `b` of the dataset as interpreter inputs (batch size from the graph).
std::vector<Tensor> sliceBatch(const Dataset &d, const Graph &g, int64_t b);

/// Concatenates per-batch results along axis 0.
Tensor stackBatches(const std::vector<Tensor> &parts);

/// Writes `.npy` (first tensor) or `.npz` (all, by name). Nothing is left
/// behind on failure.
llvm::Error writeTensors(const std::string &path, const std::vector<std::string> &names,
                         const std::vector<Tensor> &tensors);

/// npy <-> Tensor.
llvm::Expected<Tensor> readNpyTensor(const std::string &path);

} // namespace qcc
