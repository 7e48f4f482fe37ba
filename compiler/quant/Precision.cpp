#include "quant/Precision.h"

#include "quant/QuantizeGraph.h"
#include "support/Error.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace qcc {

std::string NodePrecision::str() const {
  std::string s;
  if (weightBits)
    s += "W" + std::to_string(weightBits);
  if (actBits)
    s += "A" + std::to_string(actBits);
  return s;
}

llvm::Error checkBits(int64_t bits, llvm::StringRef what) {
  if (bits < kMinBits || bits > kMaxBits)
    return makeError("{} {}: bit widths go from {} to {}", what.str(), bits, kMinBits, kMaxBits);
  return llvm::Error::success();
}

llvm::Expected<NodePrecision> parsePrecisionSpec(llvm::StringRef spec) {
  auto bad = [&](const std::string &why) {
    return makeError("'{}': {} (expected W<bits>A<bits>, W<bits> or A<bits>, e.g. W4A8)", spec.str(), why);
  };
  NodePrecision p;
  size_t i = 0;
  if (spec.empty())
    return bad("no widths");
  while (i < spec.size()) {
    const char c = char(std::toupper(static_cast<unsigned char>(spec[i])));
    if (c != 'W' && c != 'A')
      return bad(fmt::format("unexpected '{}'", spec[i]));
    unsigned &slot = c == 'W' ? p.weightBits : p.actBits;
    if (slot)
      return bad(fmt::format("{} given twice", c));
    if (c == 'W' && p.actBits)
      return bad("W comes before A");
    size_t j = ++i;
    while (j < spec.size() && std::isdigit(static_cast<unsigned char>(spec[j])))
      ++j;
    if (j == i || j - i > 3)
      return bad(fmt::format("{} needs a bit width", c));
    const int64_t bits = std::stoll(spec.substr(i, j - i).str());
    if (auto e = checkBits(bits, c == 'W' ? "weight bits" : "activation bits"))
      return withContext(std::move(e), fmt::format("'{}'", spec.str()));
    slot = unsigned(bits);
    i = j;
  }
  return p;
}

llvm::Expected<std::pair<std::string, NodePrecision>> parsePrecisionOption(llvm::StringRef option) {
  const size_t eq = option.rfind('=');
  if (eq == llvm::StringRef::npos || eq == 0)
    return makeError("--precision '{}': expected NODE=W<bits>A<bits> (e.g. conv1=W4A8, fc=A16)", option.str());
  auto p = parsePrecisionSpec(option.substr(eq + 1));
  if (!p)
    return withContext(p.takeError(), "--precision " + option.str());
  return std::make_pair(option.substr(0, eq).str(), *p);
}

llvm::Expected<std::map<std::string, NodePrecision>> parsePrecisionOptions(const std::vector<std::string> &options) {
  std::map<std::string, NodePrecision> r;
  for (const std::string &o : options) {
    auto p = parsePrecisionOption(o);
    if (!p)
      return p.takeError();
    NodePrecision &t = r[p->first]; // NODE=W4 and NODE=A8 merge; W4 and W2 conflict
    if ((p->second.weightBits && t.weightBits && p->second.weightBits != t.weightBits) ||
        (p->second.actBits && t.actBits && p->second.actBits != t.actBits))
      return makeError("--precision: node '{}' is given {} and {}", p->first, t.str(), p->second.str());
    if (p->second.weightBits)
      t.weightBits = p->second.weightBits;
    if (p->second.actBits)
      t.actBits = p->second.actBits;
  }
  return r;
}

int64_t weightQmax(unsigned bits) { return (int64_t(1) << (bits - 1)) - 1; }

unsigned storageBitsFor(unsigned bits) { return bits <= 8 ? 8 : bits <= 16 ? 16 : 32; }

int64_t maxAbsOnGrid(const QuantInfo &q) { return std::max(std::abs(q.qmin()), std::abs(q.qmax())); }

int64_t maxDistanceFromZeroPoint(const QuantInfo &q) {
  int64_t d = 0;
  for (int64_t z : q.zeroPoint)
    d = std::max({d, q.qmax() - z, z - q.qmin()});
  return d;
}

int64_t accumulatorBound(int64_t bias, int64_t sumAbsWeights, int64_t maxAbsX) {
  // Inputs are at most 16-bit and sums of 16-bit weights over any real K stay
  // far below 2^47, so the product fits int64.
  return std::abs(bias) + sumAbsWeights * maxAbsX;
}

std::map<std::string, NodeOrigin> nodeOrigins(const Graph &g) {
  std::map<std::string, NodeOrigin> r;
  for (const auto &n : g.nodes()) {
    NodeOrigin &o = r[n->name];
    o.op = n->op;
    for (const Value *v : n->outputs)
      if (v)
        o.outputs.push_back(v->name);
  }
  return r;
}

