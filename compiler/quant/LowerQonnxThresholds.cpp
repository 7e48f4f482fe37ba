#include "quant/LowerQonnxThresholds.h"

#include "ops/OpRegistry.h"
#include "ops/QonnxRounding.h"
#include "quant/RequantAttrs.h"
#include "quant/ThresholdSearch.h"
#include "support/Error.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

namespace qcc {

namespace {

using llvm::Error;
Error ok() { return Error::success(); }

bool isOnnx(const Node *n, const char *op) { return n && n->domain.empty() && n->op == op; }

// ---- QONNX float semantics (ops/QonnxOps.cpp, qonnx's intquant.py) ----------------

int64_t minInt(bool isSigned, bool narrow, int64_t bits) {
  return isSigned ? -(int64_t(1) << (bits - 1)) + (narrow ? 1 : 0) : 0;
}
int64_t maxInt(bool isSigned, bool narrow, int64_t bits) {
  return isSigned ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - (narrow ? 2 : 1);
}

/// Smallest integer type (2..16 bits) holding [lo, hi].
ElemType typeFor(int64_t lo, int64_t hi) {
  const bool sgn = lo < 0;
  for (unsigned b = 2; b <= 16; ++b) {
    QuantInfo q;
    q.bits = b;
    q.isSigned = sgn;
    if (q.qmin() <= lo && hi <= q.qmax())
      return ElemType::intN(b, sgn);
  }
  return ElemType::i32();
}

/// What one QONNX quantizer computes, as a count of steps passed:
/// output integer y = base + step * count(v), count in [0, steps], on the
/// grid (sigma, zp): the quantizer's float output is float(y - zp) * sigma.
struct Spec {
  enum Kind { Bipolar, Quant, Multi } kind = Bipolar;
  float scale = 1.f, zp = 0.f; ///< Quant / BipolarQuant
  int64_t lo = 0, hi = 0;      ///< Quant range (qonnx's min_int / max_int)
  bool oneBit = false;         ///< 1-bit signed Quant: sign of v / s + z
  QonnxRounding mode = QonnxRounding::HalfEven;
  std::vector<double> thr;     ///< MultiThreshold [rows, steps]
  int64_t thrRows = 1, mtAxis = -1;
  int64_t steps = 1, base = 0, step = 1, outZp = 0;
  float sigma = 1.f;
  ElemType elem = ElemType::intN(2, true);
  bool f64 = false;            ///< qonnx computes in float64 (a float64 parameter)

