#include "driver/Inspect.h"

#include "ops/OpRegistry.h"

#include <fmt/format.h>

#include <map>
#include <set>

namespace qcc {

std::vector<LayerStats> layerStats(const Graph &g) {
  std::vector<LayerStats> out;
  std::set<const Value *> counted;
  for (const auto &n : g.nodes()) {
    LayerStats s{n.get()};
    for (const Value *v : n->inputs)
      if (v && v->isConstant() && counted.insert(v).second)
        s.params += v->constant->size();
    const OpDef *def = OpRegistry::get().lookup(n->domain, n->op);
    if (def && def->macs)
      s.macs = def->macs(*n);
    out.push_back(s);
  }
  return out;
}

static std::string human(int64_t v) {
  if (v >= 1000000000)
    return fmt::format("{:.2f} G", double(v) / 1e9);
  if (v >= 1000000)
    return fmt::format("{:.2f} M", double(v) / 1e6);
  if (v >= 1000)
    return fmt::format("{:.1f} K", double(v) / 1e3);
  return std::to_string(v);
}

std::string inspectReport(const Graph &g) {
  std::string out;
  std::vector<std::string> opsets;
  for (const auto &[d, v] : g.opsets)
    opsets.push_back(fmt::format("{}:{}", d.empty() ? "ai.onnx" : d, v));
  out += fmt::format("model   {}\ngraph   \"{}\"   opsets {}\n", g.sourcePath, g.name, fmt::join(opsets, ", "));
  for (const Value *v : g.inputs)
    out += fmt::format("input   {:<24} {}\n", v->name, v->type.str());
  for (const Value *v : g.outputs)
    out += fmt::format("output  {:<24} {}\n", v->name, v->type.str());
  out += fmt::format("\n{:>4}  {:<36} {:<20} {:<22} {:>12} {:>14}\n", "#", "node", "op", "output", "params",
                     "MACs");
  auto stats = layerStats(g);
  int64_t totalParams = 0, totalMacs = 0;
  std::map<std::string, int> opCount;
  for (size_t i = 0; i < stats.size(); ++i) {
    const Node &n = *stats[i].node;
    std::string shape = n.outputs.empty() || !n.outputs[0] ? "" : shapeStr(n.outputs[0]->type.shape);
    std::string name = n.name.size() > 36 ? "..." + n.name.substr(n.name.size() - 33) : n.name;
    out += fmt::format("{:>4}  {:<36} {:<20} {:<22} {:>12} {:>14}\n", i, name, n.op, shape, stats[i].params,
                       stats[i].macs);
    totalParams += stats[i].params;
    totalMacs += stats[i].macs;
    opCount[n.op]++;
  }
  out += fmt::format("\nnodes   {}\nparams  {} ({}, {:.2f} MB as f32)\nMACs    {} ({})\nops    ", stats.size(),
                     totalParams, human(totalParams), double(totalParams) * 4 / 1e6, totalMacs, human(totalMacs));
  for (const auto &[op, c] : opCount)
    out += fmt::format(" {} x{}", op, c);
  return out + "\n";
}

} // namespace qcc
