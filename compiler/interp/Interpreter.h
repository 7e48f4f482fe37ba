// The float reference interpreter: runs a graph node by node with each op's
// eval kernel. It defines the accuracy baseline and drives calibration, so it
// releases each intermediate tensor after its last use and looks ops up once.
#pragma once

#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace qcc {

struct OpDef;

class Interpreter {
public:
  /// Checks that every node has a kernel; the graph must outlive the interpreter.
  static llvm::Expected<Interpreter> create(const Graph &g);

  /// Runs one batch. `inputs` follow g.inputs order and must match their types.
  llvm::Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);

  /// Called after each node with its outputs (calibration observers, per-layer
  /// comparisons).
  std::function<void(const Node &, llvm::ArrayRef<Tensor>)> observer;

private:
  struct Step {
    const Node *node;
    const OpDef *def;
    std::vector<int> ins, outs, freeAfter;
  };
  explicit Interpreter(const Graph &g) : g_(&g) {}
  /// A zeroed output tensor, reusing a released buffer of the same size if any.
  Tensor allocate(const TensorType &t);
  /// Returns a slot's buffer to the pool when nothing else shares it.
  void release(Tensor &t);

  const Graph *g_;
  std::vector<Step> steps_;
  std::vector<Tensor> slots_;
  std::vector<int> inputSlots_, outputSlots_;
  std::vector<bool> constSlot_;
  /// Buffers of released intermediates by byte size: successive runs (and
  /// layers of equal size) reuse them instead of mapping fresh pages.
  std::multimap<size_t, std::shared_ptr<std::byte>> pool_;
};

} // namespace qcc
