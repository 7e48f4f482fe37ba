#include "quant/ImportQdq.h"

#include "ir/Printer.h"
#include "ops/OpRegistry.h"
#include "passes/FusedActivation.h"
#include "quant/ImportQonnx.h"
#include "quant/QLinearLowering.h"
#include "quant/RequantAttrs.h"
#include "quant/ThresholdSearch.h"
#include "support/Error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
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

/// The QuantizeLinear that ends a node unit, the Relu / Clip before it, and
/// the integer Clip after it that a QONNX quantizer narrower than its type
/// becomes (quant/ImportQonnx.h).
struct QOut {
  Node *q = nullptr, *clip = nullptr, *qclip = nullptr;
  std::vector<Node *> affine;        ///< QONNX: BN / Mul / Add per channel between the op and clip
  std::vector<double> a, b;          ///< their product: y' = a[c] * y + b[c] (empty: none)
  std::optional<ClampRange> fused;   ///< a clamp fused into the op (act_min / act_max)
  std::optional<std::pair<int64_t, int64_t>> qrange; ///< qclip's bounds
  Value *out = nullptr, *scale = nullptr, *zp = nullptr;
  ElemType elem = ElemType::intN(8, false);
};

class QdqImporter {
public:
  QdqImporter(Graph &g, QdqImportStats &st, const QdqImportOptions &o) : g_(g), st_(st), opts_(o) {}

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
    for (const auto &n : g_.nodes())
      n->attrs.erase(kFromQonnxQuant);
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

  /// Per-tensor activation of 2..8 bits (ORT's fused kernels take scalar
  /// activation grids; sub-8-bit ones come from QONNX, held in 8-bit storage).
  bool isActivation(const QTensor &t) const {
    return isScalar(t.scale) && isScalar(t.zp) && (opts_.qonnx ? t.elem.bits() >= 2 && t.elem.bits() <= 8 : t.elem.bits() == 8);
  }

  /// 8-bit weights; QONNX: 2..8 bits.
  bool weightBits(ElemType e) const { return opts_.qonnx ? e.bits() >= 2 && e.bits() <= 8 : e.bits() == 8; }

  /// Sub-8-bit integers (QONNX): ORT's int8/uint8 pairing rules do not apply.
  static bool subByte(ElemType e) { return e.bits() < 8; }

  /// ORT's type rule for a unit's activation x, weight w and output y
  /// (int8 activations need int8 weights, the output has the input's type);
  /// QONNX: any types of 2..8 bits.
  bool typesPair(ElemType x, ElemType w, ElemType y) const {
    if (opts_.qonnx)
      return w.bits() <= 8 && y.bits() <= 8;
    return (!x.isSigned() || w == x) && y == x;
  }

  /// An integer Clip on the integers right after a QuantizeLinear.
  Node *integerClipAfter(Value *q) {
    if (!q || isGraphOutput(q))
      return nullptr;
    std::vector<Node *> us = g_.users(q);
    if (us.size() != 1 || !isOnnxOp(us[0], "Clip") || us[0]->input(0) != q || !us[0]->output(0))
      return nullptr;
    return us[0];
  }

