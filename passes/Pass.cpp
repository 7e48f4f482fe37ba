#include "passes/Pass.h"

#include "ir/Printer.h"
#include "support/Error.h"

#include <fmt/format.h>

namespace qcc {

void PassStats::count(const std::string &detail, int64_t n) {
  rewrites[current] += n;
  if (!detail.empty())
    details[current + ": " + detail] += n;
}

int64_t PassStats::of(const std::string &pass) const {
  auto it = rewrites.find(pass);
  return it == rewrites.end() ? 0 : it->second;
}

std::string PassStats::summary() const {
  std::vector<std::string> parts;
  for (const auto &[name, n] : rewrites)
    if (n)
      parts.push_back(fmt::format("{} {}", name, n));
  return parts.empty() ? "no rewrites" : fmt::format("{}", fmt::join(parts, ", "));
}

llvm::ArrayRef<PassInfo> allPasses() {
  static const std::vector<PassInfo> passes = {foldConstantsPass(),   removeIdentityPass(),   foldBatchNormPass(),
                                               fuseMatMulAddPass(),   fuseLayerNormPass(),    hoistActivationsPass(),
                                               fuseActivationsPass()};
  return passes;
}

const PassInfo *findPass(const std::string &name) {
  for (const PassInfo &p : allPasses())
    if (name == p.name)
      return &p;
  return nullptr;
}

std::vector<std::string> canonicalizePipeline() {
  // remove-identity first so that patterns are adjacent; fuse-matmul-add before
  // fold-batchnorm so that MatMul + bias + BN folds; activations after the
  // folds so that they move next to (and fuse into) the final producers;
  // remove-identity again to collapse the reshapes that these rewrites leave
  // next to each other; fold-constants re-folds whatever became constant.
  return {"remove-identity",   "fuse-matmul-add",  "fold-batchnorm",  "fuse-layernorm",
          "hoist-activations", "fuse-activations", "remove-identity", "fold-constants"};
}

llvm::Expected<std::vector<std::string>> parsePassList(const std::string &spec) {
  if (spec == "canonicalize")
    return canonicalizePipeline();
  std::vector<std::string> names;
  if (spec == "none" || spec.empty())
    return names;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string name = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!findPass(name)) {
      std::vector<std::string> known;
      for (const PassInfo &p : allPasses())
        known.push_back(p.name);
      return makeError("--passes: unknown pass '{}' (known: canonicalize, none, {})", name, fmt::join(known, ", "));
    }
    names.push_back(name);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return names;
}

llvm::Error runPasses(Graph &g, llvm::ArrayRef<std::string> names, bool verify, PassStats *stats) {
  std::vector<const PassInfo *> passes;
  for (const std::string &name : names) {
    const PassInfo *p = findPass(name);
    if (!p)
      return makeError("unknown pass '{}'", name);
    passes.push_back(p);
  }
  return runPassList(g, passes, verify, stats);
}

llvm::Error runPassList(Graph &g, llvm::ArrayRef<const PassInfo *> passes, bool verify, PassStats *stats) {
  PassStats local;
  PassStats &s = stats ? *stats : local;
  for (const PassInfo *p : passes) {
    s.current = p->name;
    s.rewrites.emplace(p->name, 0);
    if (auto e = p->run(g, s))
      return withContext(std::move(e), fmt::format("pass '{}'", p->name));
    g.removeDeadCode();
    if (verify)
      if (auto e = verifyGraph(g))
        return withContext(std::move(e), fmt::format("the IR is invalid after pass '{}'", p->name));
  }
  s.current.clear();
  return llvm::Error::success();
}

} // namespace qcc
