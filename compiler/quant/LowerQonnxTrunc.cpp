#include "quant/LowerQonnxTrunc.h"

#include "ops/OpRegistry.h"
#include "support/Error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <optional>

namespace qcc {

namespace {

using llvm::Error;

bool isOnnxOp(const Node *n, const char *op) { return n && n->domain.empty() && n->op == op; }

/// The per-tensor integer grid a float value lies on: real = scale * (q - zp), q in [qmin, qmax].
struct Grid {
  float scale = 1.f;
  int64_t zp = 0;
  ElemType elem = ElemType::intN(8, true); ///< the integer type lowerQonnx / the DequantizeLinear gives q
  int64_t qmin = 0, qmax = 0;
};

struct GridResult {
  std::optional<Grid> grid;
  bool pending = false; ///< behind a QONNX node not lowered yet: leave the Trunc to checkQonnxLowered
  std::string why;
};

class TruncLowerer {
public:
  explicit TruncLowerer(Graph &g) : g_(g) {}

  Error prepare() {
    std::vector<Node *> work;
    for (const auto &n : g_.nodes())
      if (isQonnxNode(*n) && n->op == "Trunc")
        work.push_back(n.get());
    for (Node *t : work)
      if (auto e = rewrite(*t))
        return e;
    return Error::success();
  }

  /// Drops the QuantizeLinear each rewrite put before its QTrunc once the
  /// QDQ lowering has made it an identity (a Lut, or a DequantizeLinear ->
  /// QuantizeLinear pair of one grid).
  Error finish() {
    std::vector<Node *> work;
    for (const auto &n : g_.nodes())
      if (n->domain == "qcc" && n->op == "QTrunc")
        work.push_back(n.get());
    for (Node *t : work) {
      Value *x = t->input(0);
      Node *p = x ? x->producer : nullptr;
      if (!p || isGraphOutput(x))
        continue;
      Value *src = nullptr;
      Node *dq = nullptr;
      if (p->domain == "qcc" && p->op == "Lut" && isIdentityLut(*p)) {
        src = p->input(0);
      } else if (isOnnxOp(p, "QuantizeLinear")) {
        src = sameGridDequantized(*p);
        dq = src ? p->input(0)->producer : nullptr;
      }
      if (!src)
        continue;
      t->inputs[0] = src;
      eraseIfUnused(p);
      if (dq)
        eraseIfUnused(dq);
    }
    return Error::success();
  }

private:
  bool isGraphOutput(const Value *v) const {
    return std::find(g_.outputs.begin(), g_.outputs.end(), v) != g_.outputs.end();
  }
  bool isGraphInput(const Value *v) const { return std::find(g_.inputs.begin(), g_.inputs.end(), v) != g_.inputs.end(); }

  void eraseIfUnused(Node *n) {
    for (Value *o : n->outputs)
      if (o && (isGraphOutput(o) || !g_.users(o).empty()))
        return;
    g_.eraseNode(n);
  }

  static bool isIdentityLut(const Node &lut) {
    const Value *x = lut.input(0), *y = lut.output(0);
    if (!x || !y || x->type.elem != y->type.elem)
      return false;
    QuantInfo r;
    r.bits = x->type.elem.bits();
    r.isSigned = x->type.elem.isSigned();
    const std::vector<int64_t> table = lut.getInts("table");
    for (size_t i = 0; i < table.size(); ++i)
      if (table[i] != r.qmin() + int64_t(i))
        return false;
    return !table.empty();
  }

  static std::optional<std::pair<float, int64_t>> scalarGrid(const Node &n) {
    Value *s = n.input(1), *z = n.input(2);
    if (!s || !s->isConstant() || s->constant->size() != 1 || (z && (!z->isConstant() || z->constant->size() != 1)))
      return std::nullopt;
    return std::make_pair(s->constant->toFloats()[0], z ? z->constant->getInt(0) : int64_t(0));
  }