  /// count(v) in T, exactly as qonnx's numpy code (T = float for float32 models).
  template <typename T> int64_t count(T v, int64_t row) const {
    if (kind == Bipolar)
      return v >= T(0) ? 1 : 0;
    if (kind == Multi) {
      const double *r = thr.data() + (thrRows == 1 ? 0 : row) * steps;
      int64_t c = 0;
      for (int64_t k = 0; k < steps; ++k)
        c += double(v) >= r[k] ? 1 : 0;
      return c;
    }
    T y = v / T(scale);
    y = y + T(zp);
    if (oneBit)
      return y >= T(0) ? 1 : 0;
    if (double(y) > double(hi))
      y = T(hi);
    if (double(y) < double(lo))
      y = T(lo);
    y = qonnxRound(mode, y);
    return int64_t(y) - lo;
  }
};

/// One constant float parameter per tensor (all entries equal), or why not.
std::optional<double> oneValue(const Value *v) {
  if (!v || !v->isConstant() || v->constant->size() < 1)
    return std::nullopt;
  const double x = v->constant->getDouble(0);
  for (int64_t i = 1; i < v->constant->size(); ++i)
    if (v->constant->getDouble(i) != x)
      return std::nullopt;
  return x;
}

int64_t mtChannelAxis(const Node &n, int64_t rank) {
  const std::string layout = n.getString("data_layout", "");
  if (layout.empty())
    return rank == 3 ? 2 : 1; // qonnx guesses NWC for rank 3
  auto c = layout.find('C');
  return c == std::string::npos ? 1 : int64_t(c);
}

/// The integer form of a QONNX quantizer node (op `op`: BipolarQuant,
/// MultiThreshold or Quant), or a reason it has none. Quant of 2..8 bits
/// with ROUND / HALF_EVEN is not taken (quant/ImportQonnx.h lowers it).
struct Analysis {
  std::optional<Spec> spec;
  std::string why;  ///< non-empty: this quantizer is ours but cannot be lowered
  bool ours = true; ///< false: left to lowerQonnx
};

Analysis analyze(const Node &n, const std::string &op) {
  Analysis a;
  Spec s;
  Value *x = n.input(0);
  if (!x || !x->type.elem.isFloat() || !n.output(0))
    return a.why = "input is not a float tensor", a;
  auto isF64 = [&](size_t i) { return n.input(i) && n.input(i)->type.elem == ElemType::f64(); };
  if (op == "BipolarQuant") {
    auto sc = oneValue(n.input(1));
    if (!sc || !(*sc > 0) || !std::isfinite(*sc))
      return a.why = "BipolarQuant needs one positive constant scale per tensor on activations", a;
    s.kind = Spec::Bipolar;
    s.scale = float(*sc);
    s.f64 = isF64(0) || isF64(1);
    s.steps = 1, s.base = -1, s.step = 2, s.sigma = s.scale, s.outZp = 0;
    s.elem = ElemType::intN(2, true);
  } else if (op == "Quant") {
    auto sc = oneValue(n.input(1)), z = oneValue(n.input(2)), b = oneValue(n.input(3));
    if (!b || *b != std::floor(*b) || *b < 1 || *b > 16)
      return a.why = "bit width must be one constant integer", a;
    const int64_t bits = int64_t(*b);
    // ROUND / HALF_EVEN of 2..8 bits and unknown modes: lowerQonnx's (it names an unknown mode).
    const std::optional<QonnxRounding> mode = parseQonnxRounding(n.getString("rounding_mode", "ROUND"));
    if (bits >= 2 && (!mode || *mode == QonnxRounding::HalfEven))
      return a.ours = false, a;
    const QonnxRounding m = mode ? *mode : QonnxRounding::HalfEven;
    if (bits > 8)
      return a.why = fmt::format("{} bits with rounding_mode {} (threshold lowering supports up to 8 bits)", bits,
                                 n.getString("rounding_mode", "ROUND")),
             a;
    if (!sc || !(*sc > 0) || !std::isfinite(*sc))
      return a.why = "threshold lowering needs one positive constant scale per tensor", a;
    if (!z || *z != std::floor(*z))
      return a.why = "zero point is not one integer value", a;
    s.kind = Spec::Quant;
    s.scale = float(*sc);
    s.zp = float(*z);
    s.mode = m;
    s.f64 = isF64(0) || isF64(1) || isF64(2);
    const bool sgn = n.getInt("signed", 1) != 0, narrow = n.getInt("narrow", 1) != 0;
    const int64_t z0 = int64_t(*z);
    s.sigma = s.scale;
    s.outZp = z0;
    if (bits == 1 && sgn) { // qonnx: y = (x / s + z >= 0) ? 1 : -1
      s.oneBit = true;
      s.steps = 1, s.base = -1, s.step = 2;
      s.elem = typeFor(std::min<int64_t>(-1, z0), std::max<int64_t>(1, z0));
    } else {
      s.lo = minInt(sgn, narrow, bits);
      s.hi = maxInt(sgn, narrow, bits);
      if (s.hi < s.lo)
        return a.why = "empty integer range", a;
      if (z0 < s.lo || z0 > s.hi)
        return a.why = fmt::format("zero point {} outside the range [{}, {}]", z0, s.lo, s.hi), a;
      s.steps = s.hi - s.lo, s.base = s.lo, s.step = 1;
      s.elem = ElemType::intN(unsigned(std::max<int64_t>(bits, 2)), sgn);
      if (s.steps == 0)
        return a.why = "a one-level quantizer (constant output)", a;
    }
  } else if (op == "MultiThreshold") {
    Value *t = n.input(1);
    if (!t || !t->isConstant() || t->type.rank() != 2)
      return a.why = "thresholds must be a constant [channels or 1, steps]", a;
    s.kind = Spec::Multi;
    s.thrRows = t->type.shape[0];
    s.steps = t->type.shape[1];
    if (s.steps < 1)
      return a.why = "no thresholds", a;
    s.thr.resize(size_t(t->constant->size()));
    for (size_t i = 0; i < s.thr.size(); ++i) {
      s.thr[i] = t->constant->getDouble(int64_t(i));
      if (std::isnan(s.thr[i]))
        return a.why = "a threshold is NaN", a;
    }
    s.mtAxis = s.thrRows == 1 ? -1 : mtChannelAxis(n, x->type.rank());
    s.f64 = isF64(0);
    // Output grid: out_scale * count + out_bias in float32 must equal
    // float(y - 0) * sigma with y = base + step * count, for every count.
    const float os = n.getFloat("out_scale", 1.f), ob = n.getFloat("out_bias", 0.f);
    struct Cand { float sigma; double step, base; };
    std::vector<Cand> cands;
    if (os != 0 && std::isfinite(os))
      cands.push_back({std::fabs(os), os > 0 ? 1.0 : -1.0, double(ob) / std::fabs(double(os))});
    cands.push_back({1.f, double(os), double(ob)});
    bool found = false;
    for (const Cand &c : cands) {
      if (c.step != std::floor(c.step) || c.base != std::floor(c.base) || std::fabs(c.base) > 1e6 ||
          std::fabs(c.step) > 1e6 || !(c.sigma > 0))
        continue;
      bool exact = true;
      for (int64_t k = 0; k <= s.steps && exact; ++k) {
        const float want = s.f64 ? float(double(os) * double(k) + double(ob)) : float(os * float(k)) + ob;
        const float got = float(int64_t(c.base) + int64_t(c.step) * k) * c.sigma;
        exact = want == got;
      }
      if (!exact)
        continue;
      s.sigma = c.sigma, s.step = int64_t(c.step), s.base = int64_t(c.base), s.outZp = 0;
      found = true;
      break;
    }
    if (!found)
      return a.why = fmt::format("out_scale {} / out_bias {} give no integer grid", os, ob), a;
    const int64_t l0 = s.base, l1 = s.base + s.step * s.steps;
    s.elem = typeFor(std::min(l0, l1), std::max(l0, l1));
  } else {
    return a.ours = false, a;
  }
  if (s.elem.bits() > 16)
    return a.why = "output levels do not fit 16 bits", a;
  a.spec = s;
  return a;
}

Error inferNode(Node &n) {
  const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
  if (!def)
    return nodeError(n, "op is not registered");
  return def->infer(n);
}

Value *constantOf(Graph &g, const std::string &base, Tensor t) { return g.addConstant(g.uniqueName(base), std::move(t)); }

Tensor scalarTensor(ElemType e, double v) {
  Tensor t(e, Shape{});
  t.setDouble(0, v);
  return t;
}

} // namespace

// ---- prepare --------------------------------------------------------------------------

void markBipolarWeights(Graph &g) {
  for (const auto &np : g.nodes()) {
    const Node &n = *np;
    if (!n.domain.empty() || (n.op != "Conv" && n.op != "Gemm" && n.op != "MatMul"))
      continue;
    Value *w = n.input(1);
    if (!w || !w->isConstant() || w->quant || w->constant->elem() != ElemType::f32() || w->type.rank() < 2)
      continue;
    int64_t axis = 0; // output channels
    if (n.op == "MatMul" || (n.op == "Gemm" && n.getInt("transB", 0) == 0))
      axis = w->type.rank() - 1;
    const Shape &sh = w->type.shape;
    const int64_t channels = sh[size_t(axis)];
    int64_t inner = 1;
    for (size_t d = size_t(axis) + 1; d < sh.size(); ++d)
      inner *= sh[d];
    const float *p = w->constant->data<float>();
    std::vector<float> s(size_t(channels), -1.f);
    bool bipolar = true;
    for (int64_t i = 0; i < w->constant->size() && bipolar; ++i) {
      const size_t c = size_t((i / inner) % channels);
      const float a = std::fabs(p[i]);
      if (s[c] < 0)
        s[c] = a;
      bipolar = a == s[c] && a > 0 && std::isfinite(a);
    }
    if (!bipolar)
      continue;
    QuantInfo q;
    const bool perTensor = std::all_of(s.begin(), s.end(), [&](float v) { return v == s[0]; });
    q.scale = perTensor ? std::vector<float>{s[0]} : s;
    q.zeroPoint.assign(q.scale.size(), 0);
    q.axis = perTensor ? -1 : axis;
    q.bits = 2;
    q.isSigned = true;
    q.narrow = true;
    q.rounding = Rounding::Onnx;
    w->quant = q;
  }
}

llvm::Error prepareQonnxThresholds(Graph &g, QonnxImportStats &) {
  markBipolarWeights(g);
  std::vector<Node *> work;
  for (const auto &n : g.nodes())
    if (isQonnxNode(*n) && (n->op == "BipolarQuant" || n->op == "MultiThreshold" || n->op == "Quant"))
      work.push_back(n.get());
  for (Node *n : work) {
    if (n->input(0) && n->input(0)->isConstant())
      continue; // folded at import
    Analysis a = analyze(*n, n->op);
    if (!a.ours)
      continue;
    if (!a.spec) // nothing else lowers these: the specific reason now
      return nodeError(*n, "QONNX {} is not lowered to integers yet ({}); qcc compiles integer graphs only", n->op,
                       a.why);
    const Spec &s = *a.spec;
    Value *y = n->output(0);
    // PendingThreshold (float -> integers) + DequantizeLinear onto the
    // quantizer's grid: consumers fuse with the DequantizeLinear as with a
    // lowered Quant; finishQonnxThresholds gives the pending node an integer input.
    auto p = std::make_unique<Node>(*n);
    p->name = n->name + "/threshold";
    p->domain = "qcc";
    p->op = "PendingThreshold";
    p->attrs["qonnx_op"] = n->op;
    p->attrs["out_bits"] = int64_t(s.elem.bits());
    p->attrs["out_signed"] = int64_t(s.elem.isSigned() ? 1 : 0);
    Value *qv = g.addValue(g.uniqueName(y->name + "/levels"), TensorType{});
    p->outputs = {qv};
    if (auto e = inferNode(*p))
      return e;
    g.insertNodeBefore(n, std::move(p));
    Value *sc = constantOf(g, n->name + "/scale", scalarTensor(ElemType::f32(), double(s.sigma)));
    Value *zp = constantOf(g, n->name + "/zero_point", scalarTensor(s.elem, double(s.outZp)));
    auto dq = std::make_unique<Node>();
    dq->name = n->name;
    dq->op = "DequantizeLinear";
    dq->inputs = {qv, sc, zp};
    const TensorType yType = y->type;
    dq->outputs = {y};
    if (auto e = inferNode(*dq))
      return e;
    if (y->type != yType)
      return nodeError(*dq, "rewritten {} changes the output type {} to {}", n->op, yType.str(), y->type.str());
    g.insertNodeBefore(n, std::move(dq));
    g.eraseNode(n);
    QuantInfo qi;
    qi.scale = {s.sigma};
    qi.zeroPoint = {s.outZp};
    qi.bits = s.elem.bits();
    qi.isSigned = s.elem.isSigned();
    qi.rounding = Rounding::Onnx;
    y->quant = qi;
  }
  return llvm::Error::success();
}

namespace {

// ---- finish ---------------------------------------------------------------------------

/// Where a pending node's float input comes from, as integers: real(q, ch)
/// gives the count for integer q of input channel ch.
struct Source {
  Value *q = nullptr;
  int64_t lo = 0, hi = 0;  ///< integer domain searched
  int64_t axis = -1;       ///< axis of q selecting `ch`; -1: one
  int64_t channels = 1;
  std::function<int64_t(int64_t q, int64_t ch, int64_t row, const Spec &)> count;
};

/// Integers of a constant weight with a recorded grid (zero point 0), or none.
struct IntWeights {
  Tensor q;
  std::vector<float> scale;
  int64_t axis = -1;
};

std::optional<IntWeights> weightInts(const Value &w) {
  if (!w.isConstant() || !w.quant || w.constant->elem() != ElemType::f32())
    return std::nullopt;
  const QuantInfo &qi = *w.quant;
  const Tensor &f = *w.constant;
  int64_t inner = 1, channels = 1;
  if (qi.axis >= 0) {
    if (qi.axis >= f.rank())
      return std::nullopt;
    channels = f.shape()[size_t(qi.axis)];
    for (int64_t d = qi.axis + 1; d < f.rank(); ++d)
      inner *= f.shape()[size_t(d)];
  }
  if (int64_t(qi.scale.size()) != channels || qi.bits > 8)
    return std::nullopt;
  for (int64_t z : qi.zeroPoint)
    if (z != 0)
      return std::nullopt;
  IntWeights r;
  r.q = Tensor(ElemType::intN(std::max(2u, qi.bits), true), f.shape());
  for (int64_t i = 0; i < f.size(); ++i) {
    const float s = qi.scale[size_t((i / inner) % channels)];
    const double v = std::nearbyint(double(f.data<float>()[i]) / double(s));
    if (v < -128 || v > 127 || float(int64_t(v)) * s != f.data<float>()[i])
      return std::nullopt;
    r.q.setDouble(i, v);
  }
  r.scale = qi.scale;
  r.axis = qi.axis;
  return r;
}

class Finisher {
public:
  explicit Finisher(Graph &g) : g_(g) {}

