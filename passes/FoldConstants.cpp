// fold-constants: evaluates every node whose inputs are all constant (or that
// only reads static types, like Shape) with its op's float kernel, and turns
// its outputs into constants. The frontend folds at import; this pass re-folds
// after other rewrites.
#include "passes/Pass.h"
#include "passes/Rewrite.h"

#include "ops/OpRegistry.h"
#include "support/Error.h"

namespace qcc {

namespace {

llvm::Error foldConstants(Graph &g, PassStats &stats) {
  for (Node *n : nodeList(g)) {
    if (isDetached(*n))
      continue;
    const OpDef *def = OpRegistry::get().lookup(n->domain, n->op);
    if (!def || !def->eval)
      continue;
    bool allConst = true;
    for (Value *in : n->inputs)
      allConst &= !in || in->isConstant();
    if (!allConst && !def->foldFromTypes)
      continue;
    std::vector<const Tensor *> ins;
    for (Value *in : n->inputs)
      ins.push_back(in && in->isConstant() ? &*in->constant : nullptr);
    std::vector<Tensor> outs(n->outputs.size());
    for (size_t i = 0; i < outs.size(); ++i)
      if (Value *o = n->outputs[i])
        outs[i] = Tensor(o->type.elem, o->type.shape);
    if (auto e = def->eval(*n, ins, outs))
      return withContext(std::move(e), "folding a constant node");
    for (size_t i = 0; i < outs.size(); ++i)
      if (Value *o = n->outputs[i])
        o->constant = std::move(outs[i]);
    detachNode(*n);
    stats.count(n->op);
  }
  return llvm::Error::success();
}

} // namespace

const PassInfo &foldConstantsPass() {
  static const PassInfo info{"fold-constants",
                             "Evaluate nodes whose inputs are all constant and replace them by constants",
                             foldConstants};
  return info;
}

} // namespace qcc
