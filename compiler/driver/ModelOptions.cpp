#include "driver/ModelOptions.h"

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
  return loadOnnx(path, opts);
}

} // namespace qcc
