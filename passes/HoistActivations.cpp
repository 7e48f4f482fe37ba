// hoist-activations: moves a Relu or Clip above the reshape-like ops
// (Reshape, Flatten, Squeeze, Unsqueeze, a Transpose of size-1 axes) between
// it and the Conv/ConvTranspose/Gemm/MatMul/Add that produces its input:
//   Gemm -> Reshape -> Relu   becomes   Gemm -> Relu -> Reshape
// A clamp commutes exactly with ops that move no data, and afterwards the
// activation directly follows its producer, where fuse-activations or a
// quantizer's requantization clamp takes it, and the reshapes meet the next
// ones so remove-identity can collapse them. Every value on the way must have
// one reader. The activation keeps its node name; the value it now produces is
// named "<its old output>_hoisted", and the last reshape produces the old output.
#include "passes/FusedActivation.h"
#include "passes/Pass.h"
#include "passes/Rewrite.h"

namespace qcc {

namespace {

bool isClampActivation(const Node &n) {
  return (isOp(n, "Relu") || isOp(n, "Clip")) && n.inputs.size() == 1 && n.input(0) && n.output(0) &&
         n.inputs[0]->type.elem == ElemType::f32();
}

/// The reshape-like chain above `act` (nearest first) when it ends at a fusion
/// producer and every value on it has one reader.
std::vector<Node *> chainToProducer(const Graph &g, const Node &act) {
  std::vector<Node *> chain;
  const Node *reader = &act;
  Value *v = act.inputs[0];
  while (true) {
    Node *p = v->producer;
    if (!p || isDetached(*p) || soleUser(g, v) != reader)
      return {};
    if (isFusionProducer(*p))
      return chain;
    if (!isReshapeLike(*p) || p->outputs.size() != 1)
      return {};
    chain.push_back(p);
    reader = p;
    v = p->inputs[0];
  }
}

llvm::Error hoistActivations(Graph &g, PassStats &stats) {
  for (Node *act : nodeList(g)) {
    if (isDetached(*act) || !isClampActivation(*act))
      continue;
    std::vector<Node *> chain = chainToProducer(g, *act);
    if (chain.empty())
      continue;
    // New order: producer -> act' -> chain (top to bottom) -> old output.
    Node *top = chain.back();
    Value *src = top->inputs[0];
    Value *out = act->outputs[0];
    Value *hoisted = g.addValue(g.uniqueName(out->name + "_hoisted"), src->type);
    auto moved = std::make_unique<Node>(*act);
    moved->inputs = {src};
    moved->outputs = {hoisted};
    detachNode(*act);
    g.insertNodeBefore(top, std::move(moved));
    top->inputs[0] = hoisted;
    produceInto(*chain.front(), 0, out);
    stats.count(act->op + " above " + std::to_string(chain.size()) + " reshape(s)");
  }
  return llvm::Error::success();
}

} // namespace

const PassInfo &hoistActivationsPass() {
  static const PassInfo info{"hoist-activations",
                             "Move Relu and Clip above reshape-like ops so they directly follow their producer",
                             hoistActivations};
  return info;
}

} // namespace qcc
