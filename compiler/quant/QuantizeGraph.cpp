#include "quant/QuantizeGraph.h"

#include "ir/Printer.h"
#include "ops/OpRegistry.h"
#include "quant/Requant.h"
#include "quant/RequantAttrs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace qcc {

QuantInfo chooseActivationQuant(float lo, float hi, const QuantizeOptions &opts) {
  return chooseActivationQuant(lo, hi, opts, opts.actBits);
}

QuantInfo chooseActivationQuant(float lo, float hi, const QuantizeOptions &opts, unsigned bits) {
  QuantInfo q;
  q.bits = bits;
  q.isSigned = !opts.actUnsigned;
  q.rounding = opts.rounding;
  // The range must hold real 0 exactly (padding, ReLU).
  double l = std::min(0.0, double(lo)), h = std::max(0.0, double(hi));
  if (opts.actSymmetric) {
    double m = std::max(-l, h);
    double scale = m > 0 ? m / double(q.qmax()) : 1.0;
    q.scale = {float(scale)};
    q.zeroPoint = {q.isSigned ? 0 : int64_t(1) << (q.bits - 1)};
    return q;
  }
  double scale = h - l > 0 ? (h - l) / double(q.qmax() - q.qmin()) : 1.0;
  double zp = std::nearbyint(double(q.qmin()) - l / scale);
  q.scale = {float(scale)};
  q.zeroPoint = {int64_t(std::clamp(zp, double(q.qmin()), double(q.qmax())))};
  return q;
}

namespace {

/// A real value on a per-tensor grid: clamp(round(v / scale) + zp). NaN maps
/// to integer 0, as before clamping.
int64_t onGrid(double v, const QuantInfo &q) {
  double r = std::nearbyint(v / q.scale[0]) + double(q.zeroPoint[0]);
  return int64_t(std::clamp(std::isnan(r) ? 0.0 : r, double(q.qmin()), double(q.qmax())));
}

constexpr int kAddLeftShift = 20; // as qcc::QAdd (ops/QuantOps.cpp)

bool isOneOf(const std::string &op, std::initializer_list<const char *> ops) {
  for (const char *o : ops)
    if (op == o)
      return true;
  return false;
}

// Ops that move or select elements: they run on integers unchanged and their
// output keeps the input's scale and zero point.
bool keepsScale(const Node &n) {
  if (!n.domain.empty())
    return false;
  if (n.op == "Resize")
    return n.getString("mode", "nearest") == "nearest";
  return isOneOf(n.op, {"MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity",
                        "DepthToSpace", "SpaceToDepth", "Slice", "Split", "Gather", "Pad", "Dropout"});
}

// Elementwise float functions computed exactly through a 256-entry table.
bool isTableOp(const Node &n) {
  return n.domain.empty() && isOneOf(n.op, {"Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu",
                                            "Selu", "Softplus", "Softsign", "Erf", "Gelu", "Celu", "Mish",
                                            "ThresholdedRelu", "Exp", "Neg", "Abs", "Sqrt", "Reciprocal"});
}

class Quantizer {
public:
  Quantizer(const Graph &src, const RangeMap &ranges, const QuantizeOptions &opts)
      : src_(src), ranges_(ranges), opts_(opts) {}

  llvm::Expected<QuantizeResult> run() {
    dst_ = std::make_unique<Graph>();
    dst_->name = src_.name;
    dst_->sourcePath = src_.sourcePath;
    dst_->opsets = src_.opsets;
    dst_->opsets["qcc"] = 1;
    if (dst_->opsets[""] < 13)
      dst_->opsets[""] = 13; // per-axis QuantizeLinear/DequantizeLinear
    for (const Value *in : src_.inputs) {
      Value *v = dst_->addValue(in->name, in->type);
      dst_->inputs.push_back(v);
      floatOf_[in] = v;
    }
    for (const auto &n : src_.nodes()) {
      if (consumed_.count(n.get()))
        continue;
      if (auto e = lower(*n))
        return std::move(e);
    }
    for (const Value *out : src_.outputs) {
      auto f = asFloat(out);
      if (!f)
        return f.takeError();
      dst_->outputs.push_back(*f);
    }
    if (auto e = checkOverridesUsed())
      return std::move(e);
    dst_->removeDeadCode();
    if (auto e = verifyGraph(*dst_))
      return withContext(std::move(e), "quantized graph");
    QuantizeResult r;
    r.graph = std::move(dst_);
    r.quantizedName = std::move(quantizedName_);
    r.floatIslands = std::move(islands_);
    return std::move(r);
  }

private:
  // ---- values ----------------------------------------------------------------

