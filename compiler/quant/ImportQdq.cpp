#include "quant/ImportQdq.h"

#include "ir/Printer.h"
#include "ops/OpRegistry.h"
#include "quant/QLinearLowering.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace qcc {

namespace {

using llvm::Error;

bool isOnnxOp(const Node *n, const char *op) { return n && n->domain.empty() && n->op == op; }

/// An integer tensor and its grid (scale, zero point), as inputs of a QOperator op.
struct QTensor {
  Value *q = nullptr, *scale = nullptr, *zp = nullptr;
  ElemType elem = ElemType::intN(8, false);
  int64_t axis = -1; ///< -1: per tensor
  bool fromNode = false; ///< a DequantizeLinear node (not a folded constant)
};

/// The QuantizeLinear that ends a node unit, and the Relu / Clip before it.
struct QOut {
  Node *q = nullptr, *clip = nullptr;
  Value *out = nullptr, *scale = nullptr, *zp = nullptr;
  ElemType elem = ElemType::intN(8, false);
};

class QdqImporter {
public:
  QdqImporter(Graph &g, QdqImportStats &st) : g_(g), st_(st) {}

  Error run() {
    // 1 and 2: node units, in topological order. A rewrite replaces the node
    // at index i and nodes after it, so indexing stays valid.
    for (size_t i = 0; i < g_.nodes().size(); ++i) {
      Node *n = g_.nodes()[i].get();
      if (!n->domain.empty())
        continue;
      if (auto e = rewriteUnit(*n))
        return e;
    }
    // 3: QOperator nodes of QOperator models.
    for (size_t i = 0; i < g_.nodes().size(); ++i) {
      Node *n = g_.nodes()[i].get();
      if (!isQOperatorOp(*n))
        continue;
      auto tensorOf = [&](size_t k) -> const Tensor * {
        Value *v = n->input(k);
        return v && v->isConstant() ? &*v->constant : nullptr;
      };
      if ((n->op == "QLinearMatMul" || n->op == "MatMulInteger") && !matMulLowersToQGemm(*n, tensorOf)) {
        st_.kept.push_back(n->describe() + ": B is not a constant 2-D matrix (direct integer kernel)");
        continue;
      }
      auto l = lowerQOperator(*n, tensorOf);
      if (!l)
        return l.takeError();
      if (auto e = applyLowering(g_, *n, *l))
        return e;
      st_.lowered++;
    }
    g_.removeDeadCode();
    collectFloatIslands();
    return verifyGraph(g_);
  }

private:
  // ---- reading DequantizeLinear inputs and QuantizeLinear outputs ----------------

  bool isGraphOutput(const Value *v) const {
    return std::find(g_.outputs.begin(), g_.outputs.end(), v) != g_.outputs.end();
  }

  Value *zeroConstant(ElemType e, const Shape &shape, const std::string &base) {
    return g_.addConstant(g_.uniqueName(base), Tensor(e, shape));
  }

  /// The integer tensor behind float value v: the input of the
  /// DequantizeLinear producing v, or the integers a folded DequantizeLinear
  /// of a constant had (recovered through the grid recorded on v).
  std::optional<QTensor> dequantized(Value *v) {
    if (!v || !v->type.elem.isFloat() || !v->quant)
      return std::nullopt;
    const QuantInfo &qi = *v->quant;
    if (Node *p = v->producer) {
      if (!isOnnxOp(p, "DequantizeLinear") || p->getInt("block_size", 0) != 0)
        return std::nullopt;
      Value *x = p->input(0), *s = p->input(1), *z = p->input(2);
      if (!x || !s || !s->isConstant() || (z && !z->isConstant()) || !x->type.elem.isInt())
        return std::nullopt;
      QTensor t;
      t.q = x;
      t.scale = s;
      t.zp = z ? z : zeroConstant(x->type.elem, s->type.shape, p->name + "/zero_point");
      t.elem = x->type.elem;
      t.axis = qi.axis;
      t.fromNode = true;
      return t;
    }
    if (!v->isConstant())
      return std::nullopt;
    auto it = recovered_.find(v);
    if (it != recovered_.end())
      return it->second;
    std::optional<QTensor> t = recover(*v);
    recovered_[v] = t;
    return t;
  }