  Error lower(Node &p) {
    auto a = analyze(p, p.getString("qonnx_op", ""));
    if (!a.spec)
      return nodeError(p, "QONNX {} is not lowered to integers ({})", p.getString("qonnx_op", "?"), a.why);
    const Spec &s = *a.spec;
    Value *v = p.input(0);
    bool relu = false;
    if (v->producer && isOnnx(v->producer, "Relu") && g_.users(v).size() == 1 && !isGraphOutput(v)) {
      relu = true;
      v = v->producer->input(0);
    }
    auto src = source(p, v, relu, s);
    if (!src)
      return src.takeError();
    // One axis selects both the input's channel and the threshold row.
    int64_t axis = src->axis;
    if (s.mtAxis >= 0) {
      if (axis >= 0 && axis != s.mtAxis)
        return nodeError(p, "per-channel thresholds on axis {} and a per-channel input grid on axis {}", s.mtAxis,
                         axis);
      axis = s.mtAxis;
    }
    const int64_t rows = axis >= 0 ? src->q->type.shape[size_t(axis)] : 1;
    Tensor t = thresholdTable(rows, s.steps, src->lo, src->hi, [&](int64_t q, int64_t r) {
      return src->count(q, src->axis >= 0 ? r : 0, s.mtAxis >= 0 ? r : 0, s);
    });
    if (t.shape()[0] == 1)
      axis = -1;
    auto th = std::make_unique<Node>();
    th->name = p.name;
    th->domain = "qcc";
    th->op = "Threshold";
    th->inputs = {src->q, constantOf(g_, p.name + "/thresholds", std::move(t))};
    th->attrs["axis"] = axis >= 0 ? axis : int64_t(1);
    th->attrs["out_base"] = s.base;
    th->attrs["out_step"] = s.step;
    th->attrs["out_bits"] = int64_t(s.elem.bits());
    th->attrs["out_signed"] = int64_t(s.elem.isSigned() ? 1 : 0);
    Value *y = p.output(0);
    const TensorType yType = y->type;
    th->outputs = {y};
    if (auto e = inferNode(*th))
      return e;
    if (y->type != yType)
      return nodeError(*th, "threshold output {} differs from {}", y->type.str(), yType.str());
    g_.insertNodeBefore(&p, std::move(th));
    g_.eraseNode(&p);
    return ok();
  }

private:
  bool isGraphInput(const Value *v) const { return std::find(g_.inputs.begin(), g_.inputs.end(), v) != g_.inputs.end(); }
  bool isGraphOutput(const Value *v) const {
    return std::find(g_.outputs.begin(), g_.outputs.end(), v) != g_.outputs.end();
  }