  /// Grid of src value v: --act-bits, or the --precision A of the node
  /// producing v (or of `fusedInto`, whose requantization computes v).
  llvm::Expected<QuantInfo> actQuant(const Value *v, const Node *fusedInto = nullptr) {
    auto it = ranges_.find(v->name);
    if (it == ranges_.end())
      return makeError("no calibration range for value '{}'", v->name);
    return chooseActivationQuant(it->second.first, it->second.second, opts_, actBitsFor(v, fusedInto));
  }

  unsigned actBitsFor(const Value *v, const Node *fusedInto) {
    if (!v->producer) { // a graph input: --precision INPUT_NAME=A<n>
      auto it = opts_.nodePrecision.find(v->name);
      if (it != opts_.nodePrecision.end() && it->second.actBits && !v->isConstant()) {
        usedAct_.insert(v->name);
        return it->second.actBits;
      }
    }
    unsigned bits = 0;
    for (const Node *n : std::initializer_list<const Node *>{v->producer, fusedInto}) {
      auto it = n ? opts_.nodePrecision.find(n->name) : opts_.nodePrecision.end();
      if (it != opts_.nodePrecision.end() && it->second.actBits) {
        usedAct_.insert(n->name);
        bits = bits ? bits : it->second.actBits; // the node that owns v first
      }
    }
    return bits ? bits : opts_.actBits;
  }

  unsigned weightBitsFor(const Node &n) {
    auto it = opts_.nodePrecision.find(n.name);
    if (it == opts_.nodePrecision.end() || !it->second.weightBits)
      return opts_.weightBits;
    usedWeight_.insert(n.name);
    return it->second.weightBits;
  }

  /// Every --precision override must have landed somewhere.
  llvm::Error checkOverridesUsed() {
    for (const auto &[name, p] : opts_.nodePrecision) {
      const bool w = p.weightBits && !usedWeight_.count(name), a = p.actBits && !usedAct_.count(name);
      if (!w && !a)
        continue;
      const Node *node = nullptr;
      for (const auto &n : src_.nodes())
        if (n->name == name)
          node = n.get();
      if (!node && w)
        for (const Value *in : src_.inputs)
          if (in->name == name)
            return makeError("--precision {}={}: '{}' is a graph input, which has no weights (W applies to Conv, "
                             "Gemm and MatMul nodes)", name, p.str(), name);
      if (!node)
        return makeError("--precision {}={}: no node '{}' in the graph being quantized", name, p.str(), name);
      if (w)
        return nodeError(*node, "--precision W{}: qcc quantizes no weights of this node (W applies to Conv, Gemm "
                         "and MatMul with constant float weights)", p.weightBits);
      return nodeError(*node, "--precision A{}: this node has no output grid of its own (it keeps its input's "
                       "grid, or its output is not a float activation qcc quantizes); set A on the node that "
                       "produces its input", p.actBits);
    }
    return llvm::Error::success();
  }

  static ElemType elemOf(const QuantInfo &q) { return ElemType::intN(q.bits, q.isSigned); }

  Value *intValue(const std::string &srcName, const Shape &shape, const QuantInfo &q, ElemType e) {
    Value *v = dst_->addValue(dst_->uniqueName(srcName + "_q"), TensorType{e, shape});
    v->quant = q;
    return v;
  }

  Value *scalarConst(const std::string &name, float v) { return dst_->addConstant(dst_->uniqueName(name), Tensor::scalarF32(v)); }

  Value *zpConst(const std::string &name, int64_t zp, ElemType e) {
    Tensor t(e, {});
    t.setDouble(0, double(zp));
    return dst_->addConstant(dst_->uniqueName(name), t);
  }

  Node *emit(const std::string &op, const std::string &domain, const std::string &name, std::vector<Value *> ins,
             std::vector<Value *> outs, std::map<std::string, Attribute> attrs = {}) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->domain = domain;
    n->name = name;
    n->inputs = std::move(ins);
    n->outputs = std::move(outs);
    n->attrs = std::move(attrs);
    return dst_->addNode(std::move(n));
  }

  /// Runs shape inference on a node we built; a failure is our bug, reported.
  llvm::Error check(Node &n) {
    const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
    if (!def)
      return nodeError(n, "internal: no op definition");
    std::vector<std::optional<QuantInfo>> q;
    for (Value *o : n.outputs)
      q.push_back(o ? o->quant : std::nullopt);
    if (auto e = def->infer(n))
      return withContext(std::move(e), "while quantizing");
    for (size_t i = 0; i < n.outputs.size(); ++i)
      if (n.outputs[i])
        n.outputs[i]->quant = q[i];
    return llvm::Error::success();
  }

