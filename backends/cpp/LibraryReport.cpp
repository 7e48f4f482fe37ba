#include "backends/cpp/LibraryReport.h"

#include <fmt/format.h>

namespace qcc::cpp {

llvm::json::Object libraryReportJson(const LibraryInfo &lib) {
  llvm::json::Array layers;
  for (const LayerInfo &l : lib.layers) {
    llvm::json::Object o{{"node", l.node}, {"op", l.op}, {"weight_bytes", l.weightBytes}};
    if (l.weightCount) {
      o["weight_bytes_unpacked"] = l.weightBytesUnpacked;
      o["weight_bits"] = l.weightBits;
      o["weight_storage_bits"] = l.weightStorageBits;
      o["weight_count"] = l.weightCount;
      o["weight_panel_bytes"] = l.panelBytes;
      o["weight_panel_bytes_stored"] = l.panelBytesStored;
      o["acc_bits"] = l.accBits;
      if (!l.kernel.empty())
        o["kernel"] = l.kernel;
    }
    layers.push_back(std::move(o));
  }
  return llvm::json::Object{{"name", lib.name},
                            {"target", "cpu"},
                            {"arena_bytes", lib.arena.arenaBytes},
                            {"activation_bytes_sum", lib.arena.sumBytes},
                            {"activation_bytes_max_live", lib.arena.maxLiveBytes},
                            {"weight_unpack_bytes", lib.unpackBytes},
                            {"weight_bytes", lib.weightBytes},
                            {"weight_bytes_layers", lib.weightBytesLayers},
                            {"weight_bytes_layers_unpacked", lib.weightBytesUnpacked},
                            {"weight_bytes_saved_by_packing", lib.weightBytesUnpacked - lib.weightBytesLayers},
                            {"weights_external", lib.externalWeights},
                            {"layers", std::move(layers)}};
}

std::string weightSummary(const LibraryInfo &lib) {
  const int64_t saved = lib.weightBytesUnpacked - lib.weightBytesLayers;
  if (saved <= 0)
    return fmt::format("weights {} bytes", lib.weightBytes);
  return fmt::format("weights {} bytes (sub-byte packing saved {} of {} layer bytes, {:.1f}%; unpacked into {} arena "
                     "bytes)",
                     lib.weightBytes, saved, lib.weightBytesUnpacked, 100.0 * double(saved) / double(lib.weightBytesUnpacked),
                     lib.unpackBytes);
}

} // namespace qcc::cpp