  llvm::Expected<Source> source(Node &p, Value *v, bool relu, const Spec &s) {
    if (isGraphInput(v))
      return fromGraphInput(p, v, relu, s);
    Node *d = v->producer;
    if (isOnnx(d, "DequantizeLinear"))
      return fromDequantize(p, *d, relu, s);
    if (isOnnx(d, "Conv") || isOnnx(d, "Gemm") || isOnnx(d, "MatMul"))
      return fromAccumulator(p, *d, relu, s);
    if (isOnnx(d, "Add"))
      return fromAdd(p, *d, relu, s);
    return nodeError(p, "QONNX {} reads '{}' ({}), which is not lowered to integers: threshold lowering takes a "
                        "graph input, a quantized tensor, a Conv / Gemm / MatMul of quantized inputs or an Add of two",
                     p.getString("qonnx_op", "?"), v->name, d ? d->describe() : "no producer");
  }

  /// A graph input: QuantizeLinear onto a grid fine enough to resolve every
  /// threshold (FLT_MIN into int8 when all sit at 0, as for BipolarQuant:
  /// exact but for negative denormals; else a power of two 2^-30 of the
  /// largest threshold, into int32: values within half a grid step of a
  /// threshold may fall on its other side).
  llvm::Expected<Source> fromGraphInput(Node &p, Value *x, bool relu, const Spec &s) {
    double reach = 0;
    if (s.kind == Spec::Quant && !s.oneBit)
      reach = (double(std::max(std::abs(s.lo - int64_t(s.zp)), std::abs(s.hi - int64_t(s.zp)))) + 1.0) * s.scale;
    else if (s.kind == Spec::Quant)
      reach = std::fabs(double(s.zp)) * s.scale;
    else if (s.kind == Spec::Multi)
      for (double t : s.thr)
        reach = std::max(reach, std::fabs(t));
    float grid = FLT_MIN;
    ElemType e = ElemType::intN(8, true);
    if (reach > 0) {
      grid = float(std::ldexp(1.0, int(std::ceil(std::log2(reach))) - 30));
      e = ElemType::i32();
    }
    auto q = std::make_unique<Node>();
    q->name = p.name + "/QuantizeLinear";
    q->op = "QuantizeLinear";
    q->inputs = {x, constantOf(g_, p.name + "/input_scale", scalarTensor(ElemType::f32(), grid)),
                 constantOf(g_, p.name + "/input_zero_point", scalarTensor(e, 0))};
    Value *qv = g_.addValue(g_.uniqueName(x->name + "/quantized"), TensorType{});
    q->outputs = {qv};
    if (auto err = inferNode(*q))
      return std::move(err);
    g_.insertNodeBefore(&p, std::move(q));
    Source src;
    src.q = qv;
    QuantInfo r;
    r.bits = e.bits();
    r.isSigned = true;
    src.lo = r.qmin();
    src.hi = r.qmax();
    const bool f64 = s.f64;
    src.count = [grid, relu, f64](int64_t q, int64_t, int64_t row, const Spec &sp) {
      double v = double(q) * double(grid);
      if (relu)
        v = std::max(v, 0.0);
      return f64 ? sp.count<double>(v, row) : sp.count<float>(float(v), row);
    };
    return src;
  }