  /// The integer value standing for src value v (quantizing it if needed).
  llvm::Expected<Value *> asInt(const Value *v) {
    auto it = intOf_.find(v);
    if (it != intOf_.end())
      return it->second;
    if (!v->type.elem.isFloat())
      return makeError("value '{}' is {}, not a float tensor to quantize", v->name, v->type.str());
    QuantInfo q;
    if (v->isConstant()) { // a constant operand: its own per-tensor grid
      std::vector<float> f = v->constant->toFloats();
      auto [lo, hi] = std::minmax_element(f.begin(), f.end());
      q = chooseActivationQuant(f.empty() ? 0.f : *lo, f.empty() ? 0.f : *hi, opts_);
      Tensor t(elemOf(q), v->type.shape);
      for (size_t i = 0; i < f.size(); ++i)
        t.setDouble(int64_t(i), double(onGrid(f[i], q)));
      Value *c = dst_->addConstant(dst_->uniqueName(v->name + "_q"), t);
      c->quant = q;
      intOf_[v] = c;
      return c;
    }
    auto fv = asFloat(v);
    if (!fv)
      return fv.takeError();
    auto aq = actQuant(v);
    if (!aq)
      return aq.takeError();
    q = *aq;
    // QuantizeLinear saturates to its storage type (what the written ONNX
    // graph holds); a narrower grid adds an explicit Clip.
    const ElemType storage = ElemType::intN(storageBitsFor(q.bits), q.isSigned);
    QuantInfo storageRange;
    storageRange.bits = storage.bits();
    storageRange.isSigned = q.isSigned;
    const bool clip = q.qmin() > storageRange.qmin() || q.qmax() < storageRange.qmax();
    Value *out = intValue(v->name, v->type.shape, q, storage);
    Value *raw = clip ? intValue(v->name + "_unclipped", v->type.shape, q, storage) : out;
    Node *n = emit("QuantizeLinear", "", dst_->uniqueName("quantize_" + v->name),
                   {*fv, scalarConst(v->name + "_scale", q.scale[0]), zpConst(v->name + "_zero_point", q.zeroPoint[0], storage)},
                   {raw});
    if (auto e = check(*n))
      return std::move(e);
    if (clip) {
      Node *c = emit("Clip", "", dst_->uniqueName("clip_" + v->name), {raw}, {out}, {{"min", q.qmin()}, {"max", q.qmax()}});
      if (auto e = check(*c))
        return std::move(e);
    }
    record(v, out);
    return out;
  }

  /// The float value standing for src value v (dequantizing if needed).
  llvm::Expected<Value *> asFloat(const Value *v) {
    auto it = floatOf_.find(v);
    if (it != floatOf_.end())
      return it->second;
    if (v->isConstant()) {
      Value *c = dst_->addConstant(dst_->uniqueName(v->name), *v->constant);
      floatOf_[v] = c;
      return c;
    }
    auto qi = intOf_.find(v);
    if (qi == intOf_.end())
      return makeError("internal: value '{}' has no lowering", v->name);
    Value *q = qi->second;
    Value *out = dst_->addValue(dst_->uniqueName(v->name), v->type);
    Node *n = emit("DequantizeLinear", "", dst_->uniqueName("dequantize_" + v->name),
                   {q, scalarConst(v->name + "_scale", q->quant->scale[0]),
                    zpConst(v->name + "_zero_point", q->quant->zeroPoint[0], q->type.elem)},
                   {out});
    if (auto e = check(*n))
      return std::move(e);
    floatOf_[v] = out;
    return out;
  }

  void record(const Value *srcV, Value *q) {
    intOf_[srcV] = q;
    quantizedName_[srcV->name] = q->name;
  }

  // ---- fused activation peephole ------------------------------------------------

  /// If `y`'s only user is a Relu or a Clip with constant bounds, returns it:
  /// the producer then clamps in its requantization and takes the
  /// activation's output (and calibrated range).
  const Node *fusableActivation(const Value *y) {
    if (std::find(src_.outputs.begin(), src_.outputs.end(), y) != src_.outputs.end())
      return nullptr;
    std::vector<const Node *> users;
    for (const auto &n : src_.nodes())
      for (const Value *in : n->inputs)
        if (in == y) {
          users.push_back(n.get());
          break;
        }
    if (users.size() != 1)
      return nullptr;
    const Node *u = users[0];
    if (u->domain.empty() && (u->op == "Relu" || (u->op == "Clip" && u->inputs.size() == 1)))
      return u;
    return nullptr;
  }

  /// Output of a producer node: the fused activation's output when there is one.
  struct OutputPlan {
    const Value *srcOut;
    QuantInfo q;
    int64_t lo, hi; // integer clamp
  };

