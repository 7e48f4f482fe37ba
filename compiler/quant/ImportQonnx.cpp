#include "quant/ImportQonnx.h"

#include "ops/OpRegistry.h"
#include "support/Error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>

namespace qcc {

namespace {

using llvm::Error;

bool qonnxDomain(const std::string &d) {
  return d == "onnx.brevitas" || d == "qonnx.custom_op.general" || d == "finn.custom_op.general";
}

/// A Quant node's parameters in the form QuantizeLinear takes, or why not.
struct QdqForm {
  std::vector<float> scale;
  int64_t zp = 0;
  int64_t axis = -1; ///< per-channel axis of x, -1 per tensor
  int64_t bits = 8, lo = 0, hi = 255;
  bool isSigned = true, narrow = true;
  std::string why; ///< non-empty: not lowerable
};

QdqForm analyzeQuant(const Node &n) {
  QdqForm f;
  Value *x = n.input(0), *s = n.input(1), *z = n.input(2), *b = n.input(3);
  if (!x || !s || !z || !b || !n.output(0))
    return f.why = "missing inputs", f;
  if (!s->isConstant() || !z->isConstant() || !b->isConstant())
    return f.why = "scale, zero point and bit width must be constants", f;
  if (!x->type.elem.isFloat())
    return f.why = "input is not float", f;
  const double bits = b->constant->size() == 1 ? b->constant->getDouble(0) : -1;
  f.isSigned = n.getInt("signed", 1) != 0;
  f.narrow = n.getInt("narrow", 1) != 0;
  if (!(bits >= 2 && bits <= 8 && bits == std::floor(bits)))
    return f.why = fmt::format("bit width {} (integer lowering supports 2 to 8 bits)", bits), f;
  f.bits = int64_t(bits);
  std::string mode = n.getString("rounding_mode", "ROUND");
  for (char &c : mode)
    c = char(std::toupper(static_cast<unsigned char>(c)));
  if (mode != "ROUND" && mode != "HALF_EVEN")
    return f.why = fmt::format("rounding_mode {} (integer lowering supports ROUND / HALF_EVEN)", mode), f;
  // qonnx's min_int / max_int.
  f.lo = f.isSigned ? -(int64_t(1) << (f.bits - 1)) + (f.narrow ? 1 : 0) : 0;
  f.hi = f.isSigned ? (int64_t(1) << (f.bits - 1)) - 1 : (int64_t(1) << f.bits) - (f.narrow ? 2 : 1);
  // Zero point: one integer value (all entries equal), inside the range.
  const Tensor &zt = *z->constant;
  for (int64_t i = 0; i < zt.size(); ++i) {
    const double v = zt.getDouble(i);
    if (v != std::floor(v) || v != zt.getDouble(0))
      return f.why = "zero point is not one integer value", f;
  }
  f.zp = int64_t(zt.getDouble(0));
  if (f.zp < f.lo || f.zp > f.hi)
    return f.why = fmt::format("zero point {} outside the range [{}, {}]", f.zp, f.lo, f.hi), f;
  // Scale: per tensor, or varying along exactly one axis of x.
  const Tensor &st = *s->constant;
  if (st.elem() != ElemType::f32())
    return f.why = "scale is not float32", f;
  const Shape &xs = x->type.shape, &ss = st.shape();
  if (ss.size() > xs.size())
    return f.why = "scale has a higher rank than the input", f;
  const size_t off = xs.size() - ss.size();
  for (size_t d = 0; d < ss.size(); ++d)
    if (ss[d] != 1) {
      if (f.axis >= 0 || ss[d] != xs[off + d])
        return f.why = "scale varies along more than one axis", f;
      f.axis = int64_t(off + d);
    }
  f.scale = st.toFloats();
  for (float v : f.scale)
    if (!(v > 0) || !std::isfinite(v))
      return f.why = "scale is not positive and finite", f;
  return f;
}

class QonnxLowerer {
public:
  QonnxLowerer(Graph &g, QonnxImportStats &st) : g_(g), st_(st) {}

  Error run() {
    std::vector<Node *> work;
    for (const auto &n : g_.nodes())
      if (isQonnxNode(*n))
        work.push_back(n.get());
    for (Node *n : work) {
      if (n->op != "Quant") {
        st_.unlowered.push_back(n->describe() + ": " + n->op + " is not lowered to integers yet");
        continue;
      }
      QdqForm f = analyzeQuant(*n);
      if (!f.why.empty()) {
        st_.unlowered.push_back(n->describe() + ": " + f.why);
        continue;
      }
      if (auto e = rewrite(*n, f))
        return e;
      st_.quant++;
    }
    return Error::success();
  }

private:
  bool isGraphInput(const Value *v) const {
    return std::find(g_.inputs.begin(), g_.inputs.end(), v) != g_.inputs.end();
  }

  Error infer(Node &n) {
    const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
    if (!def)
      return nodeError(n, "op is not registered");
    return def->infer(n);
  }

