#include "driver/ModelOptions.h"

#include "quant/ImportQcdq.h"
#include "quant/ImportQdq.h"
#include "quant/ImportQonnx.h"
#include "quant/LowerQonnxThresholds.h"
#include "quant/LowerQonnxTrunc.h"
#include "ops/OpRegistry.h"
#include "support/Error.h"

#include <algorithm>
#include <cstdlib>
#include "ir/Printer.h"

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
  // Pre-quantized models (QDQ, QOperator) run as qcc's integer graph. QONNX
  // models stay float here (qcc run MODEL is qonnx's executor); qcc compile
  // lowers them (lowerQonnxModel), after calibrating on this graph, so that
  // qcc compare's reload of MODEL matches the profile.
  if (hasQuantizedOps(**g) && !hasQonnxOps(**g)) {
    // QCDQ quantizers (quant/ImportQcdq.h) are sub-8-bit grids: their units
    // pair types as QONNX's do, not by ORT's int8/uint8 rules.
    auto narrowed = narrowQcdq(**g);
    if (!narrowed)
      return withContext(narrowed.takeError(), path);
    QdqImportOptions qo;
    qo.qonnx = *narrowed > 0;
    if (auto e = lowerQdq(**g, nullptr, qo))
      return withContext(std::move(e), path);
  }
  return g;
}

llvm::Error lowerQonnxModel(Graph &g, const std::string &path) {
  if (!hasQonnxOps(g))
    return llvm::Error::success();
  QonnxImportStats st;
  if (std::getenv("QCC_H1_DUMP"))
    llvm::errs() << printGraph(g);
  if (auto e = prepareQonnxThresholds(g, st))
    return withContext(std::move(e), path);
  if (auto e = prepareQonnxTrunc(g, st))
    return withContext(std::move(e), path);
  if (auto e = lowerQonnx(g, &st))
    return withContext(std::move(e), path);
  if (auto e = checkQonnxLowered(g, &st))
    return withContext(std::move(e), path);
  QdqImportOptions qo;
  qo.qonnx = true;
  if (auto e = lowerQdq(g, nullptr, qo))
    return withContext(std::move(e), path);
  if (auto e = finishQonnxThresholds(g, st))
    return withContext(std::move(e), path);
  if (auto e = finishQonnxTrunc(g, st))
    return withContext(std::move(e), path);
  // The model's precision is kept, never re-chosen: a float op left between
  // the quantizers (one the QDQ lowering does not fuse, e.g. a
  // BatchNormalization between Conv and Quant) would be quantized by
  // calibration instead, so it is an error.
  for (const auto &n : g.nodes()) {
    if (n->domain.empty() && (n->op == "QuantizeLinear" || n->op == "DequantizeLinear"))
      continue;
    auto isFloat = [](const Value *v) { return v && v->type.elem.isFloat(); };
    if (std::any_of(n->inputs.begin(), n->inputs.end(), isFloat) ||
        std::any_of(n->outputs.begin(), n->outputs.end(), isFloat))
      return withContext(nodeError(*n, "float op of a QONNX model is not lowered to integers yet (qcc keeps the "
                                       "model's own quantization; it does not quantize this op itself)"),
                         path);
  }
  return llvm::Error::success();
}

} // namespace qcc
