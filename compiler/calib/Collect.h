// Runs the float interpreter over calibration batches and collects every
// tensor's statistics (calib/Observer.h). Batches are spread over threads,
// each with its own interpreter and observer; the per-thread statistics merge
// exactly (calib/TensorStats.h), so the result does not depend on the number
// of threads or on which thread ran which batch.
#pragma once

#include "calib/TensorStats.h"
#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcc {

struct CollectOptions {
  /// Worker threads; 0 = one per hardware thread. Never more than batches.
  unsigned threads = 0;
  /// Called on the calling thread now and then with the batches done so far.
  std::function<void(int64_t done)> progress;
};

/// Statistics by value name over batches 0 .. batches-1; `batch(b)` returns
/// batch b's graph inputs and is called from several threads at once. Errors
/// name the first failing batch.
llvm::Expected<std::map<std::string, TensorStats>>
collectStatistics(const Graph &g, int64_t batches, const std::function<std::vector<Tensor>(int64_t)> &batch,
                  const CollectOptions &opts = {});

} // namespace qcc
