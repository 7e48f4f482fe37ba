#include "backends/cpp/IndexMap.h"

#include "ops/OpRegistry.h"
#include "support/Error.h"

namespace qcc::cpp {

bool isIndexMapOp(const Node &n) {
  if (!n.domain.empty())
    return false;
  if (n.op == "Resize")
    return n.getString("mode", "nearest") == "nearest";
  for (const char *op : {"Slice", "Gather", "GatherElements", "Split", "DepthToSpace", "SpaceToDepth", "Tile", "Expand",
                         "Pad", "ReverseSequence"})
    if (n.op == op)
      return true;
  return false;
}

llvm::Expected<std::vector<std::vector<int32_t>>> indexMapsFor(const Node &n) {
  const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
  const Value *x = n.input(0);
  if (!def || !def->eval || !x)
    return nodeError(n, "no reference kernel to derive the index map from");
  if (x->type.numElements() >= (int64_t(1) << 31))
    return nodeError(n, "input {} has too many elements for an int32 index map", x->name);
  Tensor iota(ElemType::i32(), x->type.shape);
  for (int64_t i = 0; i < iota.size(); ++i)
    iota.data<int32_t>()[i] = int32_t(i);
  std::vector<const Tensor *> ins = {&iota};
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    const Value *v = n.input(i);
    if (v && !v->isConstant())
      return nodeError(n, "input '{}' must be a constant for the cpu backend", v->name);
    ins.push_back(v ? &*v->constant : nullptr);
  }
  std::vector<Tensor> outs;
  for (const Value *y : n.outputs)
    outs.push_back(y ? Tensor(ElemType::i32(), y->type.shape) : Tensor());
  if (auto e = def->eval(n, ins, outs))
    return std::move(e);
  std::vector<std::vector<int32_t>> maps;
  for (size_t i = 0; i < outs.size(); ++i) {
    std::vector<int32_t> m;
    if (n.output(i)) {
      m.assign(outs[i].data<int32_t>(), outs[i].data<int32_t>() + outs[i].size());
      for (int32_t v : m)
        if (v < 0 || v >= iota.size())
          return nodeError(n, "output {} does not only copy input elements (index {}): not a pure data movement", i, v);
    }
    maps.push_back(std::move(m));
  }
  return maps;
}

} // namespace qcc::cpp
