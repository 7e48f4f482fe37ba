#include "interp/Interpreter.h"

#include "ops/OpRegistry.h"

#include <cstring>
#include <map>

namespace qcc {

llvm::Expected<Interpreter> Interpreter::create(const Graph &g) {
  Interpreter it(g);
  std::map<const Value *, int> slot;
  auto slotOf = [&](const Value *v) {
    auto [pos, inserted] = slot.emplace(v, int(slot.size()));
    if (inserted) {
      it.slots_.emplace_back();
      it.constSlot_.push_back(v->isConstant());
      if (v->isConstant())
        it.slots_.back() = *v->constant;
    }
    return pos->second;
  };
  for (const Value *v : g.inputs)
    it.inputSlots_.push_back(slotOf(v));
  std::map<int, size_t> lastUse;
  for (const auto &n : g.nodes()) {
    Step s;
    s.node = n.get();
    s.def = OpRegistry::get().lookup(n->domain, n->op);
    if (!s.def || !s.def->eval)
      return nodeError(*n, "the float interpreter has no kernel for this op");
    for (const Value *v : n->inputs) {
      s.ins.push_back(v ? slotOf(v) : -1);
      if (v)
        lastUse[s.ins.back()] = it.steps_.size();
    }
    for (const Value *v : n->outputs)
      s.outs.push_back(v ? slotOf(v) : -1);
    it.steps_.push_back(std::move(s));
  }
  for (const Value *v : g.outputs)
    it.outputSlots_.push_back(slotOf(v));
  for (int o : it.outputSlots_)
    lastUse.erase(o);
  for (auto [s, step] : lastUse)
    if (!it.constSlot_[size_t(s)])
      it.steps_[step].freeAfter.push_back(s);
  return std::move(it);
}

// Kernels write every output element, so a reused buffer is not cleared.
// Sanitizer builds poison every output instead (all bits set: NaN, -1), so
// that the test suite catches a kernel that relies on zeroed outputs.
Tensor Interpreter::allocate(const TensorType &t) {
  size_t bytes = size_t(t.numElements()) * t.elem.storageBytes();
  auto it = pool_.find(bytes);
  Tensor out;
  if (it == pool_.end()) {
    out = Tensor(t.elem, t.shape);
  } else {
    out = Tensor::reuse(t.elem, t.shape, std::move(it->second));
    pool_.erase(it);
  }
#ifdef QCC_POISON_OUTPUTS
  std::memset(out.raw(), 0xFF, out.bytes());
#endif
  return out;
}

void Interpreter::release(Tensor &t) {
  if (t.buffer() && t.buffer().use_count() == 1 && t.bytes() >= 4096)
    pool_.emplace(t.bytes(), t.buffer());
  t = Tensor();
}

llvm::Expected<std::vector<Tensor>> Interpreter::run(const std::vector<Tensor> &inputs) {
  if (inputs.size() != g_->inputs.size())
    return makeError("the model has {} inputs, {} given", g_->inputs.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType &want = g_->inputs[i]->type;
    if (inputs[i].type() != want)
      return makeError("input '{}' must be {}, got {}", g_->inputs[i]->name, want.str(),
                       inputs[i].type().str());
    slots_[size_t(inputSlots_[i])] = inputs[i];
  }
  std::vector<const Tensor *> ins;
  std::vector<Tensor> outs;
  for (const Step &s : steps_) {
    ins.clear();
    for (int i : s.ins)
      ins.push_back(i >= 0 ? &slots_[size_t(i)] : nullptr);
    outs.assign(s.outs.size(), Tensor());
    for (size_t i = 0; i < s.outs.size(); ++i)
      if (const Value *o = s.node->outputs[i])
        outs[i] = allocate(o->type);
    if (auto e = s.def->eval(*s.node, ins, outs))
      return std::move(e);
    if (observer)
      observer(*s.node, outs);
    for (size_t i = 0; i < s.outs.size(); ++i)
      if (s.outs[i] >= 0)
        slots_[size_t(s.outs[i])] = std::move(outs[i]);
    for (int f : s.freeAfter)
      release(slots_[size_t(f)]);
  }
  std::vector<Tensor> result;
  for (int o : outputSlots_)
    result.push_back(slots_[size_t(o)]);
  return result;
}

} // namespace qcc
