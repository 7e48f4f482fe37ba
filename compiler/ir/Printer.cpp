#include "ir/Printer.h"

#include "ops/OpRegistry.h"

#include <fmt/format.h>

#include <set>

namespace qcc {

namespace {
std::string fmtFloat(float f) { return fmt::format("{:g}", f); }

std::string valueRef(const Value *v) { return v ? "%" + v->name : "_"; }

std::string typeWithQuant(const Value &v) {
  std::string s = v.type.str();
  if (v.quant)
    s += " {" + v.quant->str() + "}";
  return s;
}
} // namespace

std::string printAttribute(const Attribute &a) {
  struct V {
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(float f) const { return fmtFloat(f); }
    std::string operator()(const std::string &s) const { return "\"" + s + "\""; }
    std::string operator()(const std::vector<int64_t> &v) const { return fmt::format("[{}]", fmt::join(v, ",")); }
    std::string operator()(const std::vector<float> &v) const {
      std::vector<std::string> s;
      for (float f : v)
        s.push_back(fmtFloat(f));
      return fmt::format("[{}]", fmt::join(s, ","));
    }
    std::string operator()(const std::vector<std::string> &v) const {
      return fmt::format("[\"{}\"]", fmt::join(v, "\",\""));
    }
    std::string operator()(const Tensor &t) const { return "tensor<" + t.type().str() + ">"; }
  };
  return std::visit(V{}, a);
}

std::string printGraph(const Graph &g) {
  std::string out = fmt::format("graph \"{}\" {{\n", g.name);
  for (const Value *v : g.inputs)
    out += fmt::format("  input {} : {}\n", valueRef(v), typeWithQuant(*v));
  std::set<const Value *> printed;
  for (const auto &n : g.nodes())
    for (const Value *v : n->inputs)
      if (v && v->isConstant() && printed.insert(v).second)
        out += fmt::format("  const {} : {}\n", valueRef(v), typeWithQuant(*v));
  for (const auto &n : g.nodes()) {
    std::vector<std::string> outs, ins, attrs;
    for (const Value *v : n->outputs)
      outs.push_back(valueRef(v));
    for (const Value *v : n->inputs)
      ins.push_back(valueRef(v));
    for (const auto &[k, a] : n->attrs)
      attrs.push_back(k + "=" + printAttribute(a));
    std::vector<std::string> types;
    for (const Value *v : n->outputs)
      if (v)
        types.push_back(typeWithQuant(*v));
    out += fmt::format("  {} = {}{}({}){} : {}  # {}\n", fmt::join(outs, ", "),
                       n->domain.empty() ? "" : n->domain + "::", n->op, fmt::join(ins, ", "),
                       attrs.empty() ? "" : fmt::format(" {{{}}}", fmt::join(attrs, ", ")),
                       fmt::join(types, ", "), n->name);
  }
  for (const Value *v : g.outputs)
    out += fmt::format("  output {} : {}\n", valueRef(v), typeWithQuant(*v));
  return out + "}\n";
}

llvm::Error verifyGraph(const Graph &g) {
  std::set<const Value *> defined(g.inputs.begin(), g.inputs.end());
  for (const auto &v : g.values())
    if (v->isConstant())
      defined.insert(v.get());
  for (const auto &n : g.nodes()) {
    const OpDef *def = OpRegistry::get().lookup(n->domain, n->op);
    if (!def)
      return nodeError(*n, "verifier: unknown op");
    for (const Value *v : n->inputs)
      if (v && !defined.count(v))
        return nodeError(*n, "verifier: input '{}' is used before it is defined", v->name);
    std::vector<TensorType> before;
    for (Value *v : n->outputs) {
      if (!v)
        continue;
      if (!defined.insert(v).second)
        return nodeError(*n, "verifier: value '{}' is defined twice", v->name);
      before.push_back(v->type);
    }
    // Re-infer on a copy and compare, so the verifier never changes the graph.
    Node copy = *n;
    std::vector<Value> outs;
    outs.reserve(n->outputs.size());
    for (size_t i = 0; i < n->outputs.size(); ++i) {
      if (!n->outputs[i])
        continue;
      outs.push_back(*n->outputs[i]);
      copy.outputs[i] = &outs.back();
    }
    if (auto e = def->infer(copy))
      return e;
    size_t k = 0;
    for (Value *v : copy.outputs)
      if (v && v->type != before[k++])
        return nodeError(*n, "verifier: output '{}' has type {} but inference gives {}", v->name,
                         before[k - 1].str(), v->type.str());
  }
  for (const Value *v : g.outputs)
    if (!defined.count(v))
      return makeError("verifier: graph output '{}' is never defined", v->name);
  return llvm::Error::success();
}

} // namespace qcc