  /// `producer`'s fused clamp (act_min / act_max, passes/FusedActivation.h)
  /// and a directly following Relu / Clip both become the requantization clamp.
  llvm::Expected<OutputPlan> planOutput(const Node &producer, const Value *y) {
    OutputPlan p;
    p.srcOut = y;
    float amin = producer.getFloat("act_min", -INFINITY), amax = producer.getFloat("act_max", INFINITY);
    if (const Node *act = fusableActivation(y)) {
      consumed_.insert(act);
      p.srcOut = act->outputs[0];
      if (act->op == "Relu")
        amin = std::max(amin, 0.f);
      else {
        amin = std::max(amin, act->getFloat("min", -INFINITY));
        amax = std::min(amax, act->getFloat("max", INFINITY));
      }
    }
    auto q = actQuant(p.srcOut, &producer);
    if (!q)
      return q.takeError();
    p.q = *q;
    p.lo = q->qmin();
    p.hi = q->qmax();
    if (std::isfinite(amin))
      p.lo = onGrid(amin, *q);
    if (std::isfinite(amax))
      p.hi = onGrid(amax, *q);
    return p;
  }

  void setOutputAttrs(std::map<std::string, Attribute> &a, const OutputPlan &p) {
    a["out_bits"] = int64_t(p.q.bits);
    a["out_signed"] = int64_t(p.q.isSigned);
    a["out_zero_point"] = p.q.zeroPoint[0];
    a["out_min"] = p.lo;
    a["out_max"] = p.hi;
  }

  // ---- weights -------------------------------------------------------------------

  /// Symmetric `bits`-bit weights per output row (axis 0) or per tensor.
  struct QWeights {
    Tensor q;
    unsigned bits = 8;
    std::vector<double> scale;
    std::vector<int64_t> rowSum, rowAbsSum;
  };

  /// `bias` (may be empty) and `sx` bound the scales from below so that the
  /// int32 bias at s_x * s_w stays within a quarter of the int32 range (rows
  /// of near-zero weights with a real bias would otherwise overflow it).
  QWeights quantizeWeights(const Tensor &w, int64_t rows, const std::vector<float> &bias, double sx, unsigned bits) {
    QWeights r;
    r.bits = bits;
    const double qmax = double(weightQmax(bits));
    const int64_t per = w.size() / rows;
    std::vector<float> f = w.toFloats();
    r.scale.assign(size_t(rows), 1.0);
    double globalMax = 0;
    for (float v : f)
      globalMax = std::max(globalMax, double(std::fabs(v)));
    for (int64_t c = 0; c < rows; ++c) {
      double m = globalMax;
      if (opts_.perChannelWeights) {
        m = 0;
        for (int64_t k = 0; k < per; ++k)
          m = std::max(m, double(std::fabs(f[size_t(c * per + k)])));
      }
      r.scale[size_t(c)] = m > 0 ? m / qmax : 1.0;
      if (!bias.empty())
        r.scale[size_t(c)] = std::max(r.scale[size_t(c)], std::fabs(double(bias[size_t(c)])) / (sx * 536870912.0));
    }
    r.q = Tensor(ElemType::intN(bits, true), w.shape());
    r.rowSum.assign(size_t(rows), 0);
    r.rowAbsSum.assign(size_t(rows), 0);
    for (int64_t c = 0; c < rows; ++c)
      for (int64_t k = 0; k < per; ++k) {
        double v = std::clamp(std::nearbyint(double(f[size_t(c * per + k)]) / r.scale[size_t(c)]), -qmax, qmax);
        r.q.setDouble(c * per + k, v);
        r.rowSum[size_t(c)] += int64_t(v);
        r.rowAbsSum[size_t(c)] += std::abs(int64_t(v));
      }
    return r;
  }

  /// int32 bias at s_x * s_w[c] with the input zero point folded in.
  llvm::Expected<Value *> quantizeBias(const Node &n, const std::vector<float> &bias, const QWeights &w, double sx,
                                       int64_t zx) {
    Tensor b(ElemType::i32(), {int64_t(w.scale.size())});
    for (size_t c = 0; c < w.scale.size(); ++c) {
      double v = (bias.empty() ? 0.0 : std::nearbyint(double(bias[c]) / (sx * w.scale[c]))) - double(zx * w.rowSum[c]);
      if (std::fabs(v) > 2147483647.0)
        return nodeError(n, "quantized bias of channel {} ({}) does not fit in int32", c, v);
      b.data<int32_t>()[c] = int32_t(v);
    }
    return dst_->addConstant(dst_->uniqueName(n.name + "_bias_q"), b);
  }

  /// The integer reference sums bias + w * x in int32: every partial sum, in
  /// any order, must provably fit (DESIGN.md: proven, not assumed).
  llvm::Error checkAccumulator(const Node &n, const QWeights &qw, const Tensor &bias, const QuantInfo &xq) {
    const int64_t maxX = maxAbsOnGrid(xq);
    for (size_t c = 0; c < qw.rowAbsSum.size(); ++c) {
      const int64_t b = bias.getInt(int64_t(c)), bound = accumulatorBound(b, qw.rowAbsSum[c], maxX);
      if (bound > std::numeric_limits<int32_t>::max())
        return nodeError(n, "the int32 accumulator could overflow with {}-bit weights and {}-bit inputs: output "
                         "channel {} can reach |bias| {} + sum|w| {} * max|x| {} = {} > 2^31-1; give this node or "
                         "its input fewer bits (--precision, --weight-bits, --act-bits)",
                         qw.bits, xq.bits, c, std::abs(b), qw.rowAbsSum[c], maxX, bound);
    }
    return llvm::Error::success();
  }

