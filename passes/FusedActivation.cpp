#include "passes/FusedActivation.h"

#include "ops/OpRegistry.h"

#include <cmath>
#include <map>
#include <memory>
#include <mutex>

namespace qcc {

std::optional<ClampRange> fusedClamp(const Node &n) {
  if (!n.has(kActMin) && !n.has(kActMax))
    return std::nullopt;
  return ClampRange{n.getFloat(kActMin, -INFINITY), n.getFloat(kActMax, INFINITY)};
}

void setFusedClamp(Node &n, ClampRange r, const std::string &what) {
  if (auto old = fusedClamp(n)) {
    r.lo = std::max(r.lo, old->lo);
    r.hi = std::min(r.hi, old->hi);
  }
  std::string name = n.getString(kActivation, "");
  n.attrs[kActMin] = r.lo;
  n.attrs[kActMax] = r.hi;
  n.attrs[kActivation] = name.empty() ? what : name + "+" + what;
}

bool isFusionProducer(const Node &n) {
  if (!n.domain.empty())
    return false;
  for (const char *op : {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add"})
    if (n.op == op)
      return true;
  return false;
}

namespace {

/// Evaluates a one-node graph op(inputs) with act_min=0, act_max=6, where the
/// unclamped result is [-1, 7]; true when the result is [0, 6].
bool probe(const std::string &op, const std::vector<std::pair<Shape, std::vector<float>>> &inputs) {
  const OpDef *def = OpRegistry::get().lookup("", op);
  if (!def || !def->infer || !def->eval)
    return false;
  Graph g;
  Node n;
  n.op = op;
  n.name = "probe";
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor t(ElemType::f32(), inputs[i].first);
    std::copy(inputs[i].second.begin(), inputs[i].second.end(), t.data<float>());
    n.inputs.push_back(g.addConstant("in" + std::to_string(i), std::move(t)));
  }
  n.outputs.push_back(g.addValue("out", TensorType{}));
  n.attrs[kActMin] = 0.f;
  n.attrs[kActMax] = 6.f;
  n.attrs[kActivation] = std::string("Clip");
  if (def->canonicalize)
    if (auto e = def->canonicalize(n, 13)) {
      llvm::consumeError(std::move(e));
      return false;
    }
  if (auto e = def->infer(n)) {
    llvm::consumeError(std::move(e));
    return false;
  }
  const TensorType &ot = n.outputs[0]->type;
  if (ot.numElements() != 2)
    return false;
  std::vector<const Tensor *> ins;
  for (Value *v : n.inputs)
    ins.push_back(&*v->constant);
  std::vector<Tensor> outs{Tensor(ot.elem, ot.shape)};
  if (auto e = def->eval(n, ins, outs)) {
    llvm::consumeError(std::move(e));
    return false;
  }
  return outs[0].getDouble(0) == 0.0 && outs[0].getDouble(1) == 6.0;
}

bool probeOp(const std::string &op) {
  if (op == "Conv" || op == "ConvTranspose") // x = [-1, 7] as 1x1x1x2, w = 1
    return probe(op, {{{1, 1, 1, 2}, {-1.f, 7.f}}, {{1, 1, 1, 1}, {1.f}}});
  if (op == "Gemm" || op == "MatMul") // A = [[-1], [7]], B = [[1]]
    return probe(op, {{{2, 1}, {-1.f, 7.f}}, {{1, 1}, {1.f}}});
  if (op == "Add")
    return probe(op, {{{2}, {-2.f, 3.f}}, {{2}, {1.f, 4.f}}});
  return false;
}

} // namespace

bool fusedClampSupported(const std::string &op) {
  static std::mutex mu;
  static std::map<std::string, bool> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(op);
  if (it == cache.end())
    it = cache.emplace(op, probeOp(op)).first;
  return it->second;
}

} // namespace qcc
