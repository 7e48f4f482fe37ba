#include "driver/ModelOptions.h"

#include "quant/ImportQcdq.h"
#include "quant/ImportQdq.h"
#include "quant/ImportQonnx.h"
#include "quant/QonnxLayout.h"
#include "quant/QuantizeGraph.h"
#include "quant/LowerQonnxThresholds.h"
#include "quant/LowerQonnxTrunc.h"
#include "ops/OpRegistry.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

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

namespace {

/// True when `u` reading a graph input is the model's own quantizer: a QONNX
/// node (Quant, BipolarQuant, MultiThreshold, ... lowered exactly from the
/// float input), or a Relu feeding only Quant nodes (foldInputRelu makes it
/// the quantizer's clamp).
bool quantizesInput(const Graph &g, const Node &u) {
  if (isQonnxNode(u))
    return true;
  if (!(u.domain.empty() && u.op == "Relu" && u.output(0)))
    return false;
  std::vector<Node *> us = g.users(u.output(0));
  return !us.empty() && std::all_of(us.begin(), us.end(), [](const Node *q) { return isQonnxNode(*q) && q->op == "Quant"; });
}

/// An 8-bit Quant (qcc's choice, from the calibrated range) on each graph
/// input that some op other than the model's own quantizers reads.
llvm::Error quantizeFloatInputs(Graph &g, const std::map<std::string, std::pair<float, float>> &ranges,
                                std::vector<std::string> *notes) {
  for (Value *x : std::vector<Value *>(g.inputs)) {
    if (!x->type.elem.isFloat())
      continue;
    std::vector<Node *> floatUsers;
    for (Node *u : g.users(x))
      if (!quantizesInput(g, *u))
        floatUsers.push_back(u);
    auto r = ranges.find(x->name);
    if (floatUsers.empty() || r == ranges.end())
      continue;
    QuantizeOptions qo;
    qo.actUnsigned = r->second.first >= 0.f;
    const QuantInfo q = chooseActivationQuant(r->second.first, r->second.second, qo);
    auto c = [&](float v, const char *what) {
      return g.addConstant(g.uniqueName(x->name + "/qcc_" + what), Tensor::scalarF32(v));
    };
    auto n = std::make_unique<Node>();
    n->name = x->name + "/qcc_input_quant";
    n->op = "Quant";
    n->domain = "qonnx.custom_op.general";
    n->attrs["signed"] = int64_t(q.isSigned ? 1 : 0);
    n->attrs["narrow"] = int64_t(0);
    n->attrs["rounding_mode"] = std::string("ROUND");
    Value *y = g.addValue(g.uniqueName(x->name + "/qcc_quantized"), TensorType{});
    n->inputs = {x, c(q.scale[0], "scale"), c(float(q.zeroPoint[0]), "zero_point"), c(8.f, "bit_width")};
    n->outputs = {y};
    if (auto e = OpRegistry::get().lookup(n->domain, n->op)->infer(*n))
      return e;
    Node *first = floatUsers.front();
    for (Node *u : floatUsers)
      for (Value *&v : u->inputs)
        if (v == x)
          v = y;
    g.insertNodeBefore(first, std::move(n));
    const std::string note = fmt::format("input '{}': quantized by qcc (left float by the model): {} scale {} "
                                         "zero point {} from the calibrated range [{}, {}]",
                                         x->name, q.isSigned ? "int8" : "uint8", q.scale[0], q.zeroPoint[0],
                                         r->second.first, r->second.second);
    llvm::errs() << "qcc: " << note << "\n";
    if (notes)
      notes->push_back(note);
  }
  // Float weights of a Conv (eltwise_chanlast): int8 symmetric per output
  // channel, as qcc quantizes float models' weights.
  for (const auto &n : g.nodes()) {
    Value *w = n->input(1);
    if (!n->domain.empty() || n->op != "Conv" || !w || !w->isConstant() || w->quant ||
        w->type.elem != ElemType::f32() || w->type.rank() < 2)
      continue;
    const Tensor &t = *w->constant;
    const int64_t cout = t.shape()[0], per = t.size() / std::max<int64_t>(cout, 1);
    Tensor d(ElemType::f32(), t.shape());
    QuantInfo q;
    q.bits = 8;
    q.isSigned = true;
    q.narrow = true;
    q.axis = 0;
    q.rounding = Rounding::Onnx;
    for (int64_t c = 0; c < cout; ++c) {
      double m = 0;
      for (int64_t i = c * per; i < (c + 1) * per; ++i)
        m = std::max(m, std::fabs(t.getDouble(i)));
      const float sc = m > 0 ? float(m / 127.0) : 1.f;
      for (int64_t i = c * per; i < (c + 1) * per; ++i) {
        const double v = std::clamp(std::nearbyint(t.getDouble(i) / double(sc)), -127.0, 127.0);
        d.data<float>()[i] = float(v) * sc; // what DequantizeLinear gives back
      }
      q.scale.push_back(sc);
      q.zeroPoint.push_back(0);
    }
    Value *nw = g.addConstant(g.uniqueName(w->name + "/qcc_int8"), std::move(d));
    nw->quant = q;
    n->inputs[1] = nw;
    const std::string note = fmt::format("weights '{}' of {}: quantized by qcc (left float by the model): int8 "
                                         "symmetric per output channel",
                                         w->name, n->describe());
    llvm::errs() << "qcc: " << note << "\n";
    if (notes)
      notes->push_back(note);
  }
  return llvm::Error::success();
}

} // namespace

llvm::Error lowerQonnxModel(Graph &g, const std::string &path,
                            const std::map<std::string, std::pair<float, float>> *ranges,
                            std::vector<std::string> *qccQuantized) {
  if (!hasQonnxOps(g))
    return llvm::Error::success();
  QonnxImportStats st;
  markBipolarWeights(g); // binary weights are the model's grid, not float ones for qcc to quantize
  if (ranges)
    if (auto e = quantizeFloatInputs(g, *ranges, qccQuantized))
      return withContext(std::move(e), path);
  if (auto e = prepareQonnxLayout(g))
    return withContext(std::move(e), path);
  foldInputRelu(g);
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
    if (!std::any_of(n->inputs.begin(), n->inputs.end(), isFloat) &&
        !std::any_of(n->outputs.begin(), n->outputs.end(), isFloat))
      continue;
    // The model leaves a part in float (e.g. a Conv on the unquantized
    // input): say which value has no grid.
    std::string why;
    for (const Value *v : n->inputs)
      if (isFloat(v) && !v->quant && (!v->producer || v->producer->op != "DequantizeLinear")) {
        why = v->isConstant() ? fmt::format("; its weights '{}' are not quantized by the model", v->name)
                              : fmt::format("; its input '{}' is not quantized by the model (no Quant before it)",
                                            v->name);
        break;
      }
    return withContext(nodeError(*n, "float op of a QONNX model is not lowered to integers yet{} (qcc keeps the "
                                     "model's own quantization; it does not quantize this op itself)",
                                 why),
                       path);
  }
  return llvm::Error::success();
}

} // namespace qcc