  std::vector<Requant> outputRequants(const QWeights &w, double sx, double sy) {
    std::vector<Requant> r;
    for (double sw : w.scale)
      r.push_back(Requant::make(sx * sw / sy, opts_.rounding, float(sx * sw / sy)));
    return r;
  }

  // ---- lowering --------------------------------------------------------------------

  llvm::Error lower(const Node &n) {
    bool floatData = n.input(0) && n.input(0)->type.elem.isFloat();
    if (floatData && n.domain.empty()) {
      if (n.op == "Conv" && convLowerable(n))
        return lowerConv(n);
      if ((n.op == "Gemm" || n.op == "MatMul") && gemmLowerable(n))
        return lowerGemm(n);
      if ((n.op == "Add" || n.op == "Mul") && binaryLowerable(n))
        return lowerBinary(n);
      if (n.op == "GlobalAveragePool")
        return lowerGlobalAveragePool(n);
      if (n.op == "Relu" || (n.op == "Clip" && n.inputs.size() == 1))
        return lowerClamp(n);
      if (n.op == "Concat")
        return lowerConcat(n);
      if (keepsScale(n))
        return lowerKeepScale(n);
      if (isTableOp(n))
        return lowerTable(n);
    }
    return floatIsland(n);
  }

  bool convLowerable(const Node &n) {
    return n.input(1) && n.input(1)->isConstant() && (!n.input(2) || n.input(2)->isConstant()) &&
           (n.input(0)->type.rank() == 3 || n.input(0)->type.rank() == 4);
  }

  llvm::Error lowerConv(const Node &n) {
    auto qx = asInt(n.input(0));
    if (!qx)
      return qx.takeError();
    const QuantInfo &xq = *(*qx)->quant;
    auto plan = planOutput(n, n.outputs[0]);
    if (!plan)
      return plan.takeError();
    const Tensor &w = *n.input(1)->constant;
    std::vector<float> bias = n.input(2) ? n.input(2)->constant->toFloats() : std::vector<float>{};
    QWeights qw = quantizeWeights(w, w.shape()[0], bias, xq.scale[0], weightBitsFor(n));
    auto qb = quantizeBias(n, bias, qw, xq.scale[0], xq.zeroPoint[0]);
    if (!qb)
      return qb.takeError();
    std::map<std::string, Attribute> a;
    for (const char *k : {"strides", "pads", "dilations", "group"})
      if (n.has(k))
        a[k] = n.attrs.at(k);
    a["x_zero_point"] = xq.zeroPoint[0];
    return emitWeighted(n, "QConv", *qx, qw, *qb, *plan, std::move(a));
  }

  /// Emits QConv / QGemm(x, w_q, bias_q) with its per-channel requantizers.
  llvm::Error emitWeighted(const Node &n, const char *op, Value *qx, const QWeights &qw, Value *qb,
                           const OutputPlan &plan, std::map<std::string, Attribute> a) {
    if (auto e = checkAccumulator(n, qw, *qb->constant, *qx->quant))
      return e;
    setOutputAttrs(a, plan);
    Value *wq = dst_->addConstant(dst_->uniqueName(n.name + "_weight_q"), qw.q);
    QuantInfo wqi;
    wqi.bits = qw.bits;
    wqi.narrow = true;
    wqi.axis = 0;
    for (double s : qw.scale)
      wqi.scale.push_back(float(s)), wqi.zeroPoint.push_back(0);
    wq->quant = wqi;
    Value *y = intValue(plan.srcOut->name, plan.srcOut->type.shape, plan.q, elemOf(plan.q));
    Node *q = emit(op, "qcc", n.name, {qx, wq, qb}, {y}, std::move(a));
    setRequants(*q, outputRequants(qw, qx->quant->scale[0], plan.q.scale[0]));
    if (auto e = check(*q))
      return e;
    record(plan.srcOut, y);
    return llvm::Error::success();
  }

  bool gemmLowerable(const Node &n) {
    if (!n.input(1) || !n.input(1)->isConstant() || n.input(1)->type.rank() != 2)
      return false;
    if (n.op == "MatMul")
      return n.input(0)->type.rank() >= 2;
    return n.getInt("transA", 0) == 0 && (!n.input(2) || n.input(2)->isConstant());
  }

