// fuse-activations: Relu and Clip (Relu6 or any [min, max]) become the
// act_min/act_max clamp of the Conv, ConvTranspose, Gemm, MatMul or Add that
// produces their input (FusedActivation.h), so that a quantizer folds them into
// the requantization clamp. Reshape-like ops between the producer and the
// activation are looked through (a clamp commutes with them); every value on
// the way must have the next node as its only reader. Only f32 graphs.
#include "passes/FuseActivations.h"

#include "passes/FusedActivation.h"
#include "passes/Rewrite.h"

#include <cmath>

namespace qcc {

namespace {

/// The clamp an activation node applies, or none if it is not a plain clamp.
std::optional<ClampRange> activationRange(const Node &n) {
  if (isOp(n, "Relu"))
    return ClampRange{0.f, INFINITY};
  if (isOp(n, "Clip")) {
    float lo = n.getFloat("min", -INFINITY), hi = n.getFloat("max", INFINITY);
    if (std::isnan(lo) || std::isnan(hi) || lo > hi)
      return std::nullopt; // a degenerate Clip (min > max) is not a clamp range
    return ClampRange{lo, hi};
  }
  return std::nullopt;
}

/// Walks up from the activation's input through reshape-like ops. Returns the
/// fusion producer and sets `last` to the node whose output feeds `act`.
Node *findProducer(const Graph &g, const Node &act, Node *&last) {
  const Node *reader = &act;
  Value *v = act.inputs[0];
  while (true) {
    Node *p = v->producer;
    if (!p || isDetached(*p) || soleUser(g, v) != reader || p->outputs.size() != 1)
      return nullptr;
    if (reader == &act)
      last = p;
    if (isFusionProducer(*p))
      return p;
    if (!isReshapeLike(*p))
      return nullptr;
    reader = p;
    v = p->inputs[0];
  }
}

} // namespace

llvm::Error fuseActivations(Graph &g, PassStats &stats, bool (*supported)(const std::string &op)) {
  for (Node *act : nodeList(g)) {
    if (isDetached(*act) || act->inputs.size() != 1 || !act->input(0) || !act->output(0))
      continue;
    auto range = activationRange(*act);
    if (!range || act->inputs[0]->type.elem != ElemType::f32())
      continue;
    Node *last = nullptr;
    Node *producer = findProducer(g, *act, last);
    if (!producer || producer->outputs[0]->type.elem != ElemType::f32() || !supported(producer->op))
      continue;
    if (auto old = fusedClamp(*producer))
      if (std::max(old->lo, range->lo) > std::min(old->hi, range->hi))
        continue; // disjoint clamps: the composition is a constant, not a clamp
    setFusedClamp(*producer, *range, act->op);
    produceInto(*last, 0, act->outputs[0]);
    detachNode(*act);
    stats.count(act->op + " into " + producer->op);
  }
  return llvm::Error::success();
}

const PassInfo &fuseActivationsPass() {
  static const PassInfo info{
      "fuse-activations",
      "Fuse Relu and Clip into the producing Conv/ConvTranspose/Gemm/MatMul/Add as an act_min/act_max clamp",
      [](Graph &g, PassStats &s) { return fuseActivations(g, s, fusedClampSupported); }};
  return info;
}

} // namespace qcc