  /// The integers of DequantizeLinear -> QuantizeLinear `q` when both use one grid and type.
  static Value *sameGridDequantized(const Node &q) {
    Node *dq = q.input(0) ? q.input(0)->producer : nullptr;
    if (!isOnnxOp(dq, "DequantizeLinear") || !q.output(0) || q.has("axis") || dq->has("axis"))
      return nullptr;
    auto a = scalarGrid(q), b = scalarGrid(*dq);
    if (!a || !b || *a != *b || dq->input(0)->type.elem != q.output(0)->type.elem)
      return nullptr;
    return dq->input(0);
  }

  static void rangeOf(ElemType e, int64_t &lo, int64_t &hi) {
    QuantInfo r;
    r.bits = e.bits();
    r.isSigned = e.isSigned();
    lo = r.qmin();
    hi = r.qmax();
  }

  /// The grid of float value v: a Quant (lowered to QDQ by lowerQonnx) or a
  /// DequantizeLinear, seen through ops that keep the grid.
  GridResult gridOf(const Value *v, int depth = 0) const {
    GridResult r;
    Node *p = v ? v->producer : nullptr;
    if (!p || depth > 32)
      return r.why = "it is not produced by a quantizer", r;
    if (isQonnxNode(*p)) {
      if (p->op != "Quant" || !v->quant || v->quant->bits < 2 || v->quant->bits > 8) {
        r.pending = true;
        return r;
      }
      const QuantInfo &q = *v->quant;
      if (q.perChannel() || q.scale.size() != 1)
        return r.why = fmt::format("its quantizer {} is per channel", p->describe()), r;
      Grid gr;
      gr.scale = q.scale[0];
      gr.zp = q.zeroPoint[0];
      // lowerQonnx's storage: 8 bits for a graph input's quantizer, else the Quant's width.
      gr.elem = ElemType::intN(isGraphInput(p->input(0)) ? 8u : q.bits, q.isSigned);
      gr.qmin = q.qmin();
      gr.qmax = q.qmax();
      r.grid = gr;
      return r;
    }
    if (isOnnxOp(p, "DequantizeLinear")) {
      auto sz = scalarGrid(*p);
      const Value *q = p->input(0);
      if (!sz || !q || !q->type.elem.isInt() || p->has("axis"))
        return r.why = fmt::format("its {} is not per tensor", p->describe()), r;
      Grid gr;
      gr.scale = sz->first;
      gr.zp = sz->second;
      gr.elem = q->type.elem;
      rangeOf(gr.elem, gr.qmin, gr.qmax);
      r.grid = gr;
      return r;
    }
    if (isOnnxOp(p, "Concat")) {
      for (const Value *in : p->inputs) {
        GridResult g = gridOf(in, depth + 1);
        if (!g.grid)
          return g;
        if (!r.grid)
          r.grid = g.grid;
        else if (r.grid->scale != g.grid->scale || r.grid->zp != g.grid->zp || r.grid->elem != g.grid->elem)
          return GridResult{std::nullopt, false, fmt::format("the inputs of {} are on different grids", p->describe())};
        r.grid->qmin = std::min(r.grid->qmin, g.grid->qmin);
        r.grid->qmax = std::max(r.grid->qmax, g.grid->qmax);
      }
      return r;
    }
    static const char *const keep[] = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
                                       "Identity", "MaxPool", "Slice", "Dropout"};
    for (const char *op : keep)
      if (isOnnxOp(p, op))
        return gridOf(p->input(0), depth + 1);
    return r.why = fmt::format("it is produced by {}, not by a quantizer", p->describe()), r;
  }

  /// A constant scalar input of Trunc, as float32 or float64 (numpy's dtype).
  llvm::Expected<double> scalarInput(const Node &t, size_t i, const char *what, bool *isF32 = nullptr) {
    Value *v = t.input(i);
    if (!v || !v->isConstant())
      return nodeError(t, "QONNX Trunc is not lowered to integers: its {} is not a constant", what);
    if (v->constant->size() != 1)
      return nodeError(t, "QONNX Trunc is not lowered to integers: its {} is not one value (per-channel Trunc)", what);
    if (isF32)
      *isF32 = v->constant->elem() == ElemType::f32();
    return v->constant->getDouble(0);
  }

  static int64_t qonnxMin(bool isSigned, bool narrow, int64_t bits) {
    return isSigned ? -(int64_t(1) << (bits - 1)) + (narrow ? 1 : 0) : 0;
  }
  static int64_t qonnxMax(bool isSigned, bool narrow, int64_t bits) {
    return isSigned ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - (narrow ? 2 : 1);
  }