  Error rewrite(Node &n, QdqForm f) {
    if (n.getInt(kReluFolded, 0) != 0) // foldInputRelu: max(Q(x), Q(0))
      f.lo = std::max(f.lo, f.zp);
    Value *x = n.input(0), *y = n.output(0);
    // Sub-8-bit inputs: 8-bit storage (the float entry saturates to storage) + Clip.
    const unsigned storageBits = isGraphInput(x) ? 8u : unsigned(f.bits);
    const ElemType e = ElemType::intN(storageBits, f.isSigned);
    QuantInfo typeRange;
    typeRange.bits = storageBits;
    typeRange.isSigned = f.isSigned;
    const bool clip = f.lo > typeRange.qmin() || f.hi < typeRange.qmax();

    const Shape pshape = f.axis >= 0 ? Shape{int64_t(f.scale.size())} : Shape{};
    Tensor st(ElemType::f32(), pshape), zt(e, pshape);
    for (size_t c = 0; c < f.scale.size(); ++c) {
      st.data<float>()[c] = f.scale[c];
      zt.setDouble(int64_t(c), double(f.zp));
    }
    Value *s = g_.addConstant(g_.uniqueName(n.name + "/scale"), std::move(st));
    Value *z = g_.addConstant(g_.uniqueName(n.name + "/zero_point"), std::move(zt));

    auto q = std::make_unique<Node>();
    q->name = n.name + "/QuantizeLinear";
    q->op = "QuantizeLinear";
    q->inputs = {x, s, z};
    q->attrs[kFromQonnxQuant] = int64_t(1);
    if (f.axis >= 0)
      q->attrs["axis"] = f.axis;
    Value *qv = g_.addValue(g_.uniqueName(y->name + "/quantized"), TensorType{});
    q->outputs = {qv};
    if (auto err = infer(*q))
      return withContext(std::move(err), n.describe());
    g_.insertNodeBefore(&n, std::move(q));
    if (clip) {
      auto c = std::make_unique<Node>();
      c->name = n.name + "/Clip";
      c->op = "Clip";
      c->inputs = {qv};
      c->attrs["min"] = f.lo;
      c->attrs["max"] = f.hi;
      qv = g_.addValue(g_.uniqueName(y->name + "/clipped"), TensorType{});
      c->outputs = {qv};
      if (auto err = infer(*c))
        return withContext(std::move(err), n.describe());
      g_.insertNodeBefore(&n, std::move(c));
    }
    auto dq = std::make_unique<Node>();
    dq->name = n.name;
    dq->op = "DequantizeLinear";
    dq->inputs = {qv, s, z};
    if (f.axis >= 0)
      dq->attrs["axis"] = f.axis;
    const TensorType yType = y->type;
    dq->outputs = {y};
    if (auto err = infer(*dq))
      return withContext(std::move(err), dq->describe());
    if (y->type != yType)
      return nodeError(*dq, "rewritten Quant changes the output type {} to {}", yType.str(), y->type.str());
    g_.insertNodeBefore(&n, std::move(dq)); // takes over y
    g_.eraseNode(&n);
    QuantInfo qi;
    qi.scale = f.scale;
    qi.zeroPoint.assign(f.scale.size(), f.zp);
    qi.axis = f.axis;
    qi.bits = unsigned(f.bits);
    qi.isSigned = f.isSigned;
    qi.narrow = f.narrow; // QuantInfo narrow: qonnx's min_int / max_int for both signs
    qi.rounding = Rounding::Onnx;
    y->quant = qi;
    return Error::success();
  }

  Graph &g_;
  QonnxImportStats &st_;

};

} // namespace

bool isQonnxNode(const Node &n) { return qonnxDomain(n.domain); }

int foldInputRelu(Graph &g) {
  int folded = 0;
  std::vector<Node *> work;
  for (const auto &n : g.nodes())
    if (isQonnxNode(*n) && n->op == "Quant")
      work.push_back(n.get());
  for (Node *q : work) {
    Value *x = q->input(0);
    Node *p = x ? x->producer : nullptr;
    if (!p || !p->domain.empty() || p->op != "Relu" || !p->input(0) || p->has("act_min") ||
        std::find(g.inputs.begin(), g.inputs.end(), p->input(0)) == g.inputs.end() || g.users(x).size() != 1 ||
        std::find(g.outputs.begin(), g.outputs.end(), x) != g.outputs.end())
      continue;
    if (!analyzeQuant(*q).why.empty()) // only Quants lowerQonnx rewrites (other lowerings ignore the mark)
      continue;
    q->inputs[0] = p->input(0);
    q->attrs[kReluFolded] = int64_t(1);
    g.eraseNode(p);
    folded++;
  }
  return folded;
}

bool hasQonnxOps(const Graph &g) {
  for (const auto &n : g.nodes())
    if (isQonnxNode(*n))
      return true;
  return false;
}

Error lowerQonnx(Graph &g, QonnxImportStats *stats) {
  QonnxImportStats local;
  QonnxLowerer l(g, stats ? *stats : local);
  return l.run();
}

Error checkQonnxLowered(const Graph &g, const QonnxImportStats *stats) {
  for (const auto &n : g.nodes()) {
    if (!isQonnxNode(*n))
      continue;
    std::string why = n->op + " is not lowered to integers yet";
    if (stats)
      for (const std::string &s : stats->unlowered)
        if (s.rfind(n->describe(), 0) == 0)
          why = s.substr(n->describe().size() + 2);
    return nodeError(*n, "QONNX {} is not lowered to integers yet ({}); qcc compiles integer graphs only", n->op,
                     why);
  }
  return Error::success();
}

} // namespace qcc
