#include "driver/ModelOptions.h"

#include "quant/ImportQdq.h"
#include "support/Error.h"

namespace qcc {

llvm::Expected<std::unique_ptr<Graph>> loadModelWithShapes(const std::string &path,
                                                           const std::vector<std::string> &shapeSpecs) {
  LoadOptions opts;
  for (const std::string &spec : shapeSpecs) {
    auto parsed = parseInputShape(spec);
    if (!parsed)
      return parsed.takeError();
    opts.inputShapes[parsed->first] = parsed->second;
  }
  auto g = loadOnnx(path, opts);
  if (!g)
    return g.takeError();
  // Pre-quantized models (QDQ, QOperator) run as qcc's integer graph.
  if (hasQuantizedOps(**g))
    if (auto e = lowerQdq(**g))
      return withContext(std::move(e), path);
  return g;
}

} // namespace qcc