  static int64_t roundShift(int64_t acc, int64_t shift, const std::string &mode) {
    if (shift <= 0)
      return acc * (int64_t(1) << -shift);
    const double v = std::ldexp(double(acc), -int(shift)); // exact: |acc| < 2^40
    if (mode == "FLOOR")
      return int64_t(std::floor(v));
    if (mode == "CEIL")
      return int64_t(std::ceil(v));
    if (mode == "DOWN")
      return int64_t(std::trunc(v));
    if (mode == "UP")
      return int64_t(v < 0 ? -std::ceil(-v) : std::ceil(v));
    return int64_t(std::nearbyint(v)); // range bounds only: one step either way does not matter
  }

  Error fail(const Node &t, const std::string &why) {
    return nodeError(t, "QONNX Trunc is not lowered to integers: {}", why);
  }

  Error rewrite(Node &t) {
    const int64_t version = t.getInt("qonnx_version", 1);
    if (version != 1 && version != 2)
      return fail(t, fmt::format("unknown Trunc version {}", version));
    std::string mode = t.getString("rounding_mode", "FLOOR");
    for (char &c : mode)
      c = char(std::toupper(static_cast<unsigned char>(c)));
    static const char *const modes[] = {"FLOOR", "CEIL", "ROUND", "HALF_EVEN", "UP", "DOWN", "HALF_UP", "HALF_DOWN"};
    if (std::find_if(std::begin(modes), std::end(modes), [&](const char *m) { return mode == m; }) == std::end(modes))
      return fail(t, fmt::format("unknown rounding_mode '{}'", mode));
    bool scaleF32 = true, outScaleF32 = true;
    auto s = scalarInput(t, 1, "scale", &scaleF32);
    if (!s)
      return s.takeError();
    auto z = scalarInput(t, 2, "zero point");
    if (!z)
      return z.takeError();
    auto inBits = scalarInput(t, 3, "input bit width");
    if (!inBits)
      return inBits.takeError();
    auto outBits = scalarInput(t, version == 2 ? 5 : 4, "output bit width");
    if (!outBits)
      return outBits.takeError();
    double outScale = *s;
    if (version == 2) {
      auto os = scalarInput(t, 4, "output scale", &outScaleF32);
      if (!os)
        return os.takeError();
      outScale = *os;
    }
    if (!(*s > 0) || !std::isfinite(*s) || !(outScale > 0) || !std::isfinite(outScale))
      return fail(t, "its scale is not positive and finite");
    if (*z != std::floor(*z) || std::fabs(*z) > 65536)
      return fail(t, fmt::format("zero point {} is not a small integer", *z));
    for (double b : {*inBits, *outBits})
      if (b != std::floor(b) || b < 1 || b > 32)
        return fail(t, fmt::format("bit width {} is not an integer of 1 to 32", b));
    // The shift: v1 in_bits - out_bits; v2 rint(log2(out_scale / scale)),
    // in float32 when both scales are float32, as numpy computes it.
    int64_t shift;
    if (version == 1) {
      shift = int64_t(*inBits) - int64_t(*outBits);
    } else if (scaleF32 && outScaleF32) {
      shift = int64_t(std::nearbyint(std::log2(float(outScale) / float(*s))));
    } else {
      shift = int64_t(std::nearbyint(std::log2(outScale / *s)));
    }
    if (shift < -16 || shift > 30)
      return fail(t, fmt::format("shift {} is out of range", shift));
    const int64_t zt = int64_t(*z);

    // The pooling before it (brevitas TruncAvgPool2d / TruncAdaptiveAvgPool2d).
    Value *x = t.input(0);
    Node *pool = x ? x->producer : nullptr;
    if (!(isOnnxOp(pool, "AveragePool") || isOnnxOp(pool, "GlobalAveragePool")) || isGraphOutput(x) ||
        g_.users(x).size() != 1)
      pool = nullptr;
    Value *src = pool ? pool->input(0) : x;
    std::vector<int64_t> kernel, strides{1, 1}, pads{0, 0, 0, 0};
    if (pool) {
      const Shape &ps = src->type.shape;
      if (ps.size() != 4)
        return fail(t, fmt::format("{} pools a tensor of rank {} (2-D pooling only)", pool->describe(), ps.size()));
      if (pool->op == "GlobalAveragePool") {
        kernel = {ps[2], ps[3]};
      } else {
        kernel = pool->getInts("kernel_shape");
        strides = pool->getInts("strides", {1, 1});
        pads = pool->getInts("pads", {0, 0, 0, 0});
        const std::string autoPad = pool->getString("auto_pad", "NOTSET");
        const auto dil = pool->getInts("dilations", {1, 1});
        if (kernel.size() != 2 || strides.size() != 2 || pads.size() != 4 || (autoPad != "NOTSET" && autoPad != "VALID") ||
            pool->getInt("ceil_mode", 0) != 0 || std::any_of(dil.begin(), dil.end(), [](int64_t d) { return d != 1; }))
          return fail(t, fmt::format("{} has auto_pad, ceil_mode or dilations", pool->describe()));
        const bool padded = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; });
        if (padded && pool->getInt("count_include_pad", 0) == 0)
          return fail(t, fmt::format("{} divides by the taps inside the image (count_include_pad=0): not a sum "
                                     "divided by one constant",
                                     pool->describe()));
      }
    }
    const int64_t taps = kernel.empty() ? 1 : kernel[0] * kernel[1];