  /// The single QuantizeLinear consuming node n's only output (optionally
  /// through one Relu / Clip), as ORT's CheckQDQNodes requires.
  std::optional<QOut> quantizedOutput(Node &n, bool allowClip, bool allowAffine = false) {
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
    Value *cur = y;
    if (allowAffine && opts_.qonnx && y->type.rank() >= 2 && y->type.shape[1] > 0) {
      const int64_t ch = y->type.shape[1];
      std::vector<double> a(size_t(ch), 1.0), b(size_t(ch), 0.0);
      std::optional<ClampRange> chainClamp;
      while (affineStep(*u, cur, ch, a, b, chainClamp)) {
        r.affine.push_back(u);
        cur = u->output(0);
        if (isGraphOutput(cur))
          return std::nullopt;
        std::vector<Node *> cu = g_.users(cur);
        if (cu.size() != 1)
          return std::nullopt;
        u = cu[0];
      }
      if (!r.affine.empty()) {
        r.a = std::move(a);
        r.b = std::move(b);
      }
      r.fused = chainClamp;
    }
    // A clamp fused into n applies before any affine op: only a plain clamp folds.
    if (auto own = fusedClamp(n)) {
      if (!r.affine.empty())
        return std::nullopt;
      r.fused = own;
    }
    if (r.fused && !allowClip)
      return std::nullopt;
    if (allowClip && (isOnnxOp(u, "Relu") || isOnnxOp(u, "Clip"))) {
      Value *cy = u->output(0);
      if (!cy || isGraphOutput(cy) || u->input(0) != cur)
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
    if (!r.elem.isInt() || r.elem.bits() > 8 || (!opts_.qonnx && r.elem.bits() != 8) || r.elem.bits() < 2)
      return std::nullopt;
    if (Node *c = opts_.qonnx ? integerClipAfter(o) : nullptr) {
      r.qclip = c;
      r.out = c->output(0);
      r.qrange = std::make_pair(c->getInt("min", std::numeric_limits<int64_t>::min()),
                                c->getInt("max", std::numeric_limits<int64_t>::max()));
    }
    r.scale = s;
    r.zp = z ? z : zeroConstant(r.elem, s->type.shape, u->name + "/zero_point");
    return r;
  }

  /// QONNX: a per-channel affine op on a conv output `in` with `channels`
  /// channels (axis 1): BatchNormalization, or Mul / Add by a float constant
  /// that is a scalar or varies along axis 1 only. Composes it into
  /// y' = a[c] * y + b[c] (in double; qonnx runs each op in float32, which
  /// differs by float32 rounding only).
  /// `clamp`: a clamp fused into one of the ops (a Relu fused into an Add);
  /// after it only a Mul by positive constants may follow, and only after a
  /// Relu (relu(x) * m == relu(x * m) for m > 0).
  static bool affineStep(const Node &u, const Value *in, int64_t channels, std::vector<double> &a,
                         std::vector<double> &b, std::optional<ClampRange> &clamp) {
    if (!u.domain.empty() || u.outputs.size() != 1 || !u.output(0) || u.output(0)->type.shape != in->type.shape)
      return false;
    const std::optional<ClampRange> fc = fusedClamp(u);
    if (fc && clamp)
      return false;
    if (clamp && (u.op != "Mul" || clamp->lo != 0.f || !std::isinf(clamp->hi)))
      return false;
    auto isF32 = [](const Value *v) { return v && v->isConstant() && v->type.elem == ElemType::f32(); };
    if (u.op == "BatchNormalization") {
      if (u.input(0) != in || u.inputs.size() < 5)
        return false;
      if (clamp)
        return false;
      for (size_t i = 1; i < 5; ++i)
        if (!isF32(u.input(i)) || u.input(i)->constant->size() != channels)
          return false;
      const double eps = u.getFloat("epsilon", 1e-5f);
      for (int64_t c = 0; c < channels; ++c) {
        const double k = u.input(1)->constant->getDouble(c) / std::sqrt(u.input(4)->constant->getDouble(c) + eps);
        a[size_t(c)] *= k;
        b[size_t(c)] = b[size_t(c)] * k + (u.input(2)->constant->getDouble(c) - u.input(3)->constant->getDouble(c) * k);
      }
      if (fc)
        clamp = fc;
      return true;
    }
    if (u.op != "Mul" && u.op != "Add")
      return false;
    const Value *k = u.input(0) == in ? u.input(1) : u.input(1) == in ? u.input(0) : nullptr;
    if (!isF32(k) || k == in)
      return false;
    const Shape &ks = k->type.shape, &ys = in->type.shape;
    if (ks.size() > ys.size())
      return false;
    const size_t off = ys.size() - ks.size();
    for (size_t d = 0; d < ks.size(); ++d)
      if (ks[d] != 1 && (off + d != 1 || ks[d] != channels))
        return false;
    const int64_t kn = k->constant->size();
    if (clamp)
      for (int64_t i = 0; i < kn; ++i)
        if (!(k->constant->getDouble(i) > 0))
          return false;
    for (int64_t c = 0; c < channels; ++c) {
      const double v = k->constant->getDouble(kn == 1 ? 0 : c);
      if (u.op == "Mul") {
        a[size_t(c)] *= v;
        b[size_t(c)] *= v;
      } else {
        b[size_t(c)] += v;
      }
    }
    if (fc)
      clamp = fc;
    return true;
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
    if (op == "Concat" && opts_.qonnx)
      if (auto e = sinkConcat(n); e || !n.input(0) || n.input(0)->type.elem.isInt())
        return e;
    if (op == "Concat")
      return unitConcat(n);
    if (op == "Split")
      return dropSplit(n);
    if (op == "ArgMax")
      return dropDequantize(n);
    if (op == "QuantizeLinear" && opts_.qonnx)
      return requantizeUnit(n);
    static const std::set<std::string> dataMovement = {
        "Expand", "Flatten", "Gather",  "GatherElements", "Reshape",   "Slice",     "Squeeze",
        "Tile",   "Transpose", "Unsqueeze", "MaxPool",   "ReduceMax", "ReduceMin", "Resize"};
    if ((dataMovement.count(op) || op == "DepthToSpace") && opts_.qonnx)
      if (auto e = sinkDequantize(n); e || !n.input(0) || n.input(0)->type.elem.isInt())
        return e;
    if (dataMovement.count(op))
      return dropQdq(n);
    return Error::success();
  }

  /// Builds the QOperator node for a unit (not inserted yet) and checks that it
  /// lowers; on success replaces target, clip and QuantizeLinear by its lowering.
  Error replaceUnit(Node &target, const std::optional<QOut> &qo, std::string op, std::string domain,
                    std::vector<Value *> inputs, std::map<std::string, Attribute> attrs) {
    if (!qo && fusedClamp(target))
      return Error::success(); // the clamp has nowhere to go
    auto qn = std::make_unique<Node>();
    qn->name = target.name;
    qn->op = std::move(op);
    qn->domain = std::move(domain);
    qn->inputs = std::move(inputs);
    qn->attrs = std::move(attrs);
    Value *out = qo ? qo->out : target.output(0);
    const TensorType outType = out->type;
    // Infer on a scratch value first: the unit's output must keep its type.
    // ORT's QOperator ops take 8-bit types: sub-8-bit QONNX integers are
    // checked as the 8-bit type holding them (the lowering keeps their width).
    Value scratch;
    Node probe = *qn;
    std::vector<std::unique_ptr<Value>> widened;
    for (Value *&v : probe.inputs)
      if (v && v->type.elem.isInt() && subByte(v->type.elem)) {
        auto w = std::make_unique<Value>();
        w->name = v->name;
        w->type = v->type;
        w->type.elem = ElemType::intN(8, v->type.elem.isSigned());
        if (v->isConstant()) {
          Tensor t(w->type.elem, v->type.shape); // same storage: copy the bytes
          std::memcpy(t.raw(), v->constant->raw(), size_t(v->constant->size()) * v->type.elem.storageBytes());
          w->constant = std::move(t);
        }
        v = w.get();
        widened.push_back(std::move(w));
      }
    probe.outputs = {&scratch};
    TensorType wantType = outType;
    if (wantType.elem.isInt() && subByte(wantType.elem))
      wantType.elem = ElemType::intN(8, wantType.elem.isSigned());
    // A unit qcc cannot fuse stays a float island.
    const OpDef *def = OpRegistry::get().lookup(qn->domain, qn->op);
    if (!def)
      return Error::success();
    if (auto e = def->infer(probe)) {
      llvm::consumeError(std::move(e));
      return Error::success();
    }
    if (scratch.type != wantType)
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
    if (qo && (qo->clip || qo->fused))
      clamp = clipRange(*qo); // before the Clip node is erased
    Node *inserted = g_.insertNodeBefore(&target, std::move(qn));
    if (qo) {
      if (qo->qclip)
        g_.eraseNode(qo->qclip);
      g_.eraseNode(qo->q);
      if (qo->clip)
        g_.eraseNode(qo->clip);
      for (auto it = qo->affine.rbegin(); it != qo->affine.rend(); ++it)
        g_.eraseNode(*it);
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
    if (qo && qo->qrange)
      clampOutput(*out->producer, qo->elem, *qo->qrange);
    return Error::success();
  }

  /// A Relu / Clip before QuantizeLinear becomes the integer op's output clamp:
  /// Q(clip(v, lo, hi)) = clamp(Q(v), Q(lo), Q(hi)) because Q is monotone.
  static std::pair<int64_t, int64_t> clipRange(const QOut &qo) {
    const float ys = qo.scale->constant->toFloats()[0];
    const int32_t yz = int32_t(qo.zp->constant->toInts()[0]);
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (qo.fused) {
      lo = qo.fused->lo;
      hi = qo.fused->hi;
    }
    if (qo.clip && qo.clip->op == "Relu")
      lo = std::max(lo, 0.f);
    if (qo.clip && qo.clip->op == "Clip") {
      lo = std::max(lo, qo.clip->getFloat("min", -std::numeric_limits<float>::infinity()));
      hi = std::min(hi, qo.clip->getFloat("max", std::numeric_limits<float>::infinity()));
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
    if (!x || !w || !isActivation(*x) || !weightBits(w->elem) || (w->axis != -1 && w->axis != 0))
      return Error::success();
    if (opts_.qonnx)
      return qonnxConv(n, *x, *w);
    std::optional<QTensor> b;
    if (n.input(2)) {
      b = dequantized(n.input(2));
      if (!b || b->elem != ElemType::i32())
        return Error::success();
    }
    auto qo = quantizedOutput(n, true);
    // ORT: int8 activations need int8 weights, and the output has the input's type.
    if (!qo || !typesPair(x->elem, w->elem, qo->elem))
      return Error::success();
    std::vector<Value *> in = {x->q, x->scale, x->zp, w->q, w->scale, w->zp, qo->scale, qo->zp};
    if (b)
      in.push_back(b->q);
    return replaceUnit(n, qo, "QLinearConv", "", in,
                       copyAttrs(n, {"kernel_shape", "strides", "pads", "dilations", "group"}));
  }

  /// QONNX Conv: the bias is the model's float bias (any grid or none), made
  /// int32 at s_x * s_w[c]; per-channel BatchNormalization / Mul / Add
  /// between the conv and its Relu / Quant fold into the weight scales and
  /// that bias, leaving the integer weights as they are (a negative factor
  /// negates its channel's weights, which needs -w in the weight range). A
  /// conv with a float output (no Quant after it: the model's result, maybe
  /// through data movement) keeps its int32 accumulator (scale s_x * s_w,
  /// per tensor) and dequantizes it.
  Error qonnxConv(Node &n, const QTensor &x, const QTensor &w) {
    Value *y = n.output(0);
    std::optional<QOut> qo = quantizedOutput(n, true, true);
    if (qo && !typesPair(x.elem, w.elem, qo->elem))
      return Error::success();
    if (!qo && (!y || feedsQuantize(n) || fusedClamp(n) || n.outputs.size() != 1))
      return Error::success();
    if (!w.q->isConstant() || !w.scale->isConstant() || !w.zp->isConstant() || w.q->type.rank() < 1)
      return Error::success();
    Value *bv = n.input(2);
    if (bv && (!bv->isConstant() || !bv->type.elem.isFloat()))
      return Error::success();
    const Tensor &wq = *w.q->constant;
    const int64_t cout = wq.shape()[0];
    if (bv && bv->constant->size() != 1 && bv->constant->size() != cout)
      return Error::success();
    auto f = foldChannels(n, x, w, wq.clone(), bv ? &*bv->constant : nullptr, 1.0, 1.0, qo);
    if (!f)
      return f.takeError();
    if (!f->folds)
      return Error::success();
    if (qo && f->offGrid && exactBias(*qo) && n.getString("auto_pad", "NOTSET") == "NOTSET") {
      AccumulatorForm af = accumulatorForm(f->w, cout, x.elem, x.zp->constant->toInts()[0]);
      if (af.bound < (int64_t(1) << 31) - 2 && f->symmetric) {
        auto qn = std::make_unique<Node>();
        qn->name = n.name;
        qn->domain = "qcc";
        qn->op = "QConv";
        for (const char *k : {"strides", "pads", "dilations", "group"})
          if (n.has(k))
            qn->attrs[k] = n.attrs.at(k);
        qn->attrs["x_zero_point"] = x.zp->constant->toInts()[0];
        qn->inputs = {x.q, g_.addConstant(g_.uniqueName(n.name + "/weight_quantized"), std::move(f->w)),
                      g_.addConstant(g_.uniqueName(n.name + "/bias_quantized"), std::move(af.bias))};
        return thresholdUnit(n, *qo, std::move(qn), 1, af.bound, f->mult, f->realBias);
      }
    }
    if (f->overflow)
      return nodeError(n, "output channel {}: bias {} on the accumulator grid ({} * {}) overflows int32",
                       f->overflow - 1, f->realBias[size_t(f->overflow - 1)], x.scale->constant->toFloats()[0],
                       f->scale.data<float>()[f->overflow - 1]);
    Tensor nq = std::move(f->w), st = std::move(f->scale), zt = std::move(f->zp), bt = std::move(f->bias);
    Value *wv = g_.addConstant(g_.uniqueName(n.name + "/weight_quantized"), std::move(nq));
    Value *sv = g_.addConstant(g_.uniqueName(n.name + "/weight_scale"), std::move(st));
    Value *zv = g_.addConstant(g_.uniqueName(n.name + "/weight_zero_point"), std::move(zt));
    Value *biasv = g_.addConstant(g_.uniqueName(n.name + "/bias_quantized"), std::move(bt));
    auto attrs = copyAttrs(n, {"kernel_shape", "strides", "pads", "dilations", "group"});
    if (qo)
      return replaceUnit(n, qo, "QLinearConv", "", {x.q, x.scale, x.zp, wv, sv, zv, qo->scale, qo->zp, biasv},
                         attrs);
    // Float output: int32 accumulator at s_x * s_w (float32, as the
    // multiplier is computed: exactly 1), then DequantizeLinear.
    const std::vector<float> sws = sv->constant->toFloats();
    if (std::any_of(sws.begin(), sws.end(), [&](float v) { return v != sws[0]; }))
      return Error::success();
    const float accScale = x.scale->constant->toFloats()[0] * sws[0];
    Value *ys = g_.addConstant(g_.uniqueName(n.name + "/acc_scale"), Tensor::scalarF32(accScale));
    Value *yz = zeroConstant(ElemType::i32(), {}, n.name + "/acc_zero_point");
    TensorType it = y->type;
    it.elem = ElemType::i32();
    Value *acc = g_.addValue(g_.uniqueName(y->name + "/accumulator"), it);
    Value *yf = g_.addValue(g_.uniqueName(y->name + "/float"), y->type);
    // Placeholder QuantizeLinear (the unit's output quantizer, replaced below)
    // and the DequantizeLinear that produces the graph output.
    auto q = std::make_unique<Node>();
    q->name = n.name + "/accumulator";
    q->op = "QuantizeLinear";
    q->inputs = {yf, ys, yz};
    q->outputs = {acc};
    auto dq = std::make_unique<Node>();
    dq->name = n.name + "/DequantizeLinear";
    dq->op = "DequantizeLinear";
    dq->inputs = {acc, ys, yz};
    n.outputs[0] = yf;
    yf->producer = &n;
    dq->outputs = {y};
    y->producer = nullptr;
    if (auto e = OpRegistry::get().lookup("", "DequantizeLinear")->infer(*dq))
      return e;
    QuantInfo grid;
    grid.scale = {accScale};
    grid.zeroPoint = {0};
    grid.bits = 32;
    grid.rounding = Rounding::Onnx;
    y->quant = grid;
    Node *next = nextNode(n);
    Node *qn = g_.insertNodeBefore(next, std::move(q));
    acc->producer = qn;
    g_.insertNodeBefore(nextNode(*qn), std::move(dq));
    QOut r;
    r.q = qn;
    r.out = acc;
    r.scale = ys;
    r.zp = yz;
    r.elem = ElemType::i32();
    return replaceUnit(n, r, "QLinearConv", "", {x.q, x.scale, x.zp, wv, sv, zv, ys, yz, biasv}, attrs);
  }

  /// QONNX Conv / Gemm folded per output channel c (weights wq: [N, ...], one
  /// row per output channel, on w's grid): the real output is
  ///   a[c] * (alpha * s_x * s_w[c] * acc + beta * bias[c]) + b[c]
  /// with a, b the unit's affine ops (qo->a / qo->b). The factor a * alpha
  /// moves into the weight scale (negative: the channel's integer weights are
  /// negated, which needs -w in the weight range; error otherwise), the rest
  /// into the bias, int32 at s_x * scale[c] (rounded). folds false: the
  /// unit does not fold (parameters of the wrong length).
  struct Folded {
    bool folds = false;
    Tensor w;                 ///< integer weights, negated per channel where needed
    Tensor scale, zp, bias;   ///< [N]: f32 weight scale with the factor, zero point, rounded int32 bias
    std::vector<double> mult, realBias; ///< real value = mult[c] * acc + realBias[c] (zero points 0)
    bool offGrid = false;     ///< a channel's bias is off its accumulator grid (beyond float32 precision)
    bool symmetric = true;    ///< every weight zero point is 0
    int64_t overflow = 0;     ///< 1 + the first channel whose rounded bias overflows int32
  };

  llvm::Expected<Folded> foldChannels(Node &n, const QTensor &x, const QTensor &w, Tensor wq, const Tensor *bv,
                                      double alpha, double beta, const std::optional<QOut> &qo) {
    Folded f;
    const int64_t cout = wq.shape()[0], per = wq.size() / std::max<int64_t>(cout, 1);
    const std::vector<float> ws = w.scale->constant->toFloats();
    const std::vector<int64_t> wz = w.zp->constant->toInts();
    if ((ws.size() != 1 && int64_t(ws.size()) != cout) || (wz.size() != 1 && int64_t(wz.size()) != cout) ||
        (bv && bv->size() != 1 && bv->size() != cout))
      return f;
    const double sx = x.scale->constant->toFloats()[0];
    QuantInfo range;
    range.bits = w.elem.bits();
    range.isSigned = w.elem.isSigned();
    Tensor st(ElemType::f32(), {cout}), zt(w.elem, {cout}), bt(ElemType::i32(), {cout});
    f.mult.resize(size_t(cout));
    f.realBias.resize(size_t(cout));
    for (int64_t c = 0; c < cout; ++c) {
      double a = (qo && !qo->a.empty() ? qo->a[size_t(c)] : 1.0) * alpha;
      const double bscale = (qo && !qo->a.empty() ? qo->a[size_t(c)] : 1.0) * beta;
      // A pruned channel (a BN scale of 1e-10 or below): when the conv can
      // move the output by less than 1e-6 of its step, the output is the
      // constant b (the integer bias would overflow int32 otherwise).
      if (a != 0 && qo) {
        QuantInfo xr;
        xr.bits = x.elem.bits();
        xr.isSigned = x.elem.isSigned();
        const double xz = double(x.zp->constant->toInts()[0]);
        const double xmax = std::max(std::fabs(double(xr.qmin()) - xz), std::fabs(double(xr.qmax()) - xz));
        double wsum = 0;
        for (int64_t i = c * per; i < (c + 1) * per; ++i)
          wsum += std::fabs(double(wq.getInt(i) - wz[wz.size() == 1 ? 0 : size_t(c)]));
        const double reach = std::fabs(a) * sx * double(ws[ws.size() == 1 ? 0 : size_t(c)]) * wsum * xmax;
        if (reach < 1e-6 * double(qo->scale->constant->toFloats()[0]) ||
            !std::isnormal(float(ws[ws.size() == 1 ? 0 : size_t(c)] * std::fabs(a))))
          a = 0;
      }
      const double b = qo && !qo->b.empty() ? qo->b[size_t(c)] : 0.0;
      const double sw = ws[ws.size() == 1 ? 0 : size_t(c)];
      const int64_t z = wz[wz.size() == 1 ? 0 : size_t(c)];
      f.symmetric &= z == 0;
      zt.setDouble(c, double(z));
      if (a <= 0) {
        for (int64_t i = c * per; i < (c + 1) * per; ++i) {
          const int64_t v = a == 0 ? z : 2 * z - wq.getInt(i); // -(q - z) + z
          if (v < range.qmin() || v > range.qmax())
            return nodeError(n, "the per-channel factor {} ({}) on output channel {} is negative: "
                                "its integer weights must be negated, but weight {} has no negation in {}",
                             a, qo && !qo->affine.empty() ? qo->affine.front()->describe() + " after it" : "alpha",
                             c, wq.getInt(i), w.elem.str());
          wq.setDouble(i, double(v));
        }
      }
      // a == 0: the weights are the zero point, any scale does; the output
      // grid's (s_x * s = s_y) puts the constant b on it in one rounding.
      const float s = a != 0 ? float(sw * std::fabs(a))
                      : qo  ? float(double(qo->scale->constant->toFloats()[0]) / sx)
                            : float(sw);
      if (!(s > 0) || !std::isfinite(s))
        return nodeError(n, "output channel {}: weight scale {} times the folded factor {} is not a positive float",
                         c, sw, a);
      st.data<float>()[c] = s;
      const double bias = (bv ? bscale * bv->getDouble(bv->size() == 1 ? 0 : c) : 0.0) + b;
      const double exact = bias / (sx * double(s)), q = std::nearbyint(exact);
      // On the grid up to float32 precision (e.g. an Int32Bias): the rounded int32 bias is exact.
      f.offGrid |= std::fabs(exact - q) > std::fabs(exact) * 0x1p-22 + 1e-6;
      f.mult[size_t(c)] = sx * sw * std::fabs(a);
      f.realBias[size_t(c)] = bias;
      if (!(std::fabs(q) <= double(std::numeric_limits<int32_t>::max())))
        f.overflow = f.overflow ? f.overflow : c + 1;
      else
        bt.setDouble(c, q);
    }
    f.folds = true;
    f.w = std::move(wq);
    f.scale = std::move(st);
    f.zp = std::move(zt);
    f.bias = std::move(bt);
    return f;
  }

  /// The unit's output levels [lo, hi] (type range and integer Clip) when
  /// thresholds can produce them: 1 to 255 steps (at most 8 bits).
  static std::optional<std::pair<int64_t, int64_t>> thresholdLevels(const QOut &qo) {
    QuantInfo range;
    range.bits = qo.elem.bits();
    range.isSigned = qo.elem.isSigned();
    int64_t lo = range.qmin(), hi = range.qmax();
    if (qo.qrange) {
      lo = std::max(lo, qo.qrange->first);
      hi = std::min(hi, qo.qrange->second);
    }
    if (hi <= lo || hi - lo > 255)
      return std::nullopt;
    return std::make_pair(lo, hi);
  }

  /// A float bias off the accumulator grid stays exact (thresholdUnit) for a
  /// QONNX Quant of at most 8 bits (qonnx evaluates the unit in float); a model's
  /// own QuantizeLinear (QCDQ) follows onnxruntime, which rounds such a bias
  /// onto the int32 grid before fusing the unit.
  static bool exactBias(const QOut &qo) { return qo.q->getInt(kFromQonnxQuant, 0) != 0 && thresholdLevels(qo); }

  /// QONNX: a unit whose folded float bias has no accumulator grid. `acc`
  /// (a QConv / QGemm, inputs and attributes set) produces the exact int32
  /// accumulator, |acc| <= bound, channels on `axis`; its real value is
  /// v = mult[c] * acc + bias[c] (float64), clamped as the unit's Relu / Clip
  /// / fused clamp do, and the QONNX Quant behind the unit's QuantizeLinear,
  /// y = clamp(rint(v / s + z), lo, hi) (qonnx's formula, half to even; lo /
  /// hi: the QuantizeLinear type's range and the integer Clip after it),
  /// becomes a qcc::Threshold with one threshold per level and channel (at
  /// most 255: the unit's output has at most 8 bits). So the bias is never
  /// rounded onto the accumulator grid: the result is exact arithmetic's,
  /// and differs from qonnx's float32 evaluation only where v lies within
  /// float32 rounding noise of a rounding tie.
  Error thresholdUnit(Node &target, const QOut &qo, std::unique_ptr<Node> acc, int64_t axis, int64_t bound,
                      const std::vector<double> &mult, const std::vector<double> &bias) {
    const auto levels = thresholdLevels(qo);
    if (!levels)
      return nodeError(target, "no threshold levels for its output");
    const int64_t lo = levels->first, hi = levels->second;
    double vlo = -std::numeric_limits<double>::infinity(), vhi = std::numeric_limits<double>::infinity();
    if (qo.fused) {
      vlo = qo.fused->lo;
      vhi = qo.fused->hi;
    }
    if (qo.clip && qo.clip->op == "Relu")
      vlo = std::max(vlo, 0.0);
    if (qo.clip && qo.clip->op == "Clip") {
      vlo = std::max(vlo, double(qo.clip->getFloat("min", -std::numeric_limits<float>::infinity())));
      vhi = std::min(vhi, double(qo.clip->getFloat("max", std::numeric_limits<float>::infinity())));
    }
    const double ys = qo.scale->constant->toFloats()[0];
    const int64_t yz = qo.zp->constant->toInts()[0];
    acc->attrs["out_bits"] = int64_t(32);
    acc->attrs["out_signed"] = int64_t(1);
    acc->attrs["out_zero_point"] = int64_t(0);
    setRequants(*acc, {Requant::make(1.0, Rounding::Single)});
    Value *av = g_.addValue(g_.uniqueName(target.output(0)->name + "/accumulator"), TensorType{});
    acc->outputs = {av};
    if (auto e = OpRegistry::get().lookup(acc->domain, acc->op)->infer(*acc))
      return e;
    const int64_t rows = av->type.shape[size_t(axis)];
    if (rows != int64_t(mult.size()))
      return nodeError(target, "accumulator has {} channels, the unit {}", rows, mult.size());
    Tensor t = thresholdTable(rows, hi - lo, -bound, bound, [&](int64_t q, int64_t c) -> int64_t {
      double v = mult[size_t(c)] * double(q) + bias[size_t(c)];
      v = std::min(std::max(v, vlo), vhi);
      const double y = std::nearbyint(v / ys + double(yz));
      return int64_t(std::min(std::max(y, double(lo)), double(hi))) - lo;
    });
    auto th = std::make_unique<Node>();
    th->name = qo.q->name;
    th->domain = "qcc";
    th->op = "Threshold";
    th->attrs["axis"] = axis;
    th->attrs["out_base"] = lo;
    th->attrs["out_step"] = int64_t(1);
    th->attrs["out_bits"] = int64_t(qo.elem.bits());
    th->attrs["out_signed"] = int64_t(qo.elem.isSigned() ? 1 : 0);
    th->inputs = {av, g_.addConstant(g_.uniqueName(qo.q->name + "/thresholds"), std::move(t))};
    const TensorType want = qo.out->type;
    Value scratch;
    th->outputs = {&scratch};
    if (auto e = OpRegistry::get().lookup("qcc", "Threshold")->infer(*th))
      return e;
    if (scratch.type != want)
      return nodeError(target, "threshold output {} differs from {}", scratch.type.str(), want.str());
    th->outputs = {qo.out};
    g_.insertNodeBefore(&target, std::move(acc));
    g_.insertNodeBefore(&target, std::move(th));
    QuantInfo grid;
    grid.scale = {float(ys)};
    grid.zeroPoint = {yz};
    grid.bits = qo.elem.bits();
    grid.isSigned = qo.elem.isSigned();
    grid.rounding = Rounding::Onnx;
    qo.out->quant = grid;
    if (qo.qclip)
      g_.eraseNode(qo.qclip);
    g_.eraseNode(qo.q);
    if (qo.clip)
      g_.eraseNode(qo.clip);
    for (auto it = qo.affine.rbegin(); it != qo.affine.rend(); ++it)
      g_.eraseNode(*it);
    g_.eraseNode(&target);
    st_.units++;
    st_.lowered++;
    return Error::success();
  }

  Node *nextNode(const Node &n) const {
    for (size_t i = 0; i + 1 < g_.nodes().size(); ++i)
      if (g_.nodes()[i].get() == &n)
        return g_.nodes()[i + 1].get();
    return nullptr;
  }

  Error unitGemm(Node &n) {
    auto a = dequantized(n.input(0)), b = dequantized(n.input(1));
    if (!a || !b || !isActivation(*a) || !weightBits(b->elem))
      return Error::success();
    const bool transB = n.getInt("transB", 0) != 0;
    if (b->axis != -1 && b->axis != (transB ? 0 : 1)) // per output column only
      return Error::success();
    if (!typesPair(a->elem, b->elem, a->elem))
      return Error::success();
    // QONNX / QCDQ: a float bias without a grid (BN / Mul / Add may follow).
    if (Value *fb = n.input(2); opts_.qonnx && fb && fb->isConstant() && fb->type.elem.isFloat() && !fb->quant)
      return qonnxGemm(n, *a, *b);
    std::optional<QTensor> c;
    if (n.input(2)) {
      c = dequantized(n.input(2));
      if (!c || c->elem != ElemType::i32() || n.getFloat("beta", 1.f) != 1.f)
        return Error::success();
    }
    // ORT fuses Gemm also without a QuantizeLinear after it (float output).
    std::optional<QOut> qo = quantizedOutput(n, true);
    if ((qo && !typesPair(a->elem, b->elem, qo->elem)) || (!qo && feedsQuantize(n)))
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

  /// QONNX Gemm with a float bias and a quantized output: alpha, beta, the
  /// bias and per-column BN / Mul / Add after it fold as for a conv
  /// (foldChannels); a bias off the accumulator grid makes the output
  /// quantizer thresholds on the exact accumulator (thresholdUnit), else one
  /// QGemm with the rounded int32 bias. Anything else (transA, a float
  /// output) stays a float island.
  Error qonnxGemm(Node &n, const QTensor &a, const QTensor &b) {
    std::optional<QOut> qo = quantizedOutput(n, true, true);
    if (!qo || !typesPair(a.elem, b.elem, qo->elem) || n.getInt("transA", 0) != 0)
      return Error::success();
    if (!b.q->isConstant() || !b.scale->isConstant() || !b.zp->isConstant() || b.q->type.rank() != 2)
      return Error::success();
    const bool transB = n.getInt("transB", 0) != 0;
    const Tensor &bq = *b.q->constant, &bias = *n.input(2)->constant;
    const int64_t N = transB ? bq.shape()[0] : bq.shape()[1], K = transB ? bq.shape()[1] : bq.shape()[0];
    if (bias.size() != 1 && !(bias.size() == N && bias.shape().back() == N))
      return Error::success();
    Tensor wnk(bq.elem(), Shape{N, K});
    for (int64_t i = 0; i < N; ++i)
      for (int64_t k = 0; k < K; ++k)
        wnk.setDouble(i * K + k, bq.getDouble(transB ? i * K + k : k * N + i));
    auto f = foldChannels(n, a, b, std::move(wnk), &bias, n.getFloat("alpha", 1.f), n.getFloat("beta", 1.f), qo);
    if (!f)
      return f.takeError();
    if (!f->folds)
      return Error::success();
    if (f->offGrid && exactBias(*qo) && f->symmetric) {
      AccumulatorForm af = accumulatorForm(f->w, N, a.elem, a.zp->constant->toInts()[0]);
      if (af.bound < (int64_t(1) << 31) - 2) {
        auto qn = std::make_unique<Node>();
        qn->name = n.name;
        qn->domain = "qcc";
        qn->op = "QGemm";
        qn->inputs = {a.q, g_.addConstant(g_.uniqueName(n.name + "/weight_quantized"), std::move(f->w)),
                      g_.addConstant(g_.uniqueName(n.name + "/bias_quantized"), std::move(af.bias))};
        return thresholdUnit(n, *qo, std::move(qn), 1, af.bound, f->mult, f->realBias);
      }
    }
    if (f->overflow)
      return nodeError(n, "output column {}: bias {} on the accumulator grid ({} * {}) overflows int32",
                       f->overflow - 1, f->realBias[size_t(f->overflow - 1)], a.scale->constant->toFloats()[0],
                       f->scale.data<float>()[f->overflow - 1]);
    Value *wv = g_.addConstant(g_.uniqueName(n.name + "/weight_quantized"), std::move(f->w));
    Value *sv = g_.addConstant(g_.uniqueName(n.name + "/weight_scale"), std::move(f->scale));
    Value *zv = g_.addConstant(g_.uniqueName(n.name + "/weight_zero_point"), std::move(f->zp));
    Value *bv = g_.addConstant(g_.uniqueName(n.name + "/bias_quantized"), std::move(f->bias));
    std::map<std::string, Attribute> attrs;
    attrs["transB"] = int64_t(1);
    return replaceUnit(n, qo, "QGemm", "com.microsoft", {a.q, a.scale, a.zp, wv, sv, zv, bv, qo->scale, qo->zp},
                       attrs);
  }

  Error unitMatMul(Node &n) {
    auto a = dequantized(n.input(0)), b = dequantized(n.input(1));
    if (!a || !b || !isActivation(*a) || !weightBits(b->elem))
      return Error::success();
    if (b->axis != -1 && b->axis != b->q->type.rank() - 1)
      return Error::success();
    if (!typesPair(a->elem, b->elem, a->elem))
      return Error::success();
    auto qo = quantizedOutput(n, true);
    if (!qo || !typesPair(a->elem, b->elem, qo->elem))
      return Error::success();
    return replaceUnit(n, qo, "QLinearMatMul", "",
                       {a->q, a->scale, a->zp, b->q, b->scale, b->zp, qo->scale, qo->zp}, {});
  }

  Error unitBinary(Node &n) {
    auto a = dequantized(n.input(0)), b = dequantized(n.input(1));
    if (!a || !b || !isActivation(*a) || !isActivation(*b) || a->elem != b->elem)
      return Error::success();
    auto qo = quantizedOutput(n, true);
    // QONNX: the output grid's type is the model's (e.g. int4 + int4 -> Relu -> uint4).
    if (!qo || (qo->elem != a->elem && !opts_.qonnx))
      return Error::success();
    return replaceUnit(n, qo, n.op == "Add" ? "QLinearAdd" : "QLinearMul", "com.microsoft",
                       {a->q, a->scale, a->zp, b->q, b->scale, b->zp, qo->scale, qo->zp}, {});
  }

  Error unitUnary(Node &n) {
    auto x = dequantized(n.input(0));
    if (!x || !isActivation(*x))
      return Error::success();
    auto qo = quantizedOutput(n, n.op == "GlobalAveragePool");
    // QONNX: a lookup table may change the integer type (e.g. 8 -> 4 bits).
    const bool anyType = opts_.qonnx && n.op != "GlobalAveragePool";
    if (!qo || (qo->elem != x->elem && !anyType))
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

  /// QONNX: data movement after a DequantizeLinear runs on the integers and
  /// the DequantizeLinear moves after it (QONNX puts no Quant after
  /// Flatten, MaxPool, ... : the op keeps its input's grid). Then the op that
  /// consumes the result sees a DequantizeLinear and fuses.
  Error sinkDequantize(Node &n) {
    auto x = onlyDequantizedInput(n);
    size_t outs = 0;
    for (Value *o : n.outputs)
      outs += o ? 1 : 0;
    if (!x || outs != 1 || n.outputs.size() != 1)
      return Error::success();
    if (n.op == "Split" || n.op == "ReduceMax" || n.op == "ReduceMin")
      return Error::success();
    if (n.op == "MaxPool" && (g_.opsets.count("") ? g_.opsets.at("") : 0) < 12)
      return Error::success();
    if (n.op == "Resize" && n.getString("mode", "nearest") != "nearest")
      return Error::success();
    if (n.op == "MaxPool" && !(x->scale->constant->toFloats()[0] > 0))
      return Error::success();
    Value *y = n.output(0);
    TensorType want = y->type;
    want.elem = x->elem;
    if (!acceptsIntegers(n, x->q, {want}))
      return Error::success();
    Node *dqOld = n.input(0)->producer;
    std::optional<QuantInfo> grid = n.input(0)->quant;
    Value *qy = g_.addValue(g_.uniqueName(y->name + "/quantized"), want);
    n.inputs[0] = x->q;
    return dequantizeAfter(n, qy, dqOld->input(1), dqOld->input(2) ? dqOld->input(2) : x->zp, grid);
  }

  /// n now produces the integers qy; a DequantizeLinear (scale, zp) right
  /// after it gives n's former output value (the grid recorded on it).
  Error dequantizeAfter(Node &n, Value *qy, Value *scale, Value *zp, const std::optional<QuantInfo> &grid) {
    Value *y = n.output(0);
    n.outputs[0] = qy;
    qy->producer = &n;
    auto dq = std::make_unique<Node>();
    dq->name = n.name + "/DequantizeLinear";
    dq->op = "DequantizeLinear";
    dq->inputs = {qy, scale, zp};
    dq->outputs = {y};
    if (auto e = OpRegistry::get().lookup("", "DequantizeLinear")->infer(*dq))
      return e;
    y->quant = grid;
    g_.insertNodeBefore(nextNode(n), std::move(dq));
    st_.dropped++;
    return Error::success();
  }

  /// QONNX: Concat of DequantizeLinear outputs that share one grid runs on
  /// the integers (exact), with one DequantizeLinear after it.
  Error sinkConcat(Node &n) {
    if (n.outputs.size() != 1 || !n.output(0) || n.inputs.empty())
      return Error::success();
    std::vector<QTensor> xs;
    for (Value *v : n.inputs) {
      auto x = dequantized(v);
      if (!x || !x->fromNode || !isActivation(*x))
        return Error::success();
      if (!xs.empty() && (x->elem != xs[0].elem || !sameGrid(x->scale, x->zp, xs[0].scale, xs[0].zp)))
        return Error::success();
      xs.push_back(*x);
    }
    Value *y = n.output(0);
    Node probe = n;
    for (size_t i = 0; i < xs.size(); ++i)
      probe.inputs[i] = xs[i].q;
    Value scratch;
    probe.outputs = {&scratch};
    const OpDef *def = OpRegistry::get().lookup("", "Concat");
    if (!def)
      return Error::success();
    if (auto e = def->infer(probe)) {
      llvm::consumeError(std::move(e));
      return Error::success();
    }
    Node *dqOld = n.input(0)->producer;
    std::optional<QuantInfo> grid = n.input(0)->quant;
    Value *qy = g_.addValue(g_.uniqueName(y->name + "/quantized"), scratch.type);
    for (size_t i = 0; i < xs.size(); ++i)
      n.inputs[i] = xs[i].q;
    return dequantizeAfter(n, qy, dqOld->input(1), xs[0].zp, grid);
  }

  /// QONNX: DequantizeLinear -> QuantizeLinear [-> integer Clip] (a Quant of
  /// a Quant's output) becomes a lookup table computed exactly as the float
  /// pair computes it (float32 dequantize, then QuantizeLinear).
  Error requantizeUnit(Node &n) {
    auto x = dequantized(n.input(0));
    Value *s = n.input(1), *z = n.input(2), *y = n.output(0);
    if (!x || !x->fromNode || !isActivation(*x) || !isScalar(s) || !z || !isScalar(z) || !y || !y->type.elem.isInt() ||
        y->type.elem.bits() > 8 || n.has("axis"))
      return Error::success();
    const ElemType xe = x->elem, ye = y->type.elem;
    const float xs = x->scale->constant->toFloats()[0], ys = s->constant->toFloats()[0];
    const int32_t xz = int32_t(x->zp->constant->toInts()[0]), yz = int32_t(z->constant->toInts()[0]);
    std::vector<int64_t> table = ortLookupTable(xe, xs, xz, ye, ys, yz, [](float v) { return v; });
    Node *qclip = integerClipAfter(y);
    Value *out = y;
    if (qclip) {
      const int64_t lo = qclip->getInt("min", std::numeric_limits<int64_t>::min());
      const int64_t hi = qclip->getInt("max", std::numeric_limits<int64_t>::max());
      for (int64_t &v : table)
        v = std::min(std::max(v, lo), hi);
      out = qclip->output(0);
    }
    auto lut = std::make_unique<Node>();
    lut->name = n.name;
    lut->op = "Lut";
    lut->domain = "qcc";
    lut->attrs["table"] = std::move(table);
    lut->attrs["out_bits"] = int64_t(ye.bits());
    lut->attrs["out_signed"] = int64_t(ye.isSigned() ? 1 : 0);
    lut->inputs = {x->q};
    lut->outputs = {out};
    const OpDef *def = OpRegistry::get().lookup("qcc", "Lut");
    const TensorType want = out->type;
    if (auto e = def->infer(*lut))
      return e;
    if (out->type != want)
      return nodeError(*lut, "lookup table output {} differs from {}", out->type.str(), want.str());
    QuantInfo q;
    q.bits = ye.bits();
    q.isSigned = ye.isSigned();
    q.scale = {ys};
    q.zeroPoint = {yz};
    q.rounding = Rounding::Onnx;
    out->quant = q;
    g_.insertNodeBefore(&n, std::move(lut));
    if (qclip)
      g_.eraseNode(qclip);
    g_.eraseNode(&n);
    st_.units++;
    return Error::success();
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
    // QONNX: a float result kept as an int32 accumulator (qonnxConv) may
    // still be transposed or reshaped on the integers.
    static const std::set<std::string> anyWidth = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                                   "DepthToSpace"};
    const bool wide = x && opts_.qonnx && anyWidth.count(n.op) && x->elem == ElemType::i32() &&
                      isScalar(x->scale) && isScalar(x->zp);
    if (!x || !x->fromNode || (!isActivation(*x) && !wide))
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
    if (x->elem.bits() > 8 && (n.op == "MaxPool" || n.op == "Resize" || n.op == "ReduceMax" || n.op == "ReduceMin"))
      return Error::success();
    if (n.op == "MaxPool" && (g_.opsets.count("") ? g_.opsets.at("") : 0) < 12)
      return Error::success();
    if (n.op == "Resize" && n.getString("mode", "nearest") != "nearest")
      return Error::success(); // qcc's integer Resize is exact for nearest only
    auto qo = quantizedOutput(n, false);
    if (!qo || qo->qclip || qo->elem != x->elem || !sameGrid(x->scale, x->zp, qo->scale, qo->zp))
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
  QdqImportOptions opts_;
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

Error lowerQdq(Graph &g, QdqImportStats *stats, const QdqImportOptions &opts) {
  QdqImportStats local;
  QdqImporter imp(g, stats ? *stats : local, opts);
  if (auto e = imp.run())
    return withContext(std::move(e), "importing the pre-quantized model");
  return Error::success();
}

} // namespace qcc
