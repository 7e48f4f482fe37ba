#include "passes/Rewrite.h"

#include <algorithm>

namespace qcc {

std::vector<Node *> nodeList(const Graph &g) {
  std::vector<Node *> v;
  for (const auto &n : g.nodes())
    v.push_back(n.get());
  return v;
}

bool isGraphOutput(const Graph &g, const Value *v) {
  return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
}

Node *soleUser(const Graph &g, const Value *v) {
  if (!v || isGraphOutput(g, v))
    return nullptr;
  auto u = g.users(v);
  return u.size() == 1 ? u[0] : nullptr;
}

bool isOp(const Node &n, const char *op) { return n.domain.empty() && n.op == op; }

bool isDetached(const Node &n) { return n.inputs.empty() && n.outputs.empty(); }

Node *producerIs(const Value *v, const char *op) {
  if (!v || !v->producer || isDetached(*v->producer))
    return nullptr;
  return isOp(*v->producer, op) ? v->producer : nullptr;
}

void detachNode(Node &n) {
  for (Value *o : n.outputs)
    if (o && o->producer == &n)
      o->producer = nullptr;
  n.inputs.clear();
  n.outputs.clear();
}

void produceInto(Node &producer, size_t slot, Value *v) {
  if (Value *old = producer.output(slot); old && old->producer == &producer)
    old->producer = nullptr;
  if (v->producer && v->producer != &producer)
    for (Value *&o : v->producer->outputs)
      if (o == v)
        o = nullptr;
  producer.outputs[slot] = v;
  v->producer = &producer;
}

bool forwardValue(Graph &g, const Node &dying, Value *out, Value *in) {
  if (!isGraphOutput(g, out)) {
    g.replaceAllUsesWith(out, in);
    return true;
  }
  // Keep the graph output's name: in's producer now produces `out`.
  Node *p = in->producer;
  if (!p || isGraphOutput(g, in) || in->isConstant())
    return false;
  auto readers = g.users(in);
  if (readers.size() != 1 || readers[0] != &dying)
    return false;
  for (size_t i = 0; i < p->outputs.size(); ++i)
    if (p->outputs[i] == in) {
      produceInto(*p, i, out);
      return true;
    }
  return false;
}

Value *addF32Constant(Graph &g, const std::string &base, Shape shape, const std::vector<float> &data) {
  Tensor t(ElemType::f32(), std::move(shape));
  std::copy(data.begin(), data.end(), t.data<float>());
  return g.addConstant(g.uniqueName(base), std::move(t));
}

std::string uniqueNodeName(const Graph &g, const std::string &base) {
  auto taken = [&](const std::string &name) {
    for (const auto &n : g.nodes())
      if (n->name == name)
        return true;
    return false;
  };
  if (!taken(base))
    return base;
  for (int i = 1;; ++i) {
    std::string name = base + "_" + std::to_string(i);
    if (!taken(name))
      return name;
  }
}

Node *insertBefore(Graph &g, const Node *pos, std::string op, std::string name, std::vector<Value *> ins,
                   std::vector<Value *> outs) {
  auto n = std::make_unique<Node>();
  n->op = std::move(op);
  n->name = uniqueNodeName(g, name);
  n->inputs = std::move(ins);
  n->outputs = std::move(outs);
  return g.insertNodeBefore(pos, std::move(n));
}

std::optional<double> constScalar(const Value *v) {
  if (!v || !v->isConstant() || v->constant->size() != 1)
    return std::nullopt;
  return v->constant->getDouble(0);
}

std::vector<float> constFloats(const Value *v) { return v->constant->toFloats(); }

bool transposeKeepsData(const Node &n) {
  if (!isOp(n, "Transpose") || !n.input(0))
    return false;
  const Shape &in = n.inputs[0]->type.shape;
  int64_t last = -1;
  for (int64_t axis : n.getInts("perm")) {
    if (axis < 0 || axis >= int64_t(in.size()))
      return false;
    if (in[size_t(axis)] == 1)
      continue;
    if (axis < last)
      return false;
    last = axis;
  }
  return true;
}

bool isReshapeLike(const Node &n) {
  if (isDetached(n) || !n.domain.empty())
    return false;
  static const char *ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
  for (const char *op : ops)
    if (n.op == op)
      return true;
  return transposeKeepsData(n);
}

} // namespace qcc