  /// A quantized tensor: the float value is DequantizeLinear's float32
  /// float(q - z) * s, the value qonnx's Quant produced; the count is
  /// qonnx's arithmetic on it (bit-identical).
  llvm::Expected<Source> fromDequantize(Node &p, Node &d, bool relu, const Spec &s) {
    Value *q = d.input(0), *sv = d.input(1), *zv = d.input(2);
    if (!q || !q->type.elem.isInt() || !sv || !sv->isConstant() || (zv && !zv->isConstant()))
      return nodeError(p, "the DequantizeLinear before it has no constant grid");
    Source src;
    src.q = q;
    QuantInfo r;
    r.bits = q->type.elem.bits();
    r.isSigned = q->type.elem.isSigned();
    src.lo = r.qmin();
    src.hi = r.qmax();
    std::vector<float> scale = sv->constant->toFloats();
    std::vector<int64_t> zp = zv ? zv->constant->toInts() : std::vector<int64_t>(scale.size(), 0);
    if (scale.size() > 1) {
      auto ax = normAxis(d, d.getInt("axis", 1), q->type.rank());
      if (!ax)
        return ax.takeError();
      src.axis = *ax;
      src.channels = int64_t(scale.size());
    }
    src.count = [scale, zp, relu](int64_t qi, int64_t ch, int64_t row, const Spec &sp) {
      const size_t c = scale.size() == 1 ? 0 : size_t(ch);
      float v = float(qi - zp[c]) * scale[c];
      if (relu)
        v = v < 0.f ? 0.f : v;
      return sp.f64 ? sp.count<double>(double(v), row) : sp.count<float>(v, row);
    };
    return src;
  }

