#include "quant/ImportQcdq.h"

#include "ops/OpRegistry.h"
#include "support/Error.h"

#include <algorithm>

namespace qcc {

namespace {

bool isOnnxOp(const Node *n, const char *op) { return n && n->domain.empty() && n->op == op; }

bool isGraphIo(const Graph &g, const Value *v) {
  return std::find(g.inputs.begin(), g.inputs.end(), v) != g.inputs.end() ||
         std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

/// Smallest width N in 2..7 whose signed / unsigned range holds [lo, hi]; 0 if none.
unsigned widthFor(int64_t lo, int64_t hi, bool isSigned) {
  for (unsigned n = 2; n < 8; ++n) {
    const int64_t qmin = isSigned ? -(int64_t(1) << (n - 1)) : 0;
    const int64_t qmax = isSigned ? (int64_t(1) << (n - 1)) - 1 : (int64_t(1) << n) - 1;
    if (lo >= qmin && hi <= qmax)
      return n;
  }
  return 0;
}

llvm::Error reinfer(Node &n) {
  const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
  if (!def)
    return nodeError(n, "op is not registered");
  return def->infer(n);
}

} // namespace

llvm::Expected<int> narrowQcdq(Graph &g) {
  std::vector<Node *> clips;
  for (const auto &n : g.nodes())
    if (isOnnxOp(n.get(), "Clip"))
      clips.push_back(n.get());
  int narrowed = 0;
  for (Node *c : clips) {
    Value *q = c->input(0), *cy = c->output(0);
    Node *qn = q ? q->producer : nullptr;
    if (!isOnnxOp(qn, "QuantizeLinear") || !cy || isGraphIo(g, q) || isGraphIo(g, cy) || g.users(q).size() != 1)
      continue;
    const ElemType e = q->type.elem;
    if (!e.isInt() || e.bits() != 8 || qn->inputs.size() < 3 || !qn->input(2) || !qn->input(2)->isConstant())
      continue;
    Value *z = qn->input(2), *s = qn->input(1);
    std::vector<Node *> dqs = g.users(cy);
    const bool allDq = !dqs.empty() && std::all_of(dqs.begin(), dqs.end(), [&](Node *d) {
      return isOnnxOp(d, "DequantizeLinear") && d->input(0) == cy && d->input(1) == s && d->input(2) == z;
    });
    if (!allDq)
      continue;
    const int64_t lo = c->getInt("min", INT64_MIN), hi = c->getInt("max", INT64_MAX);
    const unsigned bits = widthFor(lo, hi, e.isSigned());
    if (!bits)
      continue;
    const ElemType ne = ElemType::intN(bits, e.isSigned());
    const int64_t qmin = e.isSigned() ? -(int64_t(1) << (bits - 1)) : 0;
    const int64_t qmax = e.isSigned() ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1;
    const Tensor &zt = *z->constant;
    bool zpFits = true;
    for (int64_t i = 0; i < zt.size(); ++i)
      zpFits &= zt.getDouble(i) >= double(qmin) && zt.getDouble(i) <= double(qmax);
    if (!zpFits)
      continue;
    Tensor nz(ne, zt.shape());
    for (int64_t i = 0; i < zt.size(); ++i)
      nz.setDouble(i, zt.getDouble(i));
    Value *z2 = g.addConstant(g.uniqueName(z->name + "/int" + std::to_string(bits)), std::move(nz));
    qn->inputs[2] = z2;
    if (auto err = reinfer(*qn))
      return withContext(std::move(err), c->describe());
    Value *src = q;
    if (lo == qmin && hi == qmax) {
      g.replaceAllUsesWith(cy, q);
      g.eraseNode(c);
    } else {
      if (auto err = reinfer(*c))
        return withContext(std::move(err), c->describe());
      src = cy;
    }
    for (Node *d : dqs) {
      d->inputs[0] = src;
      d->inputs[2] = z2;
      if (auto err = reinfer(*d))
        return withContext(std::move(err), d->describe());
    }
    ++narrowed;
  }
  return narrowed;
}

} // namespace qcc