    GridResult gr = gridOf(src);
    if (gr.pending)
      return Error::success(); // checkQonnxLowered names the QONNX node before it
    if (!gr.grid)
      return fail(t, fmt::format("its input is not on an integer grid ({}{})", pool ? pool->describe() + " input: " : "",
                                 gr.why));
    const Grid grid = *gr.grid;
    // rint(x / scale + zp) recovers the integer sum A = sum(q - zq) exactly when
    // scale is the sum's grid (the quantizer's scale / taps) to within the float
    // error of the pooling, far below half a step for these ranges.
    const int64_t maxA = taps * std::max(std::llabs(grid.qmin - grid.zp), std::llabs(grid.qmax - grid.zp));
    const double ratio = double(grid.scale) / (double(taps) * *s);
    if (maxA > (int64_t(1) << 22) || double(maxA) * (std::fabs(ratio - 1) + 1e-6) >= 0.25)
      return fail(t, fmt::format("its scale {:.9g} is not the grid of the {} ({:.9g} / {} taps)", *s,
                                 pool ? "pooled sum of its input" : "input", grid.scale, taps));
    const int64_t accLo = -maxA + zt, accHi = maxA + zt;

    // Output integers and their grid.
    int64_t lo, hi, zpOut;
    unsigned bits;
    bool isSigned, narrow = false;
    float scaleOut;
    if (version == 2) {
      isSigned = t.getInt("signed", 1) != 0;
      narrow = t.getInt("narrow", 0) != 0;
      bits = unsigned(*outBits);
      lo = qonnxMin(isSigned, narrow, bits);
      hi = qonnxMax(isSigned, narrow, bits);
      // out = (y - zp / 2^shift) * out_scale: the zero point must stay an integer.
      if (shift > 0 && zt % (int64_t(1) << shift) != 0)
        return fail(t, fmt::format("zero point {} / 2^{} is not an integer", zt, shift));
      zpOut = shift > 0 ? zt / (int64_t(1) << shift) : zt * (int64_t(1) << -shift);
      scaleOut = float(outScale);
    } else {
      // v1 does not clamp: the type holds every result. out = (y - zp) * scale.
      const int64_t ylo = std::min(roundShift(accLo, shift, mode), zt) - 1;
      const int64_t yhi = std::max(roundShift(accHi, shift, mode), zt) + 1;
      isSigned = ylo < 0;
      bits = std::max(2u, unsigned(*outBits));
      while (bits < 32 && (qonnxMin(isSigned, false, bits) > ylo || qonnxMax(isSigned, false, bits) < yhi))
        ++bits;
      lo = qonnxMin(isSigned, false, bits);
      hi = qonnxMax(isSigned, false, bits);
      zpOut = zt;
      scaleOut = float(*s);
    }
    if (zpOut < lo || zpOut > hi)
      return fail(t, fmt::format("output zero point {} is outside the output range [{}, {}]", zpOut, lo, hi));
    const ElemType outElem = ElemType::intN(bits, isSigned);

