#include "backends/cpp/Lowering.h"

#include "backends/cpp/AccumulatorBound.h"
#include "backends/cpp/IndexMap.h"
#include "backends/cpp/WeightPacking.h"
#include "quant/RequantAttrs.h"
#include "support/Error.h"

#include "qcc/float_ops.h"
#include "qcc/qcc_kernels.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

namespace qcc::cpp {

int64_t Blob::add(const void *data, size_t n) {
  const int64_t at = alignUp(int64_t(bytes.size()));
  bytes.resize(size_t(at), 0);
  const auto *p = static_cast<const uint8_t *>(data);
  bytes.insert(bytes.end(), p, p + n);
  return at;
}

std::string ctypeOf(const ElemType &e) {
  if (e.storage() == Storage::F32)
    return "float"; // float islands
  if (!e.isInt())
    return "";
  switch (e.storage()) {
  case Storage::I8: return "int8_t";
  case Storage::U8: return "uint8_t";
  case Storage::I16: return "int16_t";
  case Storage::U16: return "uint16_t";
  case Storage::I32: return "int32_t";
  default: return "";
  }
}

namespace {

using llvm::Error;
Error ok() { return Error::success(); }

std::vector<int64_t> plainStrides(const Shape &s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t d = s.size(); d-- > 1;)
    st[d - 1] = st[d] * s[d];
  return st;
}

/// Logical (model-order) strides of a tensor stored in `layout`.
/// Logical (model-order) strides of a tensor stored in `layout` (NHWC for
/// rank 4, NWC for rank 3: channels innermost).
std::vector<int64_t> logicalStrides(const Shape &s, Layout layout) {
  if (layout == Layout::Plain || (s.size() != 4 && s.size() != 3))
    return plainStrides(s);
  if (s.size() == 3)
    return {s[2] * s[1], 1, s[1]};
  const int64_t c = s[1], h = s[2], w = s[3];
  return {h * w * c, 1, w * c, c};
}

/// Channels-last and the model's layout hold the same bytes (one pixel).
bool layoutsAgree(const Shape &s) {
  int64_t spatial = 1;
  for (size_t d = 2; d < s.size(); ++d)
    spatial *= s[d];
  return s.size() < 3 || spatial == 1;
}

std::string ints(const std::vector<int64_t> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

std::string shapeStr(const TensorType &t) { return fmt::format("{}[{}]", t.elem.str(), ints(t.shape)); }

std::string quantStr(const Value *v) {
  if (!v->quant || v->quant->scale.empty())
    return shapeStr(v->type);
  const QuantInfo &q = *v->quant;
  if (q.perChannel())
    return fmt::format("{} per-channel scales[{}]", shapeStr(v->type), q.scale.size());
  return fmt::format("{} scale {:.6g} zp {}", shapeStr(v->type), q.scale[0], q.zeroPoint[0]);
}

int32_t roundingCode(Rounding r) {
  switch (r) {
  case Rounding::TFLite: return qcc_rt::kRoundTflite;
  case Rounding::Single: return qcc_rt::kRoundSingle;
  case Rounding::Onnx: return qcc_rt::kRoundOnnx;
  }
  return 0;
}

class Lowerer {
public:
  explicit Lowerer(const Graph &g) : g_(g), out_(std::make_unique<Lowered>()) {}

  llvm::Expected<std::unique_ptr<Lowered>> run() {
    computeLastUses();
    out_->steps.push_back(Step{"inputs", {}, nullptr, 0, "", ""});
    for (const Value *in : g_.inputs)
      if (auto e = lowerInput(in))
        return std::move(e);
    for (const auto &np : g_.nodes()) {
      const Node &n = *np;
      nodeIndex_ = int(&np - &g_.nodes()[0]);
      if (isBoundary(n))
        continue;
      if (auto e = lowerNode(n))
        return std::move(e);
    }
    Step end{"outputs", {}, nullptr, 0, "", ""};
    for (const Value *o : g_.outputs) {
      auto e = lowerOutput(o, end);
      if (e)
        return std::move(e);
    }
    out_->steps.push_back(std::move(end));
    finishLiveRanges();
    return std::move(out_);
  }

private:
  // ---- values, buffers, liveness ------------------------------------------

  void computeLastUses() {
    const auto &nodes = g_.nodes();
    for (size_t i = 0; i < nodes.size(); ++i)
      for (const Value *v : nodes[i]->inputs)
        if (v)
          lastUse_[v] = int(i);
    for (const Value *v : g_.outputs)
      lastUse_[v] = std::numeric_limits<int>::max();
  }

  int newBuffer(int64_t bytes) {
    out_->buffers.push_back({bytes, 0, 0, -1});
    bufferValues_.emplace_back();
    return int(out_->buffers.size()) - 1;
  }

  /// A fresh arena buffer for value v.
  ArenaValue &define(const Value *v, Layout layout) {
    ArenaValue a{newBuffer(int64_t(v->type.numElements() * v->type.elem.storageBytes())), layout};
    bufferValues_[size_t(a.buffer)].push_back(v);
    return values_[v] = a;
  }

  /// v shares `buffer` (an alias or an in-place result).
  void alias(const Value *v, int buffer, Layout layout) {
    values_[v] = {buffer, layout};
    bufferValues_[size_t(buffer)].push_back(v);
  }

  /// True when nothing reads `buffer` after the current node.
  bool deadAfterThisNode(int buffer) const {
    if (buffer < 0)
      return false; // a constant
    for (const Value *v : bufferValues_[size_t(buffer)]) {
      auto it = lastUse_.find(v);
      if (it != lastUse_.end() && it->second > nodeIndex_)
        return false;
    }
    return true;
  }

  llvm::Expected<ArenaValue> valueOf(const Node &n, const Value *v) {
    if (v && v->isConstant() && !ctypeOf(v->type.elem).empty()) {
      if (auto it = constants_.find(v); it != constants_.end())
        return it->second;
      const Tensor &t = *v->constant;
      const int64_t off = out_->blob.add(t.raw(), t.bytes());
      return constants_[v] = ArenaValue{int(-(off + 2)), Layout::Plain};
    }
    auto it = values_.find(v);
    if (it == values_.end())
      return nodeError(n, "input '{}' is not an integer activation the cpu backend holds (a float value or a "
                          "constant where a tensor is expected)", v ? v->name : "?");
    return it->second;
  }

  void finishLiveRanges() {
    std::vector<bool> seen(out_->buffers.size(), false);
    for (size_t s = 0; s < out_->steps.size(); ++s)
      for (int b : out_->steps[s].buffers) {
        PlannedBuffer &pb = out_->buffers[size_t(b)];
        if (!seen[size_t(b)]) {
          pb.first = pb.last = int(s);
          seen[size_t(b)] = true;
        }
        pb.first = std::min(pb.first, int(s));
        pb.last = std::max(pb.last, int(s));
      }
  }

  // ---- rendering helpers --------------------------------------------------

  // Rendering runs after the Lowerer is gone: lambdas capture L (the Lowered).
  // A buffer index below -1 stands for a constant in the blob at -(index + 2).
  static std::string at(const Lowered *L, int buffer, const std::string &ctype, int64_t extra = 0) {
    if (buffer < -1)
      return wt(ctype, -(int64_t(buffer) + 2) + extra);
    return fmt::format("at<{}>(A, {})", ctype, L->buffers[size_t(buffer)].offset + extra);
  }
  static std::string wt(const std::string &ctype, int64_t off) { return fmt::format("wt<{}>(W, {})", ctype, off); }

  Step &addStep(const Node &n, std::string comment, std::vector<int> buffers) {
    Step s;
    s.comment = std::move(comment);
    for (int b : buffers)
      if (b >= 0)
        s.buffers.push_back(b);
    s.node = n.name;
    s.op = n.domain.empty() ? n.op : n.domain + "::" + n.op;
    out_->steps.push_back(std::move(s));
    return out_->steps.back();
  }

  std::string header(const Node &n) const {
    std::string s = fmt::format("{} ({}{})", n.name, n.domain.empty() ? "" : n.domain + "::", n.op);
    for (const Value *v : n.inputs)
      if (v && !v->isConstant())
        s += "\n  in  " + v->name + ": " + quantStr(v);
    for (const Value *v : n.outputs)
      if (v)
        s += "\n  out " + v->name + ": " + quantStr(v);
    return s;
  }

  /// v in `want` layout, converting (once per value) with a strided copy.
  llvm::Expected<ArenaValue> inLayout(const Node &n, const Value *v, Layout want) {
    auto a = valueOf(n, v);
    if (!a)
      return a.takeError();
    if (a->layout == want || (v->type.rank() != 4 && v->type.rank() != 3) || layoutsAgree(v->type.shape))
      return a;
    if (a->buffer < 0)
      return nodeError(n, "constant input '{}' in NHWC layout is not supported by the cpu backend", v->name);
    auto key = std::make_pair(v, want);
    if (auto it = converted_.find(key); it != converted_.end())
      return it->second;
    ArenaValue c{newBuffer(int64_t(v->type.numElements() * v->type.elem.storageBytes())), want};
    bufferValues_[size_t(c.buffer)].push_back(v);
    const Shape &s = v->type.shape;
    auto src = logicalStrides(s, a->layout), dst = logicalStrides(s, want);
    std::string ct = ctypeOf(v->type.elem);
    Step &st = addStep(n, fmt::format("{} to {} layout for {}", v->name, want == Layout::Nhwc ? "NHWC" : "NCHW", n.name),
                       {a->buffer, c.buffer});
    const int from = a->buffer, to = c.buffer;
    st.code = [L = out_.get(), s, src, dst, ct, from, to] {
      return fmt::format("{{\n    static const int64_t dims[] = {{{}}}, src[] = {{{}}}, dst[] = {{{}}};\n"
                         "    qcc_rt::strided_copy<{}>({}, dims, {}, src, {}, dst);\n  }}",
                         ints(s), ints(src), ints(dst), ct, s.size(), at(L, from, ct), at(L, to, ct));
    };
    converted_[key] = c;
    return c;
  }

  // Requantization tables into the blob; returns the C++ initializer.
  llvm::Expected<std::string> requant(const Node &n, int64_t channels, const std::string &prefix, int32_t zp,
                                      int32_t lo, int32_t hi, int64_t &bytes) {
    auto rqs = getRequants(n, channels, prefix);
    if (!rqs)
      return rqs.takeError();
    std::vector<int32_t> m, sh;
    std::vector<float> sc;
    for (const Requant &r : *rqs) {
      m.push_back(r.fp.multiplier);
      sh.push_back(r.fp.shift);
      sc.push_back(r.scale);
    }
    int64_t om = out_->blob.addVector(m), os = out_->blob.addVector(sh), oc = out_->blob.addVector(sc);
    bytes += int64_t(m.size() * 12);
    return fmt::format("{{{}, {}, {}, {}, {}, {}, {}, {}}}", wt("int32_t", om), wt("int32_t", os), wt("float", oc),
                       m.size(), roundingCode((*rqs)[0].rounding), zp, lo, hi);
  }

  // ---- boundaries -----------------------------------------------------------

  bool isBoundary(const Node &n) const {
    if (n.domain.empty() && n.op == "QuantizeLinear" && n.input(0) &&
        std::find(g_.inputs.begin(), g_.inputs.end(), n.input(0)) != g_.inputs.end())
      return true;
    if (n.domain.empty() && n.op == "DequantizeLinear" && n.output(0) &&
        std::find(g_.outputs.begin(), g_.outputs.end(), n.output(0)) != g_.outputs.end())
      return true;
    return false;
  }

  static llvm::Expected<std::pair<float, int64_t>> perTensorQuant(const Node &n) {
    Value *s = n.input(1), *z = n.input(2);
    if (!s || !s->isConstant() || s->constant->size() != 1 || (z && (!z->isConstant() || z->constant->size() != 1)))
      return nodeError(n, "the cpu backend needs a constant per-tensor scale and zero point at the model boundary");
    return std::make_pair(s->constant->toFloats()[0], z ? z->constant->getInt(0) : int64_t(0));
  }

  Error lowerInput(const Value *in) {
    auto users = g_.users(in);
    if (users.size() != 1 || !users[0]->domain.empty() || users[0]->op != "QuantizeLinear")
      return makeError("graph input '{}' is not consumed by exactly one QuantizeLinear: the cpu backend runs integer "
                       "graphs only (float islands are not supported yet)", in->name);
    const Node &q = *users[0];
    auto p = perTensorQuant(q);
    if (!p)
      return p.takeError();
    const Value *y = q.output(0);
    if (ctypeOf(y->type.elem).empty())
      return nodeError(q, "quantized type {} is not supported by the cpu backend", y->type.elem.str());
    ArenaValue &a = define(y, Layout::Plain);
    out_->steps[0].buffers.push_back(a.buffer);
    out_->inputBuffers.push_back(a.buffer);
    QuantInfo range;
    range.bits = y->type.elem.bits();
    range.isSigned = y->type.elem.isSigned();
    out_->inputs.push_back({in->name, in->type.shape, ctypeOf(y->type.elem), p->first, p->second, range.qmin(), range.qmax()});
    return ok();
  }

  Error lowerOutput(const Value *o, Step &end) {
    const Node *d = o->producer;
    if (d && o->type.elem.storage() == Storage::F32 && values_.count(o)) { // the end of a float island
      nodeIndex_ = std::numeric_limits<int>::max() - 1;
      auto a = inLayout(*d, o, Layout::Plain);
      if (!a)
        return a.takeError();
      end.buffers.push_back(a->buffer);
      out_->outputBuffers.push_back(a->buffer);
      out_->outputs.push_back({o->name, o->type.shape, "float", 1.f, 0});
      return ok();
    }
    if (!d || !d->domain.empty() || d->op != "DequantizeLinear")
      return makeError("graph output '{}' is not produced by a DequantizeLinear or a float island the cpu backend "
                       "supports", o->name);
    auto p = perTensorQuant(*d);
    if (!p)
      return p.takeError();
    nodeIndex_ = std::numeric_limits<int>::max() - 1;
    auto a = inLayout(*d, d->input(0), Layout::Plain);
    if (!a)
      return a.takeError();
    end.buffers.push_back(a->buffer);
    out_->outputBuffers.push_back(a->buffer);
    out_->outputs.push_back({o->name, o->type.shape, ctypeOf(d->input(0)->type.elem), p->first, p->second});
    return ok();
  }

  // ---- ops --------------------------------------------------------------------

  Error lowerNode(const Node &n) {
    for (const Value *o : n.outputs)
      if (o && ctypeOf(o->type.elem).empty())
        return nodeError(n, "the cpu backend cannot emit this op: output '{}' is {}", o->name, o->type.elem.str());
    if (n.domain.empty() && (n.op == "DequantizeLinear" || n.op == "QuantizeLinear"))
      return lowerIslandBoundary(n);
    if (n.domain.empty() && (n.op == "Softmax" || n.op == "LogSoftmax"))
      return lowerSoftmax(n);
    for (const Value *o : n.outputs)
      if (o && o->type.elem.isFloat())
        return nodeError(n, "float island op: the cpu backend emits Softmax and LogSoftmax islands only so far "
                            "(--target none writes the integer graph without a library)");
    if (n.domain == "qcc") {
      if (n.op == "QConv")
        return lowerConv(n);
      if (n.op == "QGemm")
        return lowerGemm(n);
      if (n.op == "QAdd" || n.op == "QMul" || n.op == "QAddFma")
        return lowerBinary(n);
      if (n.op == "Requantize" || n.op == "Lut")
        return lowerUnary(n);
      if (n.op == "QGlobalAveragePool")
        return lowerGap(n);
      if (n.op == "QTrunc")
        return lowerTrunc(n);
      if (n.op == "Threshold")
        return lowerThreshold(n);
    } else if (n.domain.empty()) {
      if (n.op == "Clip")
        return lowerUnary(n);
      if (n.op == "MaxPool")
        return lowerMaxPool(n);
      if (n.op == "Reshape" || n.op == "Flatten" || n.op == "Squeeze" || n.op == "Unsqueeze" ||
          n.op == "Identity" || n.op == "Dropout")
        return lowerReshape(n);
      if (n.op == "Transpose")
        return lowerTranspose(n);
      if (n.op == "Concat")
        return lowerConcat(n);
      if (n.op == "Pad" && n.getString("mode", "constant") == "constant")
        return lowerConstantPad(n);
      if (isIndexMapOp(n))
        return lowerIndexMap(n);
    }
    return nodeError(n, "the cpu backend cannot emit this op yet");
  }

  /// DequantizeLinear / QuantizeLinear inside the graph, around a float island.
  Error lowerIslandBoundary(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    auto p = perTensorQuant(n);
    if (!p)
      return p.takeError();
    auto xa = valueOf(n, x);
    if (!xa)
      return xa.takeError();
    ArenaValue ya = define(y, xa->layout);
    const std::string tx = ctypeOf(x->type.elem), ty = ctypeOf(y->type.elem);
    const int64_t count = x->type.numElements();
    std::string call;
    if (n.op == "DequantizeLinear") {
      call = fmt::format("qcc_rt::dequantize({}, @X, {:#.9g}f, {}, @Y);", count, p->first, p->second);
    } else {
      QuantInfo q;
      q.bits = y->type.elem.bits();
      q.isSigned = y->type.elem.isSigned();
      call = fmt::format("qcc_rt::quantize({}, @X, {:#.9g}f, {}, {}, {}, @Y);", count, p->first, p->second, q.qmin(),
                         q.qmax());
    }
    Step &st = addStep(n, header(n), {xa->buffer, ya.buffer});
    const int xb = xa->buffer, yb = ya.buffer;
    st.code = [L = out_.get(), call, tx, ty, xb, yb] {
      std::string c = call;
      c.replace(c.find("@X"), 2, at(L, xb, tx));
      c.replace(c.find("@Y"), 2, at(L, yb, ty));
      return c;
    };
    return ok();
  }

  /// Float-island Softmax / LogSoftmax: the float interpreter's own code
  /// (runtime_stub/qcc/float_ops.h), so the result is bit-identical.
  Error lowerSoftmax(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    if (x->type.elem.storage() != Storage::F32)
      return nodeError(n, "the cpu backend runs float islands in float32 only");
    auto xa = inLayout(n, x, Layout::Plain);
    if (!xa)
      return xa.takeError();
    const Shape &s = x->type.shape;
    const int64_t axis = n.getInt("axis", int64_t(s.size()) - 1);
    const bool coerce2d = n.getInt("coerce2d", 0) != 0;
    int64_t outer, len, inner;
    qcc_rt::softmax_extents(s.data(), int64_t(s.size()), axis, coerce2d, outer, len, inner);
    ArenaValue ya = define(y, Layout::Plain);
    const int scratch = inner > 1 ? newBuffer(2 * inner * 4) : -1;
    Step &st = addStep(n, header(n) + "\n  float island: computed in float32 as the float reference does",
                       {xa->buffer, ya.buffer, scratch});
    const int xb = xa->buffer, yb = ya.buffer;
    const bool logMode = n.op == "LogSoftmax";
    st.code = [L = out_.get(), xb, yb, outer, len, inner, logMode, scratch] {
      return fmt::format("qcc_rt::softmax({}, {}, {}, {}, {}, {}, {});", at(L, xb, "float"), at(L, yb, "float"), outer,
                         len, inner, logMode ? "true" : "false",
                         scratch >= 0 ? at(L, scratch, "float") : std::string("nullptr"));
    };
    return ok();
  }

  static std::vector<int8_t> int8Weights(const Value &w) {
    std::vector<int8_t> wv(size_t(w.constant->size()));
    for (size_t i = 0; i < wv.size(); ++i)
      wv[i] = int8_t(w.constant->getInt(int64_t(i)));
    return wv;
  }

  struct WeightedConstants {
    int64_t weights = 0, bias = 0, bytes = 0; ///< blob offsets, and bytes for the report
    std::string requant;                     ///< the qcc_rt::Requant initializer
    PackedPanel panel;                       ///< how the weight panel is stored (bytes dropped)
    int unpackBuffer = -1;                   ///< arena buffer the panel is unpacked into
    AccumulatorBound acc;
    int weightBits = 8;
    int64_t weightCount = 0;
    bool binary = false;         ///< XNOR-popcount kernel: weights holds sign bits (binary.h)
    int64_t magnitudes = 0;      ///< binary: blob offset of the per-channel weight magnitudes
    int64_t binaryBytes = 0;     ///< binary: sign bits + magnitudes as stored
  };

  /// v holds only -1 and +1: a one-step qcc::Threshold with levels -1 and +1
  /// made it, possibly followed by ops that only move or select its elements.
  static bool bipolarValues(const Value *v, int depth = 0) {
    const Node *p = v ? v->producer : nullptr;
    if (!p || depth > 256)
      return false;
    if (p->domain == "qcc" && p->op == "Threshold") {
      const Value *t = p->input(1);
      return t && t->isConstant() && t->type.rank() == 2 && t->type.shape[1] == 1 && p->getInt("out_base", 0) == -1 &&
             p->getInt("out_step", 1) == 2;
    }
    if (!p->domain.empty())
      return false;
    if (p->op == "Concat") {
      for (const Value *in : p->inputs)
        if (!bipolarValues(in, depth + 1))
          return false;
      return !p->inputs.empty();
    }
    static const char *const moves[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout",
                                        "Transpose", "MaxPool", "Slice", "Gather", "Split", "DepthToSpace",
                                        "SpaceToDepth", "Tile", "Expand"};
    bool move = std::any_of(std::begin(moves), std::end(moves), [&](const char *op) { return p->op == op; });
    move = move || (p->op == "Resize" && p->getString("mode", "nearest") == "nearest") ||
           (p->op == "Pad" && p->getString("mode", "constant") != "constant");
    if (!move || (p->op != "Split" && p->output(0) != v)) // MaxPool's indices, Dropout's mask: not values
      return false;
    return bipolarValues(p->input(0), depth + 1);
  }

  /// Packed weights (sub-byte weights packed further, see WeightPacking.h), the
  /// int32 bias (zeros when absent) and the per-channel requantization of a
  /// QConv / QGemm, into the blob; the accumulator bound, refusing the node
  /// when int32 could overflow.
  llvm::Expected<WeightedConstants> addWeightedConstants(const Node &n, const std::vector<int8_t> &packed,
                                                         const Value *w, const Value *b, const Value *x,
                                                         int32_t channels, const BinaryPanel *bin = nullptr) {
    std::vector<int32_t> bias(size_t(channels), 0);
    if (b)
      for (size_t i = 0; i < bias.size(); ++i)
        bias[i] = int32_t(b->constant->getInt(int64_t(i)));
    WeightedConstants c;
    c.weightBits = int(w->type.elem.bits());
    c.weightCount = w->type.numElements();
    // Binary layers: inputs +-1 and padding 0 (the caller checked both).
    const auto xr = bin ? std::make_pair(int64_t(-1), int64_t(1)) : integerRange(x);
    const int64_t zx = n.op == "QConv" ? n.getInt("x_zero_point", 0) : xr.first; // the padding value
    const int64_t storageMax = (int64_t(1) << (8 * x->type.elem.storageBytes())) - 1;
    c.acc = accumulatorBound(int8Weights(*w), channels, bias, std::min(xr.first, zx), std::max(xr.second, zx),
                             storageMax);
    if (c.acc.partialBound > std::numeric_limits<int32_t>::max())
      return nodeError(n, "the int32 accumulator could overflow: |bias| + sum|w| * {} reaches {} (exact range "
                          "[{}, {}], {} bits) with {} input values per output; split the layer or use narrower "
                          "weights",
                       storageMax, c.acc.partialBound, c.acc.lo, c.acc.hi, c.acc.bits,
                       c.weightCount / std::max<int64_t>(channels, 1));
    if (bin) {
      c.binary = true;
      c.panel.panelBytes = int64_t(packed.size()); // what the int8 kernel would read
      c.panel.count = c.panel.panelBytes;
      c.binaryBytes = bin->storedBytes();
      c.bytes = c.binaryBytes + int64_t(bias.size() * 4);
      c.weights = out_->blob.addVector(bin->bits);
      c.magnitudes = out_->blob.addVector(bin->magnitude);
    } else {
      c.panel = packPanel(packed, unsigned(c.weightBits));
      c.bytes = int64_t(c.panel.bytes.size() + bias.size() * 4);
      c.weights = out_->blob.addVector(c.panel.bytes);
      c.panel.bytes.clear();
    }
    c.bias = out_->blob.addVector(bias);
    if (c.panel.packed())
      c.unpackBuffer = newBuffer(c.panel.panelBytes);
    int32_t lo, hi;
    outputClamp(n, lo, hi);
    auto rq = requant(n, channels, "", int32_t(n.getInt("out_zero_point", 0)), lo, hi, c.bytes);
    if (!rq)
      return rq.takeError();
    c.requant = *rq;
    return c;
  }

  /// Comment line on the weights and the accumulator.
  static std::string weightComment(const WeightedConstants &c, const Value *w) {
    std::string s = fmt::format("weights {} {}, ", w->type.elem.str(),
                                w->quant && !w->quant->perChannel() ? "per-tensor" : "per-channel");
    if (c.binary)
      s += fmt::format("binary layer (inputs +-1, weights +-m per channel): XNOR-popcount kernel, sign bits and "
                       "magnitudes {} bytes (int8 panel {} bytes)",
                       c.binaryBytes, c.panel.panelBytes);
    else if (c.panel.packed())
      s += fmt::format("int8 panel {} bytes, stored at {} bits per value ({} bytes), unpacked into the arena first",
                       c.panel.panelBytes, c.panel.bits,
                       qcc_rt::packed_panel_bytes(c.panel.bits, c.panel.head, c.panel.count, c.panel.tail));
    else
      s += fmt::format("{} bytes packed", c.panel.panelBytes);
    return s + fmt::format("\n  accumulator: {} bits suffice (range [{}, {}]), computed in int32", c.acc.bits, c.acc.lo,
                           c.acc.hi);
  }

  /// The report's weight figures on the layer's step.
  static void recordWeights(Step &st, const WeightedConstants &c) {
    st.weightBytes = c.bytes;
    st.weightBits = c.weightBits;
    st.weightStorageBits = c.binary ? 1 : c.panel.bits;
    st.accBits = c.acc.bits;
    st.weightCount = c.weightCount;
    st.panelBytes = c.panel.panelBytes;
    st.panelBytesStored =
        c.binary ? c.binaryBytes
                 : int64_t(qcc_rt::packed_panel_bytes(c.panel.bits, c.panel.head, c.panel.count, c.panel.tail));
    st.unpackBytes = c.panel.packed() ? c.panel.panelBytes : 0;
    st.kernel = c.binary ? "xnor_popcount" : "int8";
  }

  /// The statement unpacking the panel (empty when it is read from the blob)
  /// and the kernel's weight pointer.
  static std::string unpackStatement(const Lowered *L, const WeightedConstants &c) {
    if (!c.panel.packed())
      return "";
    return fmt::format("qcc_rt::unpack_panel({}, {}, {}, {}, {}, {});\n    ", c.panel.bits, c.panel.head, c.panel.count,
                       c.panel.tail, wt("uint8_t", c.weights), at(L, c.unpackBuffer, "int8_t"));
  }
  static std::string weightPointer(const Lowered *L, const WeightedConstants &c) {
    return c.panel.packed() ? at(L, c.unpackBuffer, "int8_t") : wt("int8_t", c.weights);
  }

  Error lowerConv(const Node &n) {
    const Value *x = n.input(0), *w = n.input(1), *b = n.input(2), *y = n.output(0);
    if (!w || !w->isConstant() || w->type.elem.storage() != Storage::I8)
      return nodeError(n, "the cpu backend needs constant int8 weights, weight is {}", w ? shapeStr(w->type) : "?");
    if (b && !b->isConstant())
      return nodeError(n, "bias must be a constant");
    // A 1-D convolution is a 2-D one of height 1 (NWC is NHWC with H = 1).
    const bool oneD = x->type.rank() == 3;
    Shape xs = x->type.shape, ws = w->type.shape, ys = y->type.shape;
    auto strides = n.getInts("strides", std::vector<int64_t>(xs.size() - 2, 1));
    auto dil = n.getInts("dilations", std::vector<int64_t>(xs.size() - 2, 1));
    auto pads = n.getInts("pads", std::vector<int64_t>(2 * (xs.size() - 2), 0));
    if (oneD) {
      xs.insert(xs.begin() + 2, 1);
      ws.insert(ws.begin() + 2, 1);
      ys.insert(ys.begin() + 2, 1);
      strides.insert(strides.begin(), 1);
      dil.insert(dil.begin(), 1);
      pads = {0, pads[0], 0, pads[1]};
    }
    qcc_rt::ConvShape s{};
    s.n = int32_t(xs[0]);
    s.cin = int32_t(xs[1]);
    s.h = int32_t(xs[2]);
    s.w = int32_t(xs[3]);
    s.cout = int32_t(ws[0]);
    s.kh = int32_t(ws[2]);
    s.kw = int32_t(ws[3]);
    s.oh = int32_t(ys[2]);
    s.ow = int32_t(ys[3]);
    s.sh = int32_t(strides[0]);
    s.sw = int32_t(strides[1]);
    s.dh = int32_t(dil[0]);
    s.dw = int32_t(dil[1]);
    s.pt = int32_t(pads[0]);
    s.pl = int32_t(pads[1]);
    s.group = int32_t(n.getInt("group", 1));
    s.x_zero_point = int32_t(n.getInt("x_zero_point", 0));

    auto xa = inLayout(n, x, Layout::Nhwc);
    if (!xa)
      return xa.takeError();
    const std::vector<int8_t> wv = int8Weights(*w);
    std::vector<int8_t> packed(qcc_rt::conv_packed_weight_bytes(s));
    qcc_rt::conv_pack_weights(s, wv.data(), packed.data());
    std::optional<BinaryPanel> bin;
    if (s.x_zero_point == 0 && qcc_rt::binary_conv_worthwhile(s) && bipolarValues(x))
      bin = packBinaryConv(s, wv); // else the int8 kernel (exact as well)
    auto c = addWeightedConstants(n, packed, w, b, x, s.cout, bin ? &*bin : nullptr);
    if (!c)
      return c.takeError();
    const int64_t ob = c->bias;
    const std::string rqs = c->requant;
    const int64_t scratchBytes = int64_t(bin ? qcc_rt::binary_conv_scratch_bytes(s) : qcc_rt::conv_scratch_bytes(s));
    const int scratch = scratchBytes ? newBuffer(scratchBytes) : -1;
    ArenaValue ya = define(y, Layout::Nhwc);
    std::vector<int> bufs = {xa->buffer, ya.buffer};
    if (scratch >= 0)
      bufs.push_back(scratch);
    if (c->unpackBuffer >= 0)
      bufs.push_back(c->unpackBuffer);
    std::string comment = header(n) + fmt::format("\n  {}x{} stride {}x{} pad {},{} dilation {}x{} group {}, {}", s.kh,
                                                  s.kw, s.sh, s.sw, s.pt, s.pl, s.dh, s.dw, s.group, weightComment(*c, w));
    Step &st = addStep(n, comment, bufs);
    recordWeights(st, *c);
    const std::string tx = ctypeOf(x->type.elem), ty = ctypeOf(y->type.elem);
    const int xb = xa->buffer, yb = ya.buffer;
    st.code = [L = out_.get(), s, tx, ty, rqs, wc = *c, ob, xb, yb, scratch] {
      if (wc.binary)
        return fmt::format("{{\n    static const qcc_rt::ConvShape s = {{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
                           "{}, {}, {}, {}}};\n    const qcc_rt::Requant rq = {};\n"
                           "    qcc_rt::binary_conv_nhwc(s, {}, {}, {}, {}, rq, {}, {});\n  }}",
                           s.n, s.h, s.w, s.cin, s.oh, s.ow, s.cout, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw, s.pt, s.pl,
                           s.group, s.x_zero_point, rqs, at(L, xb, tx), wt("uint64_t", wc.weights),
                           wt("int32_t", wc.magnitudes), wt("int32_t", ob), at(L, yb, ty),
                           fmt::format("A + {}", L->buffers[size_t(scratch)].offset));
      return fmt::format("{{\n    static const qcc_rt::ConvShape s = {{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
                         "{}, {}, {}}};\n    const qcc_rt::Requant rq = {};\n"
                         "    {}qcc_rt::conv_nhwc(s, {}, {}, {}, rq, {}, {});\n  }}",
                         s.n, s.h, s.w, s.cin, s.oh, s.ow, s.cout, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw, s.pt, s.pl, s.group,
                         s.x_zero_point, rqs, unpackStatement(L, wc), at(L, xb, tx), weightPointer(L, wc),
                         wt("int32_t", ob), at(L, yb, ty),
                         scratch >= 0 ? fmt::format("A + {}", L->buffers[size_t(scratch)].offset) : "nullptr");
    };
    return ok();
  }

  Error lowerGemm(const Node &n) {
    const Value *x = n.input(0), *w = n.input(1), *b = n.input(2), *y = n.output(0);
    if (!w || !w->isConstant() || w->type.elem.storage() != Storage::I8)
      return nodeError(n, "the cpu backend needs constant int8 weights, weight is {}", w ? shapeStr(w->type) : "?");
    if (b && !b->isConstant())
      return nodeError(n, "bias must be a constant");
    auto xa = inLayout(n, x, Layout::Plain);
    if (!xa)
      return xa.takeError();
    qcc_rt::GemmShape s{};
    s.n = int32_t(w->type.shape[0]);
    s.k = int32_t(w->type.shape[1]);
    s.m = int32_t(x->type.numElements() / std::max<int64_t>(s.k, 1));
    const std::vector<int8_t> wv = int8Weights(*w);
    std::vector<int8_t> packed(qcc_rt::gemm_packed_weight_bytes(s));
    qcc_rt::gemm_pack_weights(s, wv.data(), packed.data());
    std::optional<BinaryPanel> bin;
    if (bipolarValues(x))
      bin = packBinaryGemm(s, wv); // else the int8 kernel (exact as well)
    auto c = addWeightedConstants(n, packed, w, b, x, s.n, bin ? &*bin : nullptr);
    if (!c)
      return c.takeError();
    const int64_t ob = c->bias;
    const std::string rqs = c->requant;
    const int64_t scratchBytes = int64_t(bin ? qcc_rt::binary_gemm_scratch_bytes(s) : qcc_rt::gemm_scratch_bytes(s));
    const int scratch = scratchBytes ? newBuffer(scratchBytes) : -1;
    ArenaValue ya = define(y, Layout::Plain);
    std::vector<int> bufs = {xa->buffer, ya.buffer};
    if (scratch >= 0)
      bufs.push_back(scratch);
    if (c->unpackBuffer >= 0)
      bufs.push_back(c->unpackBuffer);
    Step &st = addStep(n, header(n) + fmt::format("\n  fully connected {}x{} -> {}, {}", s.m, s.k, s.n, weightComment(*c, w)),
                       bufs);
    recordWeights(st, *c);
    const std::string tx = ctypeOf(x->type.elem), ty = ctypeOf(y->type.elem);
    const int xb = xa->buffer, yb = ya.buffer;
    st.code = [L = out_.get(), s, tx, ty, rqs, wc = *c, ob, xb, yb, scratch] {
      if (wc.binary)
        return fmt::format("{{\n    static const qcc_rt::GemmShape s = {{{}, {}, {}}};\n    const qcc_rt::Requant rq = {};\n"
                           "    qcc_rt::binary_gemm(s, {}, {}, {}, {}, rq, {}, {});\n  }}",
                           s.m, s.n, s.k, rqs, at(L, xb, tx), wt("uint64_t", wc.weights), wt("int32_t", wc.magnitudes),
                           wt("int32_t", ob), at(L, yb, ty), fmt::format("A + {}", L->buffers[size_t(scratch)].offset));
      return fmt::format("{{\n    static const qcc_rt::GemmShape s = {{{}, {}, {}}};\n    const qcc_rt::Requant rq = {};\n"
                         "    {}qcc_rt::gemm(s, {}, {}, {}, rq, {}, {});\n  }}",
                         s.m, s.n, s.k, rqs, unpackStatement(L, wc), at(L, xb, tx), weightPointer(L, wc),
                         wt("int32_t", ob), at(L, yb, ty),
                         scratch >= 0 ? fmt::format("A + {}", L->buffers[size_t(scratch)].offset) : "nullptr");
    };
    return ok();
  }

  Error lowerMaxPool(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    if (x->type.rank() != 4 && x->type.rank() != 3)
      return nodeError(n, "the cpu backend supports 1-D and 2-D max pooling, input is {}", shapeStr(x->type));
    if (n.outputs.size() > 1 && n.output(1))
      return nodeError(n, "the Indices output is not supported by the cpu backend");
    Shape xs = x->type.shape, ys = y->type.shape;
    const size_t sp = xs.size() - 2;
    auto k = n.getInts("kernel_shape"), st = n.getInts("strides", std::vector<int64_t>(sp, 1)),
         dil = n.getInts("dilations", std::vector<int64_t>(sp, 1)), pads = n.getInts("pads", std::vector<int64_t>(2 * sp, 0));
    if (k.size() != sp || st.size() != sp || dil.size() != sp || pads.size() != 2 * sp)
      return nodeError(n, "kernel_shape/strides/dilations/pads do not match the spatial rank");
    if (sp == 1) { // 1-D: height 1
      xs.insert(xs.begin() + 2, 1);
      ys.insert(ys.begin() + 2, 1);
      k.insert(k.begin(), 1);
      st.insert(st.begin(), 1);
      dil.insert(dil.begin(), 1);
      pads = {0, pads[0], 0, pads[1]};
    }
    auto xa = inLayout(n, x, Layout::Nhwc);
    if (!xa)
      return xa.takeError();
    qcc_rt::PoolShape s{int32_t(xs[0]), int32_t(xs[2]), int32_t(xs[3]), int32_t(xs[1]), int32_t(ys[2]), int32_t(ys[3]),
                        int32_t(k[0]), int32_t(k[1]), int32_t(st[0]), int32_t(st[1]), int32_t(dil[0]), int32_t(dil[1]),
                        int32_t(pads[0]), int32_t(pads[1])};
    ArenaValue ya = define(y, Layout::Nhwc);
    Step &stp = addStep(n, header(n) + fmt::format("\n  {}x{} stride {}x{} pad {},{}", s.kh, s.kw, s.sh, s.sw, s.pt, s.pl),
                        {xa->buffer, ya.buffer});
    const std::string t = ctypeOf(x->type.elem);
    const int xb = xa->buffer, yb = ya.buffer;
    stp.code = [L = out_.get(), s, t, xb, yb] {
      return fmt::format("{{\n    static const qcc_rt::PoolShape s = {{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
                         "{}}};\n    qcc_rt::maxpool_nhwc(s, {}, {});\n  }}",
                         s.n, s.h, s.w, s.c, s.oh, s.ow, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw, s.pt, s.pl, at(L, xb, t),
                         at(L, yb, t));
    };
    return ok();
  }

  Error lowerGap(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    if (x->type.rank() != 4 && x->type.rank() != 3)
      return nodeError(n, "the cpu backend supports 1-D and 2-D global average pooling, input is {}", shapeStr(x->type));
    auto xa = inLayout(n, x, Layout::Nhwc);
    if (!xa)
      return xa.takeError();
    int32_t lo, hi;
    outputClamp(n, lo, hi);
    int64_t bytes = 0;
    auto rq = requant(n, 1, "", int32_t(n.getInt("out_zero_point", 0)), lo, hi, bytes);
    if (!rq)
      return rq.takeError();
    const Shape &xs = x->type.shape;
    ArenaValue ya = define(y, Layout::Plain); // N x C x 1 x 1: both layouts agree
    Step &st = addStep(n, header(n), {xa->buffer, ya.buffer});
    st.weightBytes = bytes;
    const std::string tx = ctypeOf(x->type.elem), ty = ctypeOf(y->type.elem), rqs = *rq;
    const int xb = xa->buffer, yb = ya.buffer;
    const int64_t N = xs[0], HW = xs.size() == 4 ? xs[2] * xs[3] : xs[2], C = xs[1], zx = n.getInt("x_zero_point", 0);
    st.code = [L = out_.get(), tx, ty, rqs, xb, yb, N, HW, C, zx] {
      return fmt::format("{{\n    const qcc_rt::Requant rq = {};\n    qcc_rt::global_avgpool_nhwc({}, {}, {}, {}, {}, rq, {});\n  }}",
                         rqs, N, HW, C, at(L, xb, tx), zx, at(L, yb, ty));
    };
    return ok();
  }

  /// qcc::QTrunc (runtime_stub/qcc/trunc.h): a window sum in NHWC, or elementwise in the input's layout.
  Error lowerTrunc(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    static const char *const modes[] = {"FLOOR", "CEIL", "HALF_EVEN", "UP", "DOWN", "HALF_UP", "HALF_DOWN"};
    std::string m = n.getString("rounding_mode", "FLOOR");
    m = m == "ROUND" ? "HALF_EVEN" : m;
    const auto it = std::find(std::begin(modes), std::end(modes), m);
    if (it == std::end(modes))
      return nodeError(n, "unknown rounding_mode '{}'", m);
    int32_t lo, hi;
    outputClamp(n, lo, hi);
    QuantInfo r; // the reference clamps to the type's range too
    r.bits = y->type.elem.bits();
    r.isSigned = y->type.elem.isSigned();
    lo = int32_t(std::max<int64_t>(lo, r.qmin()));
    hi = int32_t(std::min<int64_t>(hi, r.qmax()));
    const std::string p = fmt::format("{{{}, {}, {}, {}, {}, {}}}", n.getInt("x_zero_point", 0), n.getInt("offset", 0),
                                      n.getInt("shift", 0), int(it - std::begin(modes)), lo, hi);
    const bool pooled = n.has("kernel_shape");
    auto xa = pooled ? inLayout(n, x, Layout::Nhwc) : valueOf(n, x);
    if (!xa)
      return xa.takeError();
    ArenaValue ya = define(y, pooled ? Layout::Nhwc : xa->layout);
    const std::string tx = ctypeOf(x->type.elem), ty = ctypeOf(y->type.elem);
    const int xb = xa->buffer, yb = ya.buffer;
    std::string shape;
    if (pooled) {
      const Shape &xs = x->type.shape, &ys = y->type.shape;
      const auto k = n.getInts("kernel_shape"), st = n.getInts("strides", {1, 1}), pd = n.getInts("pads", {0, 0, 0, 0});
      shape = fmt::format("{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 1, 1, {}, {}", xs[0], xs[2], xs[3], xs[1], ys[2], ys[3],
                          k[0], k[1], st[0], st[1], pd[0], pd[1]);
    }
    Step &stp = addStep(n, header(n) + fmt::format("\n  {} {} {}", pooled ? "window sum, shift" : "shift", n.getInt("shift", 0), m),
                        {xb, yb});
    const int64_t count = x->type.numElements();
    stp.code = [L = out_.get(), p, shape, tx, ty, xb, yb, count] {
      if (shape.empty())
        return fmt::format("{{\n    static const qcc_rt::TruncParams p = {};\n    qcc_rt::trunc_elementwise({}, {}, p, {});\n  }}",
                           p, count, at(L, xb, tx), at(L, yb, ty));
      return fmt::format("{{\n    static const qcc_rt::PoolShape s = {{{}}};\n    static const qcc_rt::TruncParams p = {};\n"
                         "    qcc_rt::trunc_pool_nhwc(s, {}, p, {});\n  }}",
                         shape, p, at(L, xb, tx), at(L, yb, ty));
    };
    return ok();
  }

  /// Output layout of an elementwise op: NHWC when an input of the output's
  /// full shape is NHWC, else the model's.
  Layout elementwiseLayout(const Node &n, const std::vector<ArenaValue> &ins) {
    const Value *y = n.output(0);
    for (size_t i = 0; i < ins.size(); ++i)
      if (ins[i].layout == Layout::Nhwc && n.input(i)->type.shape == y->type.shape)
        return Layout::Nhwc;
    return Layout::Plain;
  }

  /// y can overwrite input i in place.
  bool canReuse(const Node &n, size_t i, const ArenaValue &a, Layout yl) {
    const Value *x = n.input(i), *y = n.output(0);
    return x->type.shape == y->type.shape && a.layout == yl &&
           x->type.elem.storageBytes() == y->type.elem.storageBytes() && deadAfterThisNode(a.buffer);
  }

  Error lowerBinary(const Node &n) {
    std::vector<ArenaValue> ins;
    for (size_t i = 0; i < 2; ++i) {
      auto a = valueOf(n, n.input(i));
      if (!a)
        return a.takeError();
      ins.push_back(*a);
    }
    const Value *y = n.output(0);
    const Layout yl = elementwiseLayout(n, ins);
    const Shape &ys = y->type.shape;
    const size_t R = ys.size();
    if (R > 6)
      return nodeError(n, "rank {} is above the cpu backend's 6", R);
    // Physical iteration order of y and each input's strides in that order.
    std::vector<size_t> perm(R);
    for (size_t d = 0; d < R; ++d)
      perm[d] = d;
    if (yl == Layout::Nhwc)
      perm = R == 4 ? std::vector<size_t>{0, 2, 3, 1} : std::vector<size_t>{0, 2, 1};
    std::vector<int64_t> dims(R), strides[2];
    for (size_t j = 0; j < R; ++j)
      dims[j] = ys[perm[j]];
    for (size_t i = 0; i < 2; ++i) {
      const Shape &xs = n.input(i)->type.shape;
      auto ls = logicalStrides(xs, ins[i].layout);
      std::vector<int64_t> aligned(R, 0);
      for (size_t d = 0; d < xs.size(); ++d) {
        size_t od = R - xs.size() + d;
        aligned[od] = xs[d] == 1 && ys[od] != 1 ? 0 : ls[d];
      }
      strides[i].resize(R);
      for (size_t j = 0; j < R; ++j)
        strides[i][j] = aligned[perm[j]];
    }
    // In place over an input when it dies here.
    ArenaValue ya;
    if (canReuse(n, 0, ins[0], yl)) {
      alias(y, ins[0].buffer, yl);
      ya = values_[y];
    } else if (canReuse(n, 1, ins[1], yl)) {
      alias(y, ins[1].buffer, yl);
      ya = values_[y];
    } else {
      ya = define(y, yl);
    }
    int32_t lo, hi;
    outputClamp(n, lo, hi);
    const int32_t zo = int32_t(n.getInt("out_zero_point", 0));
    const int32_t za = int32_t(n.getInt("a_zero_point", 0)), zb = int32_t(n.getInt("b_zero_point", 0));
    int64_t bytes = 0;
    std::string params, fn;
    if (n.op == "QAdd") {
      auto ra = requant(n, 1, "a_", 0, 0, 0, bytes), rb = requant(n, 1, "b_", 0, 0, 0, bytes),
           ro = requant(n, 1, "", zo, lo, hi, bytes);
      if (!ra || !rb || !ro)
        return llvm::joinErrors(ra.takeError(), llvm::joinErrors(rb.takeError(), ro.takeError()));
      params = fmt::format("const qcc_rt::AddParams p = {{{}, {}, {}, {}, {}}};", za, zb, *ra, *rb, *ro);
      fn = "add";
    } else if (n.op == "QMul") {
      auto ro = requant(n, 1, "", zo, lo, hi, bytes);
      if (!ro)
        return ro.takeError();
      params = fmt::format("const qcc_rt::MulParams p = {{{}, {}, {}}};", za, zb, *ro);
      fn = "mul";
    } else {
      const Shape &as = n.input(0)->type.shape;
      const bool scalarA = !ys.empty() && ys.back() > 1 && (as.empty() || as.back() == 1);
      params = fmt::format("const qcc_rt::AddFmaParams p = {{{}f, {}f, {}, {}, {}, {}, {}, {}}};",
                           floatLiteral(n.getFloat("a_ratio", 1.f)), floatLiteral(n.getFloat("b_ratio", 1.f)), za, zb,
                           zo, lo, hi, scalarA ? 1 : 0);
      fn = "add_fma";
    }
    Step &st = addStep(n, header(n), {ins[0].buffer, ins[1].buffer, ya.buffer});
    st.weightBytes = bytes;
    const std::string ta = ctypeOf(n.input(0)->type.elem), tb = ctypeOf(n.input(1)->type.elem),
                      ty = ctypeOf(y->type.elem);
    const int ab = ins[0].buffer, bb = ins[1].buffer, yb = ya.buffer;
    auto sa = strides[0], sb = strides[1];
    st.code = [L = out_.get(), params, fn, ta, tb, ty, ab, bb, yb, dims, sa, sb, R] {
      return fmt::format("{{\n    static const qcc_rt::Broadcast s = {{{}, {{{}}}, {{{}}}, {{{}}}}};\n    {}\n"
                         "    qcc_rt::{}(s, {}, {}, p, {});\n  }}",
                         R, ints(dims), ints(sa), ints(sb), params, fn, at(L, ab, ta), at(L, bb, tb), at(L, yb, ty));
    };
    return ok();
  }

  static std::string floatLiteral(float v) { return fmt::format("{:#.9g}", v); } // "1.00000000": a valid literal with f

  Error lowerUnary(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    auto xa = valueOf(n, x);
    if (!xa)
      return xa.takeError();
    ArenaValue ya;
    if (canReuse(n, 0, *xa, xa->layout)) {
      alias(y, xa->buffer, xa->layout);
      ya = values_[y];
    } else {
      ya = define(y, xa->layout);
    }
    const std::string tx = ctypeOf(x->type.elem), ty = ctypeOf(y->type.elem);
    const int64_t count = x->type.numElements();
    const int xb = xa->buffer, yb = ya.buffer;
    int64_t bytes = 0;
    std::string call;
    if (n.op == "Requantize") {
      int32_t lo, hi;
      outputClamp(n, lo, hi);
      auto rq = requant(n, 1, "", int32_t(n.getInt("out_zero_point", 0)), lo, hi, bytes);
      if (!rq)
        return rq.takeError();
      call = fmt::format("const qcc_rt::Requant rq = {};\n    qcc_rt::requantize_tensor({}, @X, {}, rq, @Y);", *rq,
                         count, n.getInt("x_zero_point", 0));
    } else if (n.op == "Lut") {
      auto table = n.getInts("table");
      std::vector<int32_t> t(table.begin(), table.end());
      const int64_t off = out_->blob.addVector(t);
      bytes += int64_t(t.size() * 4);
      QuantInfo q;
      q.bits = x->type.elem.bits();
      q.isSigned = x->type.elem.isSigned();
      call = fmt::format("qcc_rt::lut({}, @X, {}, {}, @Y);", count, wt("int32_t", off), q.qmin());
    } else { // Clip on the integer grid; bounds saturate to the type
      QuantInfo q;
      q.bits = x->type.elem.bits();
      q.isSigned = x->type.elem.isSigned();
      const int64_t tmin = x->type.elem.storage() == Storage::I32 ? std::numeric_limits<int32_t>::min() : q.qmin();
      const int64_t tmax = x->type.elem.storage() == Storage::I32 ? std::numeric_limits<int32_t>::max() : q.qmax();
      const int64_t lo = std::clamp(n.getInt("min", std::numeric_limits<int64_t>::min()), tmin, tmax);
      const int64_t hi = std::clamp(n.getInt("max", std::numeric_limits<int64_t>::max()), tmin, tmax);
      call = fmt::format("qcc_rt::clip({}, @X, {}, {}, @Y);", count, lo, hi);
    }
    Step &st = addStep(n, header(n), {xb, yb});
    st.weightBytes = bytes;
    st.code = [L = out_.get(), call, tx, ty, xb, yb] {
      std::string c = call;
      c.replace(c.find("@X"), 2, at(L, xb, tx));
      c.replace(c.find("@Y"), 2, at(L, yb, ty));
      return "{\n    " + c + "\n  }";
    };
    return ok();
  }

  /// qcc::Threshold (runtime_stub/qcc/threshold.h): channel rows follow the
  /// buffer's layout (NHWC: channel innermost).
  Error lowerThreshold(const Node &n) {
    const Value *x = n.input(0), *t = n.input(1), *y = n.output(0);
    if (!t || !t->isConstant() || t->type.elem != ElemType::i32() || t->type.rank() != 2)
      return nodeError(n, "the cpu backend needs constant int32 thresholds");
    const Shape &xs = x->type.shape;
    const int64_t rows = t->type.shape[0], steps = t->type.shape[1];
    int64_t axis = n.getInt("axis", 1);
    if (axis < 0)
      axis += int64_t(xs.size());
    auto xa = valueOf(n, x);
    if (!xa)
      return xa.takeError();
    const bool channelsLast = rows > 1 && axis == 1 && xa->layout == Layout::Nhwc && (xs.size() == 3 || xs.size() == 4);
    if (rows > 1 && !channelsLast)
      xa = inLayout(n, x, Layout::Plain);
    if (!xa)
      return xa.takeError();
    int64_t outer = 1, channels = 1, inner = 1;
    if (rows == 1) {
      outer = x->type.numElements();
    } else if (channelsLast) {
      channels = xs[1];
      outer = x->type.numElements() / std::max<int64_t>(channels, 1);
    } else {
      for (size_t d = 0; d < xs.size(); ++d)
        (int64_t(d) < axis ? outer : int64_t(d) == axis ? channels : inner) *= xs[d];
    }
    ArenaValue ya;
    if (canReuse(n, 0, *xa, xa->layout)) {
      alias(y, xa->buffer, xa->layout);
      ya = values_[y];
    } else {
      ya = define(y, xa->layout);
    }
    std::vector<int32_t> tv(size_t(t->constant->size()));
    for (size_t i = 0; i < tv.size(); ++i)
      tv[i] = t->constant->data<int32_t>()[i];
    const int64_t off = out_->blob.addVector(tv);
    Step &st = addStep(n, header(n) + fmt::format("\n  {} threshold(s) per {}, y = {} + {} * count", steps,
                                                  rows == 1 ? "tensor" : "channel", n.getInt("out_base", 0),
                                                  n.getInt("out_step", 1)),
                       {xa->buffer, ya.buffer});
    st.weightBytes = int64_t(tv.size() * 4);
    const std::string tx = ctypeOf(x->type.elem), ty = ctypeOf(y->type.elem);
    const int xb = xa->buffer, yb = ya.buffer;
    const int64_t base = n.getInt("out_base", 0), step = n.getInt("out_step", 1);
    st.code = [L = out_.get(), tx, ty, xb, yb, outer, channels, inner, steps, rows, base, step, off] {
      return fmt::format("{{\n    static const qcc_rt::ThresholdShape s = {{{}, {}, {}, {}, {}, {}, {}}};\n"
                         "    qcc_rt::threshold(s, {}, {}, {});\n  }}",
                         outer, channels, inner, steps, rows, base, step, at(L, xb, tx), wt("int32_t", off),
                         at(L, yb, ty));
    };
    return ok();
  }

  Error lowerReshape(const Node &n) {
    if (n.outputs.size() > 1 && n.output(1) && lastUse_.count(n.output(1)))
      return nodeError(n, "the mask output is not supported by the cpu backend");
    auto xa = inLayout(n, n.input(0), Layout::Plain);
    if (!xa)
      return xa.takeError();
    if (xa->buffer < 0)
      return nodeError(n, "reshaping a constant is left to constant folding; the cpu backend got one");
    alias(n.output(0), xa->buffer, Layout::Plain); // same bytes, new shape: no code
    return ok();
  }

  Error lowerTranspose(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    auto xa = valueOf(n, x);
    if (!xa)
      return xa.takeError();
    const size_t R = x->type.shape.size();
    if (R > 6)
      return nodeError(n, "rank {} is above the cpu backend's 6", R);
    std::vector<int64_t> perm = n.getInts("perm");
    if (perm.empty())
      for (size_t d = R; d-- > 0;)
        perm.push_back(int64_t(d));
    auto xs = logicalStrides(x->type.shape, xa->layout);
    std::vector<int64_t> src(R);
    for (size_t j = 0; j < R; ++j)
      src[j] = xs[size_t(perm[j])];
    ArenaValue ya = define(y, Layout::Plain);
    emitStridedCopy(n, header(n), y->type.shape, xa->buffer, src, 0, ya.buffer, plainStrides(y->type.shape), 0,
                    ctypeOf(y->type.elem));
    return ok();
  }

  void emitStridedCopy(const Node &n, const std::string &comment, const Shape &dims, int from,
                       const std::vector<int64_t> &src, int64_t srcOff, int to, const std::vector<int64_t> &dst,
                       int64_t dstOff, const std::string &ct) {
    Step &st = addStep(n, comment, {from, to});
    const size_t R = dims.size();
    const int64_t eb = ct == "int32_t" || ct == "float" ? 4 : (ct == "int16_t" || ct == "uint16_t") ? 2 : 1;
    st.code = [L = out_.get(), dims, src, dst, srcOff, dstOff, from, to, ct, R, eb] {
      return fmt::format("{{\n    static const int64_t dims[] = {{{}}}, src[] = {{{}}}, dst[] = {{{}}};\n"
                         "    qcc_rt::strided_copy<{}>({}, dims, {}, src, {}, dst);\n  }}",
                         ints(dims.empty() ? Shape{1} : dims), ints(src.empty() ? std::vector<int64_t>{1} : src),
                         ints(dst.empty() ? std::vector<int64_t>{1} : dst), ct, std::max<size_t>(R, 1),
                         at(L, from, ct, srcOff * eb), at(L, to, ct, dstOff * eb));
    };
  }

  Error lowerConcat(const Node &n) {
    const Value *y = n.output(0);
    const Shape &ys = y->type.shape;
    auto axis = n.getInt("axis", 0);
    if (axis < 0)
      axis += int64_t(ys.size());
    if (ys.size() > 6)
      return nodeError(n, "rank {} is above the cpu backend's 6", ys.size());
    ArenaValue ya = define(y, Layout::Plain);
    const auto dst = plainStrides(ys);
    int64_t offset = 0;
    const std::string ct = ctypeOf(y->type.elem);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value *x = n.input(i);
      auto xa = valueOf(n, x);
      if (!xa)
        return xa.takeError();
      std::string comment = i == 0 ? header(n) + fmt::format("\n  input {}", i) : fmt::format("{} input {}", n.name, i);
      emitStridedCopy(n, comment, x->type.shape, xa->buffer, logicalStrides(x->type.shape, xa->layout), 0, ya.buffer, dst,
                      offset * dst[size_t(axis)], ct);
      offset += x->type.shape[size_t(axis)];
    }
    return ok();
  }

  Error lowerConstantPad(const Node &n) {
    const Value *x = n.input(0), *y = n.output(0);
    auto pads = n.getInts("pads");
    const size_t R = x->type.shape.size();
    if (pads.size() != 2 * R || std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; }))
      return nodeError(n, "the cpu backend supports non-negative constant padding only");
    auto xa = valueOf(n, x);
    if (!xa)
      return xa.takeError();
    ArenaValue ya = define(y, Layout::Plain);
    const auto dst = plainStrides(y->type.shape);
    int64_t off = 0;
    for (size_t d = 0; d < R; ++d)
      off += pads[d] * dst[d];
    const std::string ct = ctypeOf(y->type.elem);
    const int64_t value = int64_t(std::nearbyint(n.getFloat("value", 0)));
    Step &fill = addStep(n, header(n) + fmt::format("\n  fill with {}, then copy the interior", value), {ya.buffer});
    const int yb = ya.buffer;
    const int64_t count = y->type.numElements();
    fill.code = [L = out_.get(), ct, yb, count, value] {
      return fmt::format("qcc_rt::fill({}, {}, {});", count, value, at(L, yb, ct));
    };
    emitStridedCopy(n, n.name + " interior", x->type.shape, xa->buffer, logicalStrides(x->type.shape, xa->layout), 0,
                    ya.buffer, dst, off, ct);
    return ok();
  }

  Error lowerIndexMap(const Node &n) {
    auto xa = inLayout(n, n.input(0), Layout::Plain);
    if (!xa)
      return xa.takeError();
    auto maps = indexMapsFor(n);
    if (!maps)
      return maps.takeError();
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      const Value *y = n.output(i);
      if (!y)
        continue;
      ArenaValue ya = define(y, Layout::Plain);
      const auto &map = (*maps)[i];
      const int64_t off = out_->blob.addVector(map);
      Step &st = addStep(n, i == 0 ? header(n) + "\n  as a gather through an index table computed at compile time"
                                   : fmt::format("{} output {}", n.name, i),
                         {xa->buffer, ya.buffer});
      st.weightBytes = int64_t(map.size() * 4);
      const std::string ct = ctypeOf(y->type.elem);
      const int xb = xa->buffer, yb = ya.buffer;
      const int64_t count = int64_t(map.size());
      st.code = [L = out_.get(), ct, xb, yb, count, off] {
        return fmt::format("qcc_rt::gather({}, {}, {}, {});", count, wt("int32_t", off), at(L, xb, ct), at(L, yb, ct));
      };
    }
    return ok();
  }

  const Graph &g_;
  std::unique_ptr<Lowered> out_;
  std::map<const Value *, ArenaValue> values_;
  std::map<const Value *, ArenaValue> constants_; ///< integer constants read from the blob
  std::map<std::pair<const Value *, Layout>, ArenaValue> converted_;
  std::map<const Value *, int> lastUse_;
  std::vector<std::vector<const Value *>> bufferValues_;
  int nodeIndex_ = 0;
};

} // namespace

llvm::Expected<std::unique_ptr<Lowered>> lowerGraph(const Graph &g) { return Lowerer(g).run(); }

} // namespace qcc::cpp
