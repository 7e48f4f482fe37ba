// Collects calibration statistics while the float interpreter runs: every f32
// graph input and every f32 node output gets a TensorStats (calib/TensorStats.h)
// keyed by value name. Attach it to an Interpreter, then call observeInputs
// with each batch before running it.
#pragma once

#include "calib/TensorStats.h"
#include "interp/Interpreter.h"

#include <llvm/Support/Error.h>

#include <map>
#include <string>
#include <vector>

namespace qcc {

class CalibrationObserver {
public:
  explicit CalibrationObserver(const Graph &g);

  /// Installs the observer callback on `it` (which must run the same graph).
  void attach(Interpreter &it);
  /// Records one batch of graph inputs (in g.inputs order).
  llvm::Error observeInputs(const std::vector<Tensor> &inputs);
  /// The first error the interpreter callback met (a NaN or Inf activation);
  /// check it after each run.
  llvm::Error takeError();

  /// Statistics by value name, one entry per observed value.
  std::map<std::string, TensorStats> release();

private:
  void observe(const Value &v, const Tensor &t, const Node *producer);

  const Graph *g_;
  std::map<const Value *, TensorStats> stats_;
  std::string error_;
};

} // namespace qcc