  /// Add of two quantized tensors on one scale (a residual sum): qcc::QAddFma
  /// with ratios 1 gives (a - z_a) + (b - z_b) exactly (int16); the real
  /// value is s * sum in float64.
  llvm::Expected<Source> fromAdd(Node &p, Node &n, bool relu, const Spec &s) {
    Node *da = n.input(0) ? n.input(0)->producer : nullptr, *db = n.input(1) ? n.input(1)->producer : nullptr;
    auto perTensor = [](Node *d) {
      return isOnnx(d, "DequantizeLinear") && d->input(0)->type.elem.isInt() && d->input(0)->type.elem.bits() <= 8 &&
             d->input(1)->isConstant() && d->input(1)->constant->size() == 1 &&
             (!d->input(2) || (d->input(2)->isConstant() && d->input(2)->constant->size() == 1));
    };
    if (!perTensor(da) || !perTensor(db) || g_.users(n.output(0)).size() != 1 || isGraphOutput(n.output(0)))
      return nodeError(p, "{} before it does not add two per-tensor quantized tensors", n.describe());
    const float sa = da->input(1)->constant->toFloats()[0], sb = db->input(1)->constant->toFloats()[0];
    if (sa != sb)
      return nodeError(p, "{} adds tensors of different scales ({} and {})", n.describe(), sa, sb);
    const int64_t za = da->input(2) ? da->input(2)->constant->getInt(0) : 0;
    const int64_t zb = db->input(2) ? db->input(2)->constant->getInt(0) : 0;
    auto range = [](Value *v, int64_t z) {
      QuantInfo r;
      r.bits = v->type.elem.bits();
      r.isSigned = v->type.elem.isSigned();
      return std::make_pair(r.qmin() - z, r.qmax() - z);
    };
    const auto ra = range(da->input(0), za), rb = range(db->input(0), zb);
    auto qn = std::make_unique<Node>();
    qn->name = n.name;
    qn->domain = "qcc";
    qn->op = "QAddFma";
    qn->inputs = {da->input(0), db->input(0)};
    qn->attrs["a_zero_point"] = za;
    qn->attrs["b_zero_point"] = zb;
    qn->attrs["out_zero_point"] = int64_t(0);
    qn->attrs["a_ratio"] = 1.f;
    qn->attrs["b_ratio"] = 1.f;
    qn->attrs["out_bits"] = int64_t(16);
    qn->attrs["out_signed"] = int64_t(1);
    Value *sum = g_.addValue(g_.uniqueName(n.output(0)->name + "/sum"), TensorType{});
    qn->outputs = {sum};
    if (auto e = inferNode(*qn))
      return std::move(e);
    if (sum->type.shape != n.output(0)->type.shape)
      return nodeError(p, "{}: integer form has shape {} instead of {}", n.describe(), sum->type.str(),
                       n.output(0)->type.str());
    g_.insertNodeBefore(&n, std::move(qn));
    const double actMin = n.has("act_min") ? double(n.getFloat("act_min", 0.f)) : -INFINITY;
    const double actMax = n.has("act_max") ? double(n.getFloat("act_max", 0.f)) : INFINITY;
    Source src;
    src.q = sum;
    src.lo = ra.first + rb.first;
    src.hi = ra.second + rb.second;
    const double scale = sa;
    src.count = [scale, relu, actMin, actMax](int64_t q, int64_t, int64_t row, const Spec &sp) {
      double v = scale * double(q);
      v = v < actMin ? actMin : v;
      v = v > actMax ? actMax : v;
      if (relu)
        v = std::max(v, 0.0);
      return sp.count<double>(v, row);
    };
    return src;
  }