  /// Rebuilds q from f = float(q - zp) * scale (what DequantizeLinear
  /// computed); gives up unless every value maps back bit for bit.
  std::optional<QTensor> recover(Value &v) {
    const QuantInfo &qi = *v.quant;
    const Tensor &f = *v.constant;
    if (f.elem() != ElemType::f32())
      return std::nullopt;
    const ElemType e = ElemType::intN(qi.bits, qi.isSigned);
    int64_t inner = 1, channels = 1;
    if (qi.axis >= 0) {
      if (qi.axis >= f.rank())
        return std::nullopt;
      channels = f.shape()[size_t(qi.axis)];
      for (int64_t d = qi.axis + 1; d < f.rank(); ++d)
        inner *= f.shape()[size_t(d)];
    }
    if (int64_t(qi.scale.size()) != channels || qi.zeroPoint.size() != qi.scale.size())
      return std::nullopt;
    Tensor q(e, f.shape());
    const float *src = f.data<float>();
    for (int64_t i = 0; i < f.size(); ++i) {
      const size_t c = size_t((i / inner) % channels);
      const float s = qi.scale[c];
      const int64_t z = qi.zeroPoint[c];
      const double r = std::nearbyint(double(src[i]) / double(s)) + double(z);
      if (r < double(qi.qmin()) || r > double(qi.qmax()))
        return std::nullopt;
      const int64_t qv = int64_t(r);
      if (float(qv - z) * s != src[i]) // DequantizeLinear: float(q - zp) * scale
        return std::nullopt;
      q.setDouble(i, double(qv));
    }
    Shape pshape = qi.axis >= 0 ? Shape{channels} : Shape{};
    Tensor scale(ElemType::f32(), pshape), zp(e, pshape);
    for (size_t c = 0; c < qi.scale.size(); ++c) {
      scale.data<float>()[c] = qi.scale[c];
      zp.setDouble(int64_t(c), double(qi.zeroPoint[c]));
    }
    QTensor t;
    t.q = g_.addConstant(g_.uniqueName(v.name + "/quantized"), std::move(q));
    t.scale = g_.addConstant(g_.uniqueName(v.name + "/scale"), std::move(scale));
    t.zp = g_.addConstant(g_.uniqueName(v.name + "/zero_point"), std::move(zp));
    t.elem = e;
    t.axis = qi.axis;
    return t;
  }

  static bool isScalar(const Value *v) { return v && v->isConstant() && v->constant->size() == 1; }

  /// Per-tensor 8-bit activation (ORT's fused kernels take scalar activation grids).
  static bool isActivation(const QTensor &t) {
    return isScalar(t.scale) && isScalar(t.zp) && t.elem.bits() == 8;
  }

  /// The single QuantizeLinear consuming node n's only output (optionally
  /// through one Relu / Clip), as ORT's CheckQDQNodes requires.
  std::optional<QOut> quantizedOutput(Node &n, bool allowClip) {
    size_t outs = 0;
    for (Value *o : n.outputs)
      outs += o ? 1 : 0;
    Value *y = n.output(0);
    if (outs != 1 || !y || isGraphOutput(y))
      return std::nullopt;
    std::vector<Node *> us = g_.users(y);
    if (us.size() != 1)
      return std::nullopt;
    QOut r;
    Node *u = us[0];
    if (allowClip && (isOnnxOp(u, "Relu") || isOnnxOp(u, "Clip"))) {
      Value *cy = u->output(0);
      if (!cy || isGraphOutput(cy) || u->input(0) != y)
        return std::nullopt;
      std::vector<Node *> cu = g_.users(cy);
      if (cu.size() != 1)
        return std::nullopt;
      r.clip = u;
      u = cu[0];
    }
    if (!isOnnxOp(u, "QuantizeLinear") || u->inputs.empty())
      return std::nullopt;
    Value *s = u->input(1), *z = u->input(2), *o = u->output(0);
    if (!o || !isScalar(s) || (z && !isScalar(z)))
      return std::nullopt;
    r.q = u;
    r.out = o;
    r.elem = o->type.elem;
    if (!r.elem.isInt() || r.elem.bits() != 8)
      return std::nullopt;
    r.scale = s;
    r.zp = z ? z : zeroConstant(r.elem, s->type.shape, u->name + "/zero_point");
    return r;
  }

