// remove-identity: drops nodes that do not change their input and collapses
// chains of reshapes.
//   - Identity; Dropout (inference: the identity) whose mask nobody reads;
//     Cast to the input's own type; Expand to the input's own shape; Reshape,
//     Flatten, Squeeze, Unsqueeze or Transpose whose output shape is the input's.
//   - A Transpose that moves only size-1 axes moves no data: it becomes a Reshape.
//   - A reshape-like op (Reshape, Flatten, Squeeze, Unsqueeze, such a Transpose)
//     reading another one becomes one Reshape from the first one's input (which
//     is then removed if it restores that input's shape).
// A node whose output is a graph output is removed only if the graph output
// can keep its name (see forwardValue). Values carrying quantization info are
// left alone.
#include "passes/Pass.h"
#include "passes/Rewrite.h"

namespace qcc {

namespace {

/// Whether n passes its input 0 through unchanged.
bool isNoOp(const Graph &g, const Node &n) {
  const TensorType &in = n.inputs[0]->type, &out = n.outputs[0]->type;
  if (in != out)
    return false;
  if (isOp(n, "Identity") || isOp(n, "Cast") || isOp(n, "Expand"))
    return true;
  if (isOp(n, "Dropout")) {
    const Value *mask = n.output(1);
    return !mask || (g.users(mask).empty() && !isGraphOutput(g, mask));
  }
  return isReshapeLike(n);
}

void makeReshape(Node &n) {
  Shape shape = n.outputs[0]->type.shape;
  n.op = "Reshape";
  n.attrs.clear();
  n.attrs["shape"] = std::vector<int64_t>(shape.begin(), shape.end());
}

llvm::Error removeIdentity(Graph &g, PassStats &stats) {
  for (Node *n : nodeList(g)) {
    if (isDetached(*n) || !n->domain.empty() || n->inputs.empty() || !n->input(0) || !n->output(0))
      continue;
    if (n->outputs[0]->quant)
      continue;
    if (isNoOp(g, *n)) {
      const std::string op = n->op;
      if (forwardValue(g, *n, n->outputs[0], n->inputs[0])) {
        detachNode(*n);
        stats.count("removed " + op);
      }
      continue;
    }
    if (transposeKeepsData(*n)) {
      makeReshape(*n);
      stats.count("Transpose of size-1 axes as Reshape");
    }
    if (!isReshapeLike(*n) || isOp(*n, "Identity"))
      continue;
    Node *p = n->inputs[0]->producer;
    if (!p || !isReshapeLike(*p))
      continue;
    n->inputs[0] = p->inputs[0];
    makeReshape(*n);
    stats.count("collapsed reshape chain");
    if (n->inputs[0]->type.shape == n->outputs[0]->type.shape && !n->inputs[0]->quant &&
        forwardValue(g, *n, n->outputs[0], n->inputs[0])) {
      detachNode(*n);
      stats.count("removed Reshape");
    }
  }
  return llvm::Error::success();
}

} // namespace

const PassInfo &removeIdentityPass() {
  static const PassInfo info{"remove-identity",
                             "Remove Identity, inference Dropout and no-op Cast/Expand/Reshape/Transpose; "
                             "collapse reshape chains into one Reshape",
                             removeIdentity};
  return info;
}

} // namespace qcc
