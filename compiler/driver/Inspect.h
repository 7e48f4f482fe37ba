// `qcc inspect`: a per-layer table of ops, shapes, parameters and MACs.
#pragma once

#include "ir/Graph.h"

#include <string>

namespace qcc {

struct LayerStats {
  const Node *node;
  int64_t params = 0; ///< elements of constant inputs first used by this node
  int64_t macs = 0;
};

std::vector<LayerStats> layerStats(const Graph &g);
std::string inspectReport(const Graph &g);

} // namespace qcc