  bool feedsQuantize(Node &n) {
    for (Value *o : n.outputs)
      if (o)
        for (Node *u : g_.users(o))
          if (isOnnxOp(u, "QuantizeLinear"))
            return true;
    return false;
  }

  // ---- node units ---------------------------------------------------------------------

  Error rewriteUnit(Node &n) {
    const std::string &op = n.op;
    if (op == "Conv")
      return unitConv(n);
    if (op == "Gemm")
      return unitGemm(n);
    if (op == "MatMul")
      return unitMatMul(n);
    if (op == "Add" || op == "Mul")
      return unitBinary(n);
    if (op == "GlobalAveragePool" || op == "Sigmoid" || op == "LeakyRelu")
      return unitUnary(n);
    if (op == "Concat")
      return unitConcat(n);
    if (op == "Split")
      return dropSplit(n);
    if (op == "ArgMax")
      return dropDequantize(n);
    static const std::set<std::string> dataMovement = {
        "Expand", "Flatten", "Gather",  "GatherElements", "Reshape",   "Slice",     "Squeeze",
        "Tile",   "Transpose", "Unsqueeze", "MaxPool",   "ReduceMax", "ReduceMin", "Resize"};
    if (dataMovement.count(op))
      return dropQdq(n);
    return Error::success();
  }

  /// Builds the QOperator node for a unit (not inserted yet) and checks that it
  /// lowers; on success replaces target, clip and QuantizeLinear by its lowering.
  Error replaceUnit(Node &target, const std::optional<QOut> &qo, std::string op, std::string domain,
                    std::vector<Value *> inputs, std::map<std::string, Attribute> attrs) {
    auto qn = std::make_unique<Node>();
    qn->name = target.name;
    qn->op = std::move(op);
    qn->domain = std::move(domain);
    qn->inputs = std::move(inputs);
    qn->attrs = std::move(attrs);
    Value *out = qo ? qo->out : target.output(0);
    const TensorType outType = out->type;
    // Infer on a scratch value first: the unit's output must keep its type.
    Value scratch;
    qn->outputs = {&scratch};
    // A unit qcc cannot fuse stays a float island.
    const OpDef *def = OpRegistry::get().lookup(qn->domain, qn->op);
    if (!def)
      return Error::success();
    if (auto e = def->infer(*qn)) {
      llvm::consumeError(std::move(e));
      return Error::success();
    }
    if (scratch.type != outType)
      return Error::success();
    auto tensorOf = [&](size_t k) -> const Tensor * {
      Value *v = qn->input(k);
      return v && v->isConstant() ? &*v->constant : nullptr;
    };
    const bool matmul = qn->op == "QLinearMatMul";
    std::optional<Lowering> lowering;
    if (!matmul || matMulLowersToQGemm(*qn, tensorOf)) {
      auto l = lowerQOperator(*qn, tensorOf);
      if (!l) {
        llvm::consumeError(l.takeError());
        return Error::success();
      }
      lowering = std::move(*l);
    }
    qn->outputs = {out};
    std::optional<std::pair<int64_t, int64_t>> clamp;
    if (qo && qo->clip)
      clamp = clipRange(*qo); // before the Clip node is erased
    Node *inserted = g_.insertNodeBefore(&target, std::move(qn));
    if (qo) {
      g_.eraseNode(qo->q);
      if (qo->clip)
        g_.eraseNode(qo->clip);
    }
    g_.eraseNode(&target);
    st_.units++;
    if (!lowering) {
      st_.kept.push_back(inserted->describe() + ": B is not a constant 2-D matrix (direct integer kernel)");
      return Error::success();
    }
    if (auto e = applyLowering(g_, *inserted, *lowering))
      return e;
    st_.lowered++;
    if (clamp)
      clampOutput(*out->producer, qo->elem, *clamp);
    return Error::success();
  }

