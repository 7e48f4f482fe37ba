#include "ir/Graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace qcc {

template <typename T> static const T *getAttr(const Node &n, const std::string &a) {
  auto it = n.attrs.find(a);
  return it == n.attrs.end() ? nullptr : std::get_if<T>(&it->second);
}

int64_t Node::getInt(const std::string &a, int64_t dflt) const {
  if (auto *v = getAttr<int64_t>(*this, a))
    return *v;
  return dflt;
}

float Node::getFloat(const std::string &a, float dflt) const {
  if (auto *v = getAttr<float>(*this, a))
    return *v;
  if (auto *v = getAttr<int64_t>(*this, a))
    return float(*v);
  return dflt;
}

std::string Node::getString(const std::string &a, const std::string &dflt) const {
  if (auto *v = getAttr<std::string>(*this, a))
    return *v;
  return dflt;
}

std::vector<int64_t> Node::getInts(const std::string &a, std::vector<int64_t> dflt) const {
  if (auto *v = getAttr<std::vector<int64_t>>(*this, a))
    return *v;
  return dflt;
}

std::vector<float> Node::getFloats(const std::string &a, std::vector<float> dflt) const {
  if (auto *v = getAttr<std::vector<float>>(*this, a))
    return *v;
  return dflt;
}

std::string Node::describe() const {
  std::string d = domain.empty() ? op : domain + "::" + op;
  return fmt::format("node '{}' ({})", name, d);
}

Value *Graph::addValue(std::string name, TensorType type) {
  auto v = std::make_unique<Value>();
  v->name = std::move(name);
  v->type = std::move(type);
  Value *p = v.get();
  byName_[p->name] = p;
  values_.push_back(std::move(v));
  return p;
}

Value *Graph::addConstant(std::string name, Tensor t) {
  Value *v = addValue(std::move(name), t.type());
  v->constant = std::move(t);
  return v;
}

Node *Graph::addNode(std::string op, std::string name, std::vector<Value *> ins,
                     std::vector<Value *> outs) {
  auto n = std::make_unique<Node>();
  n->op = std::move(op);
  n->name = std::move(name);
  n->inputs = std::move(ins);
  n->outputs = std::move(outs);
  return addNode(std::move(n));
}

Node *Graph::addNode(std::unique_ptr<Node> n) {
  for (Value *o : n->outputs)
    if (o)
      o->producer = n.get();
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

Value *Graph::findValue(const std::string &name) const {
  auto it = byName_.find(name);
  return it == byName_.end() ? nullptr : it->second;
}

std::string Graph::uniqueName(const std::string &base) const {
  if (!findValue(base))
    return base;
  for (int i = 1;; ++i) {
    std::string n = fmt::format("{}_{}", base, i);
    if (!findValue(n))
      return n;
  }
}

Node *Graph::insertNodeBefore(const Node *pos, std::unique_ptr<Node> n) {
  for (Value *o : n->outputs)
    if (o)
      o->producer = n.get();
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto &p) { return p.get() == pos; });
  return nodes_.insert(it, std::move(n))->get();
}

void Graph::eraseNode(const Node *n) {
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto &p) { return p.get() == n; });
  if (it == nodes_.end())
    return;
  for (Value *o : (*it)->outputs)
    if (o && o->producer == n)
      o->producer = nullptr;
  nodes_.erase(it);
}

void Graph::replaceAllUsesWith(const Value *from, Value *to) {
  for (auto &n : nodes_)
    for (Value *&in : n->inputs)
      if (in == from)
        in = to;
  for (Value *&o : outputs)
    if (o == from)
      o = to;
}

std::vector<Node *> Graph::users(const Value *v) const {
  std::vector<Node *> out;
  for (const auto &n : nodes_)
    if (std::find(n->inputs.begin(), n->inputs.end(), v) != n->inputs.end())
      out.push_back(n.get());
  return out;
}

void Graph::removeDeadCode() {
  std::set<const Value *> live(outputs.begin(), outputs.end());
  std::vector<bool> keep(nodes_.size(), false);
  for (size_t i = nodes_.size(); i-- > 0;) {
    Node &n = *nodes_[i];
    bool used = false;
    for (Value *o : n.outputs)
      used |= o && live.count(o);
    if (!used)
      continue;
    keep[i] = true;
    for (Value *in : n.inputs)
      if (in)
        live.insert(in);
  }
  std::vector<std::unique_ptr<Node>> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (keep[i])
      kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
  for (Value *in : inputs)
    live.insert(in);
  for (auto &n : nodes_)
    for (Value *o : n->outputs)
      if (o)
        live.insert(o);
  std::vector<std::unique_ptr<Value>> keptValues;
  for (auto &v : values_) {
    if (live.count(v.get()))
      keptValues.push_back(std::move(v));
    else
      byName_.erase(v->name);
  }
  values_ = std::move(keptValues);
}

} // namespace qcc
