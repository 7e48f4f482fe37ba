#include "calib/Observer.h"

#include "support/Error.h"

namespace qcc {

CalibrationObserver::CalibrationObserver(const Graph &g) : g_(&g) {}

void CalibrationObserver::attach(Interpreter &it) {
  it.observer = [this](const Node &n, llvm::ArrayRef<Tensor> outs) {
    for (size_t i = 0; i < outs.size() && i < n.outputs.size(); ++i)
      if (n.outputs[i] && !outs[i].empty())
        observe(*n.outputs[i], outs[i], &n);
  };
}

void CalibrationObserver::observe(const Value &v, const Tensor &t, const Node *producer) {
  if (t.elem() != ElemType::f32() || !error_.empty())
    return;
  if (stats_[&v].add(t.data<float>(), t.size()))
    return;
  std::string what = producer ? producer->describe() + ": output" : std::string("graph input");
  error_ = fmt::format("{} '{}' holds NaN or Inf; calibration needs finite values", what, v.name);
}

llvm::Error CalibrationObserver::observeInputs(const std::vector<Tensor> &inputs) {
  for (size_t i = 0; i < inputs.size() && i < g_->inputs.size(); ++i)
    observe(*g_->inputs[i], inputs[i], nullptr);
  return takeError();
}

llvm::Error CalibrationObserver::takeError() {
  if (error_.empty())
    return llvm::Error::success();
  std::string msg = std::move(error_);
  error_.clear();
  return makeError("{}", msg);
}

std::map<std::string, TensorStats> CalibrationObserver::release() {
  std::map<std::string, TensorStats> out;
  for (auto &[v, s] : stats_)
    out[v->name] = std::move(s);
  stats_.clear();
  return out;
}

} // namespace qcc