  /// A Relu / Clip before QuantizeLinear becomes the integer op's output clamp:
  /// Q(clip(v, lo, hi)) = clamp(Q(v), Q(lo), Q(hi)) because Q is monotone.
  static std::pair<int64_t, int64_t> clipRange(const QOut &qo) {
    const float ys = qo.scale->constant->toFloats()[0];
    const int32_t yz = int32_t(qo.zp->constant->toInts()[0]);
    float lo = 0.f, hi = std::numeric_limits<float>::infinity();
    if (qo.clip->op == "Clip") {
      lo = qo.clip->getFloat("min", -std::numeric_limits<float>::infinity());
      hi = qo.clip->getFloat("max", std::numeric_limits<float>::infinity());
    }
    return {quantizeLinear(lo, ys, yz, qo.elem), quantizeLinear(hi, ys, yz, qo.elem)};
  }

  static void clampOutput(Node &last, ElemType e, std::pair<int64_t, int64_t> range) {
    QuantInfo r;
    r.bits = e.bits();
    r.isSigned = e.isSigned();
    const int64_t lo = std::max<int64_t>(last.getInt("out_min", r.qmin()), range.first);
    const int64_t hi = std::min<int64_t>(last.getInt("out_max", r.qmax()), range.second);
    last.attrs["out_min"] = lo;
    last.attrs["out_max"] = std::max(lo, hi);
  }

  static std::map<std::string, Attribute> copyAttrs(const Node &n, std::initializer_list<const char *> names) {
    std::map<std::string, Attribute> a;
    for (const char *k : names)
      if (n.has(k))
        a[k] = n.attrs.at(k);
    return a;
  }

  Error unitConv(Node &n) {
    auto x = dequantized(n.input(0)), w = dequantized(n.input(1));
    if (!x || !w || !isActivation(*x) || w->elem.bits() != 8 || (w->axis != -1 && w->axis != 0))
      return Error::success();
    if (x->elem.isSigned() && w->elem != x->elem) // ORT: int8 activations need int8 weights
      return Error::success();
    std::optional<QTensor> b;
    if (n.input(2)) {
      b = dequantized(n.input(2));
      if (!b || b->elem != ElemType::i32())
        return Error::success();
    }
    auto qo = quantizedOutput(n, true);
    if (!qo || qo->elem != x->elem)
      return Error::success();
    std::vector<Value *> in = {x->q, x->scale, x->zp, w->q, w->scale, w->zp, qo->scale, qo->zp};
    if (b)
      in.push_back(b->q);
    return replaceUnit(n, qo, "QLinearConv", "", in,
                       copyAttrs(n, {"kernel_shape", "strides", "pads", "dilations", "group"}));
  }

  Error unitGemm(Node &n) {
    auto a = dequantized(n.input(0)), b = dequantized(n.input(1));
    if (!a || !b || !isActivation(*a) || b->elem.bits() != 8)
      return Error::success();
    const bool transB = n.getInt("transB", 0) != 0;
    if (b->axis != -1 && b->axis != (transB ? 0 : 1)) // per output column only
      return Error::success();
    if (a->elem.isSigned() && b->elem != a->elem)
      return Error::success();
    std::optional<QTensor> c;
    if (n.input(2)) {
      c = dequantized(n.input(2));
      if (!c || c->elem != ElemType::i32() || n.getFloat("beta", 1.f) != 1.f)
        return Error::success();
    }
    // ORT fuses Gemm also without a QuantizeLinear after it (float output).
    std::optional<QOut> qo = quantizedOutput(n, true);
    if ((qo && qo->elem != a->elem) || (!qo && feedsQuantize(n)))
      return Error::success();
    std::vector<Value *> in = {a->q, a->scale, a->zp, b->q, b->scale, b->zp, c ? c->q : nullptr};
    if (qo) {
      in.push_back(qo->scale);
      in.push_back(qo->zp);
    } else if (!c) {
      in.pop_back();
    }
    return replaceUnit(n, qo, "QGemm", "com.microsoft", in, copyAttrs(n, {"alpha", "transA", "transB"}));
  }

