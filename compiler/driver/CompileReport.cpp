#include "driver/CompileReport.h"

#include "interp/Interpreter.h"
#include "support/Error.h"

#include <cmath>

namespace qcc {

double LayerAccuracy::sqnrDb() const {
  if (noise <= 0)
    return INFINITY;
  return 10.0 * std::log10(signal / noise);
}

namespace {

// Dequantized element i of an integer tensor with quantization q.
double dequant(const Tensor &t, const QuantInfo &q, int64_t i, int64_t channelStride, int64_t channels) {
  size_t c = q.perChannel() ? size_t((i / channelStride) % channels) : 0;
  return double(q.scale[c]) * double(t.getInt(i) - q.zeroPoint[c]);
}

} // namespace

llvm::Expected<std::map<std::string, LayerAccuracy>> measureLayers(const Graph &floatGraph, const QuantizeResult &q,
                                                                  const Dataset &data, int64_t samples) {
  const Graph &intGraph = *q.graph;
  auto fi = Interpreter::create(floatGraph);
  if (!fi)
    return fi.takeError();
  auto ii = Interpreter::create(intGraph);
  if (!ii)
    return ii.takeError();
  std::map<std::string, Tensor> floats;
  std::map<std::string, std::string> floatOfInt;
  for (const auto &[f, i] : q.quantizedName)
    floatOfInt[i] = f;
  std::map<std::string, LayerAccuracy> acc;
  fi->observer = [&](const Node &n, llvm::ArrayRef<Tensor> outs) {
    for (size_t k = 0; k < outs.size(); ++k)
      if (n.outputs[k] && q.quantizedName.count(n.outputs[k]->name))
        floats[n.outputs[k]->name] = outs[k];
  };
  ii->observer = [&](const Node &n, llvm::ArrayRef<Tensor> outs) {
    for (size_t k = 0; k < outs.size(); ++k) {
      const Value *v = n.outputs[k];
      if (!v || !v->quant)
        continue;
      auto it = floatOfInt.find(v->name);
      if (it == floatOfInt.end())
        continue;
      auto f = floats.find(it->second);
      if (f == floats.end() || f->second.size() != outs[k].size())
        continue;
      LayerAccuracy &a = acc[it->second];
      const Tensor &t = outs[k];
      int64_t channels = v->quant->perChannel() ? v->type.shape[size_t(v->quant->axis)] : 1;
      int64_t stride = 1;
      if (v->quant->perChannel())
        for (size_t d = size_t(v->quant->axis) + 1; d < v->type.shape.size(); ++d)
          stride *= v->type.shape[d];
      const float *fv = f->second.data<float>();
      for (int64_t i = 0; i < t.size(); ++i) {
        double e = double(fv[i]) - dequant(t, *v->quant, i, stride, channels);
        a.signal += double(fv[i]) * double(fv[i]);
        a.noise += e * e;
      }
    }
  };
  int64_t batch = floatGraph.inputs.empty() || floatGraph.inputs[0]->type.shape.empty()
                      ? 1
                      : floatGraph.inputs[0]->type.shape[0];
  for (int64_t b = 0; b < samples / batch; ++b) {
    floats.clear();
    std::vector<Tensor> in = sliceBatch(data, floatGraph, b);
    auto fo = fi->run(in);
    if (!fo)
      return fo.takeError();
    auto io = ii->run(in);
    if (!io)
      return io.takeError();
  }
  return acc;
}

llvm::json::Object buildReport(const Graph &floatGraph, const QuantizeResult &q,
                               const std::map<std::string, LayerAccuracy> &acc, const llvm::json::Object &settings) {
  llvm::json::Array layers;
  for (const auto &n : q.graph->nodes()) {
    if (n->domain != "qcc" && !(n->outputs.size() == 1 && n->outputs[0] && n->outputs[0]->quant))
      continue;
    llvm::json::Object l;
    l["node"] = n->name;
    l["op"] = n->domain.empty() ? n->op : n->domain + "::" + n->op;
    const Value *y = n->outputs[0];
    l["output"] = y->name;
    l["output_type"] = y->type.str();
    if (y->quant) {
      l["output_bits"] = int64_t(y->quant->bits);
      l["output_signed"] = y->quant->isSigned;
      l["output_scale"] = double(y->quant->scale[0]);
      l["output_zero_point"] = y->quant->zeroPoint[0];
    }
    for (const Value *in : n->inputs)
      if (in && in->isConstant() && in->quant && in->quant->perChannel()) {
        l["weight_bits"] = int64_t(in->quant->bits);
        l["weight_per_channel"] = true;
        l["weight_scale_min"] = double(*std::min_element(in->quant->scale.begin(), in->quant->scale.end()));
        l["weight_scale_max"] = double(*std::max_element(in->quant->scale.begin(), in->quant->scale.end()));
      }
    if (n->domain == "qcc" && (n->op == "QConv" || n->op == "QGemm")) {
      // The grid's width (a clipped input may sit in wider storage).
      const Value *x = n->input(0), *w = n->input(1);
      if (x)
        l["input_bits"] = int64_t(x->quant ? x->quant->bits : x->type.elem.bits());
      if (w && !l.get("weight_bits"))
        l["weight_bits"] = int64_t(w->quant ? w->quant->bits : w->type.elem.bits());
    }
    if (n->has("rounding"))
      l["rounding"] = n->getString("rounding", "");
    for (const auto &[f, i] : q.quantizedName)
      if (i == y->name) {
        auto a = acc.find(f);
        if (a != acc.end()) {
          double s = a->second.sqnrDb();
          l["sqnr_db"] = std::isfinite(s) ? llvm::json::Value(s) : llvm::json::Value(nullptr);
        }
        l["float_value"] = f;
      }
    layers.push_back(std::move(l));
  }
  llvm::json::Array islands;
  for (const auto &s : q.floatIslands)
    islands.push_back(s);
  llvm::json::Object report;
  report["format"] = "qcc-compile-report";
  report["version"] = 1;
  report["model"] = floatGraph.sourcePath;
  report["settings"] = llvm::json::Object(settings);
  report["layers"] = std::move(layers);
  report["float_islands"] = std::move(islands);
  return report;
}

} // namespace qcc