llvm::Expected<std::map<std::string, NodePrecision>>
resolvePrecisionNodes(const std::map<std::string, NodePrecision> &overrides, const std::map<std::string, NodeOrigin> &loaded,
                      const Graph &canonical, std::vector<std::string> &notes) {
  std::map<std::string, const Node *> byName, byOutput;
  for (const auto &n : canonical.nodes()) {
    byName[n->name] = n.get();
    for (const Value *v : n->outputs)
      if (v)
        byOutput[v->name] = n.get();
  }
  std::map<std::string, NodePrecision> r;
  // Overrides of surviving nodes first, so that a moved one merges into them.
  for (bool moved : {false, true})
    for (const auto &[name, p] : overrides) {
      const bool isInput = std::any_of(canonical.inputs.begin(), canonical.inputs.end(),
                                       [&](const Value *v) { return v->name == name; });
      if (isInput && !loaded.count(name)) { // a graph input's grid: A only (checked by the quantizer)
        if (!moved)
          r[name] = p;
        continue;
      }
      auto o = loaded.find(name);
      if (o == loaded.end())
        return makeError("--precision {}={}: the model has no node or graph input named '{}' (ONNX node names; "
                         "`qcc inspect MODEL` lists them)", name, p.str(), name);
      std::string target = name;
      if (!byName.count(name)) {
        const Node *now = nullptr;
        for (const std::string &out : o->second.outputs)
          if (!now && byOutput.count(out))
            now = byOutput[out];
        if (!now)
          return makeError("--precision {}={}: node '{}' ({}) was folded away by canonicalization and nothing "
                           "computes its output any more; set the precision on a neighbouring node",
                           name, p.str(), name, o->second.op);
        target = now->name;
      }
      if ((target != name) != moved)
        continue;
      if (moved && p.weightBits)
        return makeError("--precision {}={}: node '{}' ({}) is fused into '{}' by canonicalization and has no "
                         "weights of its own; give W to '{}'", name, p.str(), name, o->second.op, target, target);
      NodePrecision &t = r[target];
      if ((p.weightBits && t.weightBits && p.weightBits != t.weightBits) ||
          (p.actBits && t.actBits && p.actBits != t.actBits))
        return makeError("--precision: '{}' ({}) is fused into '{}' by canonicalization, which is given {} already; "
                         "{} conflicts", name, o->second.op, target, t.str(), p.str());
      if (p.weightBits)
        t.weightBits = p.weightBits;
      if (p.actBits)
        t.actBits = p.actBits;
      if (moved)
        notes.push_back(fmt::format("--precision {}={}: '{}' ({}) is fused into '{}' ({}); its widths apply there",
                                    name, p.str(), name, o->second.op, target, byName[target]->op));
    }
  return r;
}

namespace {

std::string widthName(unsigned bits, bool isSigned) { return fmt::format("{}int{}", isSigned ? "" : "u", bits); }

} // namespace

void writePrecisionSettings(const QuantizeOptions &o, llvm::json::Object &settings) {
  settings["weight_bits"] = int64_t(o.weightBits);
  settings["act_bits"] = int64_t(o.actBits);
  settings["weights"] = fmt::format("{} symmetric per {}", widthName(o.weightBits, true),
                                    o.perChannelWeights ? "channel" : "tensor");
  settings["activations"] = fmt::format("{} {} per tensor", widthName(o.actBits, !o.actUnsigned),
                                        o.actSymmetric ? "symmetric" : "asymmetric");
  llvm::json::Object nodes;
  for (const auto &[name, p] : o.nodePrecision)
    nodes[name] = p.str();
  settings["precision"] = std::move(nodes);
}

llvm::Error readPrecisionSettings(const llvm::json::Object &settings, QuantizeOptions &o) {
  auto bitsOf = [&](const char *key, unsigned &out) -> llvm::Error {
    out = 8;
    if (const llvm::json::Value *v = settings.get(key)) {
      auto b = v->getAsInteger();
      if (!b)
        return makeError("settings.{} is not an integer", key);
      if (auto e = checkBits(*b, fmt::format("settings.{}", key)))
        return e;
      out = unsigned(*b);
    }
    return llvm::Error::success();
  };
  if (auto e = bitsOf("weight_bits", o.weightBits))
    return e;
  if (auto e = bitsOf("act_bits", o.actBits))
    return e;
  if (auto w = settings.getString("weights"))
    o.perChannelWeights = w->find("per tensor") == llvm::StringRef::npos;
  if (auto a = settings.getString("activations")) {
    o.actUnsigned = a->startswith("u");
    o.actSymmetric = a->find(" symmetric") != llvm::StringRef::npos;
  }
  o.nodePrecision.clear();
  if (const llvm::json::Object *nodes = settings.getObject("precision"))
    for (const auto &kv : *nodes) {
      auto s = kv.second.getAsString();
      if (!s)
        return makeError("settings.precision.{} is not a string", kv.first.str());
      auto p = parsePrecisionSpec(*s);
      if (!p)
        return withContext(p.takeError(), "settings.precision." + kv.first.str());
      o.nodePrecision[kv.first.str()] = *p;
    }
  return llvm::Error::success();
}

} // namespace qcc