  Error unitMatMul(Node &n) {
    auto a = dequantized(n.input(0)), b = dequantized(n.input(1));
    if (!a || !b || !isActivation(*a) || b->elem.bits() != 8)
      return Error::success();
    if (b->axis != -1 && b->axis != b->q->type.rank() - 1)
      return Error::success();
    if (a->elem.isSigned() && b->elem != a->elem)
      return Error::success();
    auto qo = quantizedOutput(n, true);
    if (!qo || qo->elem != a->elem)
      return Error::success();
    return replaceUnit(n, qo, "QLinearMatMul", "",
                       {a->q, a->scale, a->zp, b->q, b->scale, b->zp, qo->scale, qo->zp}, {});
  }

  Error unitBinary(Node &n) {
    auto a = dequantized(n.input(0)), b = dequantized(n.input(1));
    if (!a || !b || !isActivation(*a) || !isActivation(*b) || a->elem != b->elem)
      return Error::success();
    auto qo = quantizedOutput(n, true);
    if (!qo || qo->elem != a->elem)
      return Error::success();
    return replaceUnit(n, qo, n.op == "Add" ? "QLinearAdd" : "QLinearMul", "com.microsoft",
                       {a->q, a->scale, a->zp, b->q, b->scale, b->zp, qo->scale, qo->zp}, {});
  }

  Error unitUnary(Node &n) {
    auto x = dequantized(n.input(0));
    if (!x || !isActivation(*x))
      return Error::success();
    auto qo = quantizedOutput(n, n.op == "GlobalAveragePool");
    if (!qo || qo->elem != x->elem)
      return Error::success();
    std::map<std::string, Attribute> attrs;
    if (n.op == "LeakyRelu")
      attrs["alpha"] = n.getFloat("alpha", 0.01f);
    const std::string op = n.op == "GlobalAveragePool" ? "QLinearGlobalAveragePool"
                           : n.op == "Sigmoid"          ? "QLinearSigmoid"
                                                        : "QLinearLeakyRelu";
    return replaceUnit(n, qo, op, "com.microsoft", {x->q, x->scale, x->zp, qo->scale, qo->zp}, attrs);
  }

  Error unitConcat(Node &n) {
    auto qo = quantizedOutput(n, false);
    if (!qo)
      return Error::success();
    std::vector<Value *> in = {qo->scale, qo->zp};
    for (Value *v : n.inputs) {
      auto x = dequantized(v);
      if (!x || !isActivation(*x) || x->elem != qo->elem)
        return Error::success();
      in.insert(in.end(), {x->q, x->scale, x->zp});
    }
    return replaceUnit(n, qo, "QLinearConcat", "com.microsoft", in, copyAttrs(n, {"axis"}));
  }

  // ---- ORT's "drop QDQ": data movement on the integers -----------------------------------

  static bool sameGrid(const Value *s1, const Value *z1, const Value *s2, const Value *z2) {
    return s1->constant->toFloats()[0] == s2->constant->toFloats()[0] && z1->type.elem == z2->type.elem &&
           z1->constant->toInts()[0] == z2->constant->toInts()[0];
  }

  /// Re-infers `n` with input 0 replaced by `x` and checks the outputs' types.
  bool acceptsIntegers(const Node &n, Value *x, const std::vector<TensorType> &want) {
    const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
    if (!def)
      return false;
    Node probe = n;
    probe.inputs[0] = x;
    std::vector<Value> outs(n.outputs.size());
    for (size_t i = 0; i < outs.size(); ++i)
      probe.outputs[i] = n.outputs[i] ? &outs[i] : nullptr;
    if (auto e = def->infer(probe)) {
      llvm::consumeError(std::move(e));
      return false;
    }
    for (size_t i = 0; i < outs.size(); ++i)
      if (n.outputs[i] && outs[i].type != want[i])
        return false;
    return true;
  }

  /// The DequantizeLinear feeding input 0, when it is the node's only one.
  std::optional<QTensor> onlyDequantizedInput(Node &n) {
    auto x = dequantized(n.input(0));
    if (!x || !x->fromNode || !isActivation(*x))
      return std::nullopt;
    for (size_t i = 1; i < n.inputs.size(); ++i)
      if (Value *v = n.inputs[i]; v && v->producer && isOnnxOp(v->producer, "DequantizeLinear"))
        return std::nullopt;
    return x;
  }