  /// Conv / Gemm / MatMul of a quantized input and constant weights on a
  /// grid: its int32 accumulator (qcc::QConv / QGemm, identity
  /// requantization); the real value s_x * s_w[c] * acc (* alpha) + bias[c]
  /// in float64 (s_x * s_w exact) decides the count. The float bias needs no
  /// grid: it moves into the thresholds.
  llvm::Expected<Source> fromAccumulator(Node &p, Node &n, bool relu, const Spec &s) {
    Value *x = n.input(0), *w = n.input(1), *b = n.input(2);
    Node *dx = x ? x->producer : nullptr;
    if (!isOnnx(dx, "DequantizeLinear") || g_.users(n.output(0)).size() != 1 || isGraphOutput(n.output(0)))
      return nodeError(p, "{} before it does not read a quantized tensor", n.describe());
    Value *xq = dx->input(0), *xs = dx->input(1), *xz = dx->input(2);
    if (!xq || !xq->type.elem.isInt() || xq->type.elem.bits() > 8 || !xs || !xs->isConstant() ||
        xs->constant->size() != 1 || (xz && (!xz->isConstant() || xz->constant->size() != 1)))
      return nodeError(p, "{} reads a tensor that is not per-tensor quantized to 8 bits or less", n.describe());
    const double sx = xs->constant->toFloats()[0];
    const int64_t zx = xz ? xz->constant->getInt(0) : 0;
    if (!w)
      return nodeError(p, "{} has no weight", n.describe());
    auto wi = weightInts(*w);
    if (!wi)
      return nodeError(p, "{}: weight '{}' is not a constant on a symmetric integer grid of at most 8 bits",
                       n.describe(), w->name);
    const bool isConv = n.op == "Conv";
    int64_t N = 0, K = 0;
    Tensor wq;          // [N, K...] (OIHW for Conv)
    std::vector<double> ws; // per output channel
    double alpha = 1, beta = 1;
    if (isConv) {
      if (n.getString("auto_pad", "NOTSET") != "NOTSET")
        return nodeError(p, "{}: auto_pad is not supported here", n.describe());
      if (wi->axis > 0)
        return nodeError(p, "{}: weight scales vary along axis {}", n.describe(), wi->axis);
      wq = std::move(wi->q);
      N = wq.shape()[0];
      K = wq.size() / std::max<int64_t>(N, 1);
    } else {
      if (w->type.rank() != 2 || (n.op == "Gemm" && n.getInt("transA", 0) != 0))
        return nodeError(p, "{}: needs a 2-D constant weight (and no transA)", n.describe());
      const bool transB = n.op == "Gemm" && n.getInt("transB", 0) != 0;
      if (n.op == "Gemm") {
        alpha = n.getFloat("alpha", 1.f);
        beta = n.getFloat("beta", 1.f);
      }
      const Tensor &src = wi->q;
      N = transB ? src.shape()[0] : src.shape()[1];
      K = transB ? src.shape()[1] : src.shape()[0];
      if (wi->axis >= 0 && wi->axis != (transB ? 0 : 1))
        return nodeError(p, "{}: weight scales vary along the reduction axis", n.describe());
      wq = Tensor(src.elem(), Shape{N, K});
      for (int64_t i = 0; i < N; ++i)
        for (int64_t k = 0; k < K; ++k)
          wq.setDouble(i * K + k, src.getDouble(transB ? i * K + k : k * N + i));
    }
    for (int64_t c = 0; c < N; ++c)
      ws.push_back(double(wi->scale[wi->scale.size() == 1 ? 0 : size_t(c)]));
    // Float bias: per output channel real values.
    std::vector<double> bias(size_t(N), 0.0);
    if (b && n.op != "MatMul") {
      if (!b->isConstant())
        return nodeError(p, "{}: bias must be a constant", n.describe());
      if (b->constant->size() != N && b->constant->size() != 1)
        return nodeError(p, "{}: bias of {} values for {} outputs", n.describe(), b->constant->size(), N);
      for (int64_t c = 0; c < N; ++c)
        bias[size_t(c)] = beta * b->constant->getDouble(b->constant->size() == 1 ? 0 : c);
    }
    // Integer bias: the input zero point folded in; the accumulator's bound.
    AccumulatorForm af = accumulatorForm(wq, N, xq->type.elem, zx);
    const int64_t bound = af.bound;
    if (bound >= (int64_t(1) << 31) - 2)
      return nodeError(p, "{}: the int32 accumulator could overflow ({} reachable)", n.describe(), bound);
    auto qn = std::make_unique<Node>();
    qn->name = n.name;
    qn->domain = "qcc";
    qn->op = isConv ? "QConv" : "QGemm";
    qn->inputs = {xq, constantOf(g_, n.name + "/weight_q", std::move(wq)),
                  constantOf(g_, n.name + "/bias_q", std::move(af.bias))};
    if (isConv) {
      for (const char *k : {"strides", "pads", "dilations", "group"})
        if (n.has(k))
          qn->attrs[k] = n.attrs.at(k);
      qn->attrs["x_zero_point"] = zx;
    }
    qn->attrs["out_bits"] = int64_t(32);
    qn->attrs["out_signed"] = int64_t(1);
    qn->attrs["out_zero_point"] = int64_t(0);
    setRequants(*qn, {Requant::make(1.0, Rounding::Single)});
    Value *acc = g_.addValue(g_.uniqueName(n.output(0)->name + "/acc"), TensorType{});
    qn->outputs = {acc};
    if (auto e = inferNode(*qn))
      return std::move(e);
    if (acc->type.shape != n.output(0)->type.shape)
      return nodeError(p, "{}: integer form has shape {} instead of {}", n.describe(), acc->type.str(),
                       n.output(0)->type.str());
    g_.insertNodeBefore(&n, std::move(qn));
    Source src;
    src.q = acc;
    src.lo = -bound;
    src.hi = bound;
    src.axis = isConv ? 1 : acc->type.rank() - 1;
    src.channels = N;
    // A fused activation clamp (passes/FusedActivation.h: act_min / act_max, e.g. a Relu).
    const double actMin = n.has("act_min") ? double(n.getFloat("act_min", 0.f)) : -INFINITY;
    const double actMax = n.has("act_max") ? double(n.getFloat("act_max", 0.f)) : INFINITY;
    std::vector<double> mult(static_cast<size_t>(N));
    for (int64_t c = 0; c < N; ++c)
      mult[size_t(c)] = alpha * (sx * ws[size_t(c)]); // s_x * s_w exact in float64
    src.count = [mult, bias, relu, actMin, actMax](int64_t q, int64_t ch, int64_t row, const Spec &sp) {
      double v = mult[size_t(ch)] * double(q) + bias[size_t(ch)];
      v = v < actMin ? actMin : v;
      v = v > actMax ? actMax : v;
      if (relu)
        v = std::max(v, 0.0);
      return sp.count<double>(v, row);
    };
    return src;
  }

  Graph &g_;
};

} // namespace

llvm::Error finishQonnxThresholds(Graph &g, QonnxImportStats &) {
  std::vector<Node *> work;
  for (const auto &n : g.nodes())
    if (n->domain == "qcc" && n->op == "PendingThreshold")
      work.push_back(n.get());
  Finisher f(g);
  for (Node *n : work)
    if (auto e = f.lower(*n))
      return e;
  if (!work.empty())
    g.removeDeadCode();
  return llvm::Error::success();
}

} // namespace qcc