  llvm::Error lowerGemm(const Node &n) {
    auto qx = asInt(n.input(0));
    if (!qx)
      return qx.takeError();
    const QuantInfo &xq = *(*qx)->quant;
    auto plan = planOutput(n, n.outputs[0]);
    if (!plan)
      return plan.takeError();
    // W as [N, K], alpha folded in.
    const Tensor &b = *n.input(1)->constant;
    bool transB = n.op == "Gemm" && n.getInt("transB", 0) != 0;
    const int64_t K = transB ? b.shape()[1] : b.shape()[0], N = transB ? b.shape()[0] : b.shape()[1];
    const float alpha = n.op == "Gemm" ? n.getFloat("alpha", 1.f) : 1.f;
    Tensor w(ElemType::f32(), {N, K});
    std::vector<float> bf = b.toFloats();
    for (int64_t o = 0; o < N; ++o)
      for (int64_t k = 0; k < K; ++k)
        w.data<float>()[o * K + k] = alpha * bf[size_t(transB ? o * K + k : k * N + o)];
    std::vector<float> bias;
    if (n.op == "Gemm" && n.input(2)) {
      const Tensor &c = *n.input(2)->constant;
      if (c.size() != 1 && c.size() != N)
        return floatIsland(n); // a 2-D C is not a bias
      const float beta = n.getFloat("beta", 1.f);
      for (int64_t o = 0; o < N; ++o)
        bias.push_back(beta * float(c.getDouble(c.size() == 1 ? 0 : o)));
    }
    QWeights qw = quantizeWeights(w, N, bias, xq.scale[0], weightBitsFor(n));
    auto qb = quantizeBias(n, bias, qw, xq.scale[0], xq.zeroPoint[0]);
    if (!qb)
      return qb.takeError();
    return emitWeighted(n, "QGemm", *qx, qw, *qb, *plan, {});
  }

  bool binaryLowerable(const Node &n) {
    const Value *a = n.input(0), *b = n.input(1);
    return a && b && a->type.elem.isFloat() && b->type.elem.isFloat() && !(a->isConstant() && b->isConstant());
  }

  llvm::Error lowerBinary(const Node &n) {
    auto qa = asInt(n.input(0));
    if (!qa)
      return qa.takeError();
    auto qb = asInt(n.input(1));
    if (!qb)
      return qb.takeError();
    auto plan = planOutput(n, n.outputs[0]);
    if (!plan)
      return plan.takeError();
    const QuantInfo &A = *(*qa)->quant, &B = *(*qb)->quant;
    const double sa = A.scale[0], sb = B.scale[0], sy = plan->q.scale[0];
    // QAdd (tflite / single) shifts (x - zp) left by 20 bits in int32 and
    // QMul multiplies (a - za) * (b - zb): wide inputs would saturate.
    const int64_t da = maxDistanceFromZeroPoint(A), db = maxDistanceFromZeroPoint(B);
    const int64_t i32max = std::numeric_limits<int32_t>::max();
    if (n.op == "Add" && opts_.rounding != Rounding::Onnx && std::max(da, db) > (i32max >> kAddLeftShift))
      return nodeError(n, "{}-bit and {}-bit inputs are too wide for qcc::QAdd under --rounding {}: (x - zero "
                       "point) << {} must fit int32, i.e. inputs of at most 11 bits; give the inputs' producers "
                       "fewer bits (--precision NODE=A11) or use --rounding onnx",
                       A.bits, B.bits, roundingName(opts_.rounding), kAddLeftShift);
    if (n.op == "Mul" && da * db > i32max)
      return nodeError(n, "{}-bit and {}-bit inputs are too wide for qcc::QMul: (a - za) * (b - zb) can reach {} "
                       "> 2^31-1; give the inputs' producers fewer bits (--precision)", A.bits, B.bits, da * db);
    std::map<std::string, Attribute> attrs;
    setOutputAttrs(attrs, *plan);
    attrs["a_zero_point"] = A.zeroPoint[0];
    attrs["b_zero_point"] = B.zeroPoint[0];
    Value *y = intValue(plan->srcOut->name, plan->srcOut->type.shape, plan->q, elemOf(plan->q));
    Node *q = emit(n.op == "Add" ? "QAdd" : "QMul", "qcc", n.name, {*qa, *qb}, {y}, attrs);
    if (n.op == "Add") {
      const double shared = 2 * std::max(sa, sb);
      setRequants(*q, {Requant::make(sa / shared, opts_.rounding, float(sa / sy))}, "a_");
      setRequants(*q, {Requant::make(sb / shared, opts_.rounding, float(sb / sy))}, "b_");
      setRequants(*q, {Requant::make(shared / (double(1 << kAddLeftShift) * sy), opts_.rounding)});
    } else {
      setRequants(*q, {Requant::make(sa * sb / sy, opts_.rounding)});
    }
    if (auto e = check(*q))
      return e;
    record(plan->srcOut, y);
    return llvm::Error::success();
  }