  Error dropQdq(Node &n) {
    auto x = onlyDequantizedInput(n);
    if (!x)
      return Error::success();
    if (x->elem.bits() != 8 && (n.op == "MaxPool" || n.op == "Resize" || n.op == "ReduceMax" || n.op == "ReduceMin"))
      return Error::success();
    if (n.op == "MaxPool" && (g_.opsets.count("") ? g_.opsets.at("") : 0) < 12)
      return Error::success();
    if (n.op == "Resize" && n.getString("mode", "nearest") != "nearest")
      return Error::success(); // qcc's integer Resize is exact for nearest only
    auto qo = quantizedOutput(n, false);
    if (!qo || qo->elem != x->elem || !sameGrid(x->scale, x->zp, qo->scale, qo->zp))
      return Error::success();
    if ((n.op == "MaxPool" || n.op == "ReduceMax" || n.op == "ReduceMin") && !(x->scale->constant->toFloats()[0] > 0))
      return Error::success();
    if (!acceptsIntegers(n, x->q, {qo->out->type}))
      return Error::success();
    n.inputs[0] = x->q;
    n.outputs[0] = qo->out;
    qo->out->producer = &n;
    g_.eraseNode(qo->q);
    st_.dropped++;
    return Error::success();
  }

  Error dropSplit(Node &n) {
    auto x = onlyDequantizedInput(n);
    if (!x)
      return Error::success();
    std::vector<Node *> qs;
    std::vector<TensorType> want;
    for (Value *o : n.outputs) {
      if (!o || isGraphOutput(o))
        return Error::success();
      std::vector<Node *> us = g_.users(o);
      if (us.size() != 1 || !isOnnxOp(us[0], "QuantizeLinear"))
        return Error::success();
      Node *q = us[0];
      Value *s = q->input(1), *z = q->input(2);
      if (!isScalar(s) || !z || !isScalar(z) || !sameGrid(x->scale, x->zp, s, z) || !q->output(0) ||
          q->output(0)->type.elem != x->elem)
        return Error::success();
      qs.push_back(q);
      want.push_back(q->output(0)->type);
    }
    if (qs.empty() || !acceptsIntegers(n, x->q, want))
      return Error::success();
    n.inputs[0] = x->q;
    for (size_t i = 0; i < qs.size(); ++i) {
      n.outputs[i] = qs[i]->output(0);
      n.outputs[i]->producer = &n;
      g_.eraseNode(qs[i]);
    }
    st_.dropped++;
    return Error::success();
  }

  /// ArgMax after a DequantizeLinear: the same indices on the integers (scale > 0).
  Error dropDequantize(Node &n) {
    auto x = onlyDequantizedInput(n);
    if (!x || !(x->scale->constant->toFloats()[0] > 0) || !n.output(0))
      return Error::success();
    if (!acceptsIntegers(n, x->q, {n.output(0)->type}))
      return Error::success();
    n.inputs[0] = x->q;
    st_.dropped++;
    return Error::success();
  }

  void collectFloatIslands() {
    for (const auto &n : g_.nodes()) {
      if (n->domain == "qcc" || isOnnxOp(n.get(), "QuantizeLinear") || isOnnxOp(n.get(), "DequantizeLinear"))
        continue;
      for (Value *v : n->inputs)
        if (v && v->producer && isOnnxOp(v->producer, "DequantizeLinear")) {
          st_.floatIslands.push_back(n->describe());
          break;
        }
    }
  }

  Graph &g_;
  QdqImportStats &st_;
  std::map<const Value *, std::optional<QTensor>> recovered_;
};

} // namespace

bool hasQuantizedOps(const Graph &g) {
  for (const auto &n : g.nodes())
    if (isOnnxOp(n.get(), "QuantizeLinear") || isOnnxOp(n.get(), "DequantizeLinear") || isQOperatorOp(*n))
      return true;
  for (const auto &v : g.values()) // DequantizeLinear of constants, folded at import
    if (v->quant && v->isConstant())
      return true;
  return false;
}

Error lowerQdq(Graph &g, QdqImportStats *stats) {
  QdqImportStats local;
  QdqImporter imp(g, stats ? *stats : local);
  if (auto e = imp.run())
    return withContext(std::move(e), "importing the pre-quantized model");
  return Error::success();
}

} // namespace qcc