    // QuantizeLinear(src) -> QTrunc -> DequantizeLinear -> Trunc's output.
    Tensor sq(ElemType::f32(), Shape{}), zq(grid.elem, Shape{}), so(ElemType::f32(), Shape{}), zo(outElem, Shape{});
    sq.data<float>()[0] = grid.scale;
    zq.setDouble(0, double(grid.zp));
    so.data<float>()[0] = scaleOut;
    zo.setDouble(0, double(zpOut));
    Value *sqv = g_.addConstant(g_.uniqueName(t.name + "/in_scale"), std::move(sq));
    Value *zqv = g_.addConstant(g_.uniqueName(t.name + "/in_zero_point"), std::move(zq));
    Value *sov = g_.addConstant(g_.uniqueName(t.name + "/scale"), std::move(so));
    Value *zov = g_.addConstant(g_.uniqueName(t.name + "/zero_point"), std::move(zo));

    auto q = std::make_unique<Node>();
    q->name = t.name + "/QuantizeLinear";
    q->op = "QuantizeLinear";
    q->inputs = {src, sqv, zqv};
    Value *qv = g_.addValue(g_.uniqueName(src->name + "/quantized"), TensorType{});
    q->outputs = {qv};
    if (auto e = infer(*q))
      return withContext(std::move(e), t.describe());

    auto tr = std::make_unique<Node>();
    tr->name = t.name;
    tr->op = "QTrunc";
    tr->domain = "qcc";
    tr->inputs = {qv};
    tr->attrs["x_zero_point"] = grid.zp;
    tr->attrs["offset"] = zt;
    tr->attrs["shift"] = shift;
    tr->attrs["rounding_mode"] = mode;
    tr->attrs["out_min"] = lo;
    tr->attrs["out_max"] = hi;
    tr->attrs["out_bits"] = int64_t(bits);
    tr->attrs["out_signed"] = int64_t(isSigned ? 1 : 0);
    if (pool) {
      tr->attrs["kernel_shape"] = kernel;
      tr->attrs["strides"] = strides;
      tr->attrs["pads"] = pads;
    }
    Value *tv = g_.addValue(g_.uniqueName(t.output(0)->name + "/quantized"), TensorType{});
    tr->outputs = {tv};
    if (auto e = infer(*tr))
      return withContext(std::move(e), t.describe());

    Value *y = t.output(0);
    const TensorType yType = y->type;
    auto dq = std::make_unique<Node>();
    dq->name = t.name + "/DequantizeLinear";
    dq->op = "DequantizeLinear";
    dq->inputs = {tv, sov, zov};
    dq->outputs = {y};
    if (auto e = infer(*dq))
      return withContext(std::move(e), t.describe());
    if (y->type != yType)
      return fail(t, fmt::format("the rewrite changes the output type {} to {}", yType.str(), y->type.str()));
    const Node *at = pool ? pool : &t;
    g_.insertNodeBefore(at, std::move(q));
    g_.insertNodeBefore(at, std::move(tr));
    g_.insertNodeBefore(&t, std::move(dq)); // takes over y
    g_.eraseNode(&t);
    if (pool)
      g_.eraseNode(pool);
    QuantInfo qi;
    qi.scale = {scaleOut};
    qi.zeroPoint = {zpOut};
    qi.bits = bits;
    qi.isSigned = isSigned;
    qi.narrow = narrow;
    qi.rounding = Rounding::Onnx;
    y->quant = qi;
    return Error::success();
  }

  Error infer(Node &n) {
    const OpDef *def = OpRegistry::get().lookup(n.domain, n.op);
    if (!def)
      return nodeError(n, "op is not registered");
    return def->infer(n);
  }

  Graph &g_;
};

} // namespace

llvm::Error prepareQonnxTrunc(Graph &g, QonnxImportStats &) { return TruncLowerer(g).prepare(); }
llvm::Error finishQonnxTrunc(Graph &g, QonnxImportStats &) { return TruncLowerer(g).finish(); }

} // namespace qcc