  llvm::Error lowerGlobalAveragePool(const Node &n) {
    auto qx = asInt(n.input(0));
    if (!qx)
      return qx.takeError();
    auto plan = planOutput(n, n.outputs[0]);
    if (!plan)
      return plan.takeError();
    const QuantInfo &xq = *(*qx)->quant;
    int64_t area = 1;
    for (size_t d = 2; d < n.input(0)->type.shape.size(); ++d)
      area *= n.input(0)->type.shape[d];
    if (area * maxDistanceFromZeroPoint(xq) > std::numeric_limits<int32_t>::max())
      return nodeError(n, "the sum of {} {}-bit inputs can exceed int32 in qcc::QGlobalAveragePool; give its input "
                       "fewer bits (--precision)", area, xq.bits);
    std::map<std::string, Attribute> a;
    setOutputAttrs(a, *plan);
    a["x_zero_point"] = xq.zeroPoint[0];
    Value *y = intValue(plan->srcOut->name, plan->srcOut->type.shape, plan->q, elemOf(plan->q));
    Node *q = emit("QGlobalAveragePool", "qcc", n.name, {*qx}, {y}, a);
    double real = xq.scale[0] / (plan->q.scale[0] * double(area));
    setRequants(*q, {Requant::make(real, opts_.rounding)});
    if (auto e = check(*q))
      return e;
    record(plan->srcOut, y);
    return llvm::Error::success();
  }

  /// Relu / Clip on an integer tensor: a clamp on the input's own grid.
  llvm::Error lowerClamp(const Node &n) {
    auto qx = asInt(n.input(0));
    if (!qx)
      return qx.takeError();
    const QuantInfo &xq = *(*qx)->quant;
    float lo = n.op == "Relu" ? 0.f : n.getFloat("min", -INFINITY);
    float hi = n.op == "Relu" ? INFINITY : n.getFloat("max", INFINITY);
    int64_t qlo = xq.qmin(), qhi = xq.qmax();
    if (std::isfinite(lo))
      qlo = onGrid(lo, xq);
    if (std::isfinite(hi))
      qhi = onGrid(hi, xq);
    Value *y = intValue(n.outputs[0]->name, n.outputs[0]->type.shape, xq, (*qx)->type.elem);
    Node *q = emit("Clip", "", n.name, {*qx}, {y}, {{"min", qlo}, {"max", qhi}});
    if (auto e = check(*q))
      return e;
    record(n.outputs[0], y);
    return llvm::Error::success();
  }

  llvm::Error lowerKeepScale(const Node &n) {
    auto qx = asInt(n.input(0));
    if (!qx)
      return qx.takeError();
    const QuantInfo &xq = *(*qx)->quant;
    std::vector<Value *> ins{*qx};
    for (size_t i = 1; i < n.inputs.size(); ++i) {
      if (n.inputs[i] && !n.inputs[i]->isConstant())
        return floatIsland(n);
      ins.push_back(nullptr);
      if (n.inputs[i]) {
        auto f = asFloat(n.inputs[i]);
        if (!f)
          return f.takeError();
        ins.back() = *f;
      }
    }
    std::vector<Value *> outs;
    for (const Value *o : n.outputs)
      outs.push_back(o ? intValue(o->name, o->type.shape, xq, (*qx)->type.elem) : nullptr);
    std::map<std::string, Attribute> attrs = n.attrs;
    if (n.op == "Pad")
      attrs["value"] = float(xq.zeroPoint[0]); // real 0
    Node *q = emit(n.op, "", n.name, ins, outs, attrs);
    if (auto e = check(*q))
      return e;
    for (size_t i = 0; i < outs.size(); ++i)
      if (outs[i])
        record(n.outputs[i], outs[i]);
    return llvm::Error::success();
  }

  llvm::Error lowerConcat(const Node &n) {
    auto out = actQuant(n.outputs[0]);
    if (!out)
      return out.takeError();
    std::vector<Value *> ins;
    for (const Value *in : n.inputs) {
      auto qi = asInt(in);
      if (!qi)
        return qi.takeError();
      Value *v = *qi;
      const QuantInfo &iq = *v->quant;
      if (iq.scale[0] != out->scale[0] || iq.zeroPoint[0] != out->zeroPoint[0] || v->type.elem != elemOf(*out)) {
        Value *r = intValue(in->name + "_rescaled", in->type.shape, *out, elemOf(*out));
        std::map<std::string, Attribute> a = {{"x_zero_point", iq.zeroPoint[0]}};
        OutputPlan p{in, *out, out->qmin(), out->qmax()};
        setOutputAttrs(a, p);
        Node *rq = emit("Requantize", "qcc", dst_->uniqueName("rescale_" + in->name), {v}, {r}, a);
        setRequants(*rq, {Requant::make(double(iq.scale[0]) / out->scale[0], opts_.rounding)});
        if (auto e = check(*rq))
          return e;
        v = r;
      }
      ins.push_back(v);
    }
    Value *y = intValue(n.outputs[0]->name, n.outputs[0]->type.shape, *out, elemOf(*out));
    Node *q = emit("Concat", "", n.name, ins, {y}, n.attrs);
    if (auto e = check(*q))
      return e;
    record(n.outputs[0], y);
    return llvm::Error::success();
  }

  /// y = table[x]: the float op evaluated (with its own kernel) on every
  /// value of the input type (256 at 8 bits), then quantized to the output
  /// grid. Inputs wider than 8 bits stay float (qcc::Lut takes <= 8 bits).
  llvm::Error lowerTable(const Node &n) {
    if (n.inputs.size() != 1 || n.outputs.size() != 1)
      return floatIsland(n);
    auto qx = asInt(n.input(0));
    if (!qx)
      return qx.takeError();
    const QuantInfo &xq = *(*qx)->quant;
    const ElemType xe = (*qx)->type.elem;
    if (xe.bits() > 8)
      return floatIsland(n);
    auto oq = actQuant(n.outputs[0]);
    if (!oq)
      return oq.takeError();
    QuantInfo xRange; // every value of the input type, as qcc::Lut indexes
    xRange.bits = xe.bits();
    xRange.isSigned = xe.isSigned();
    const int64_t count = xRange.qmax() - xRange.qmin() + 1;
    Graph scratch;
    Value *in = scratch.addValue("x", {ElemType::f32(), {count}});
    Value *out = scratch.addValue("y", {ElemType::f32(), {count}});
    Node probe = n;
    probe.inputs = {in};
    probe.outputs = {out};
    const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
    if (auto e = def->infer(probe))
      return e;
    Tensor x(ElemType::f32(), {count}), y(ElemType::f32(), {count});
    for (int64_t i = 0; i < count; ++i)
      x.data<float>()[i] = float(double(xq.scale[0]) * double(xRange.qmin() + i - xq.zeroPoint[0]));
    std::vector<const Tensor *> ins{&x};
    std::vector<Tensor> outs{y};
    if (auto e = def->eval(probe, ins, outs))
      return e;
    std::vector<int64_t> table;
    for (int64_t i = 0; i < count; ++i)
      table.push_back(onGrid(outs[0].data<float>()[i], *oq));
    Value *yq = intValue(n.outputs[0]->name, n.outputs[0]->type.shape, *oq, elemOf(*oq));
    std::map<std::string, Attribute> a = {{"table", table}, {"out_bits", int64_t(oq->bits)},
                                          {"out_signed", int64_t(oq->isSigned)}, {"source_op", n.op}};
    Node *q = emit("Lut", "qcc", n.name, {*qx}, {yq}, a);
    if (auto e = check(*q))
      return e;
    record(n.outputs[0], yq);
    return llvm::Error::success();
  }

  /// The node stays float: its inputs are dequantized, its float outputs are
  /// quantized again where an integer consumer needs them.
  llvm::Error floatIsland(const Node &n) {
    std::vector<Value *> ins;
    for (const Value *in : n.inputs) {
      if (!in) {
        ins.push_back(nullptr);
        continue;
      }
      auto f = asFloat(in);
      if (!f)
        return f.takeError();
      ins.push_back(*f);
    }
    std::vector<Value *> outs;
    for (const Value *o : n.outputs) {
      outs.push_back(o ? dst_->addValue(dst_->uniqueName(o->name), o->type) : nullptr);
      if (o)
        floatOf_[o] = outs.back();
    }
    Node *q = emit(n.op, n.domain, n.name, ins, outs, n.attrs);
    if (auto e = check(*q))
      return e;
    // A QuantizeLinear copied over is the model's own quantizer, not a float op.
    bool touchesFloatData = false;
    for (const Value *in : n.inputs)
      touchesFloatData |= in && !in->isConstant() && in->type.elem.isFloat();
    if (touchesFloatData && !(n.domain.empty() && n.op == "QuantizeLinear"))
      islands_.push_back(fmt::format("{} ({})", n.name, n.op));
    return llvm::Error::success();
  }

  const Graph &src_;
  const RangeMap &ranges_;
  QuantizeOptions opts_;
  std::unique_ptr<Graph> dst_;
  std::map<const Value *, Value *> intOf_, floatOf_;
  std::set<const Node *> consumed_;
  std::map<std::string, std::string> quantizedName_;
  std::vector<std::string> islands_;
  std::set<std::string> usedWeight_, usedAct_; // --precision overrides applied
};

} // namespace

llvm::Expected<QuantizeResult> quantizeGraph(const Graph &g, const RangeMap &ranges, const QuantizeOptions &opts) {
  return Quantizer(g, ranges, opts).run();
}

} // namespace qcc
