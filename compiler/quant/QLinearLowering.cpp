#include "quant/QLinearLowering.h"

#include "ops/OpRegistry.h"
#include "quant/Requant.h"
#include "quant/RequantAttrs.h"
#include "support/Error.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace qcc {

namespace {

using llvm::Error;
using llvm::Expected;

constexpr size_t kNone = size_t(-1);

QuantInfo rangeOf(ElemType e) {
  QuantInfo q;
  q.bits = e.bits();
  q.isSigned = e.isSigned();
  return q;
}

bool present(const Node &n, size_t i) { return i != kNone && n.input(i) != nullptr; }

/// Scale input i: positive finite float32 values.
Expected<std::vector<float>> readScale(const Node &n, TensorOf t, size_t i, const char *what) {
  if (!present(n, i))
    return nodeError(n, "{} scale (input {}) is missing", what, i);
  const Tensor *s = t(i);
  if (!s)
    return nodeError(n, "{} scale (input {}, '{}') must be a constant", what, i, n.input(i)->name);
  if (s->elem() != ElemType::f32() || s->size() < 1)
    return nodeError(n, "{} scale (input {}) must be a non-empty float32 tensor, is {}", what, i, s->type().str());
  std::vector<float> v = s->toFloats();
  for (float x : v)
    if (!(x > 0) || !std::isfinite(x))
      return nodeError(n, "{} scale {} is not a positive finite number", what, x);
  return v;
}

/// Zero-point input i (absent: one 0).
Expected<std::vector<int32_t>> readZeroPoint(const Node &n, TensorOf t, size_t i, const char *what) {
  if (!present(n, i))
    return std::vector<int32_t>{0};
  const Tensor *z = t(i);
  if (!z)
    return nodeError(n, "{} zero point (input {}, '{}') must be a constant", what, i, n.input(i)->name);
  if (!z->elem().isInt() || z->elem().bits() > 32 || z->size() < 1)
    return nodeError(n, "{} zero point (input {}) must be a non-empty integer tensor, is {}", what, i,
                     z->type().str());
  std::vector<int32_t> v;
  for (int64_t x : z->toInts())
    v.push_back(int32_t(x));
  return v;
}

/// A per-tensor (scale, zero point) pair, as activations have.
struct Scalar {
  float scale = 1.f;
  int32_t zp = 0;
};

Expected<Scalar> readScalar(const Node &n, TensorOf t, size_t scaleIdx, size_t zpIdx, const char *what) {
  Scalar r;
  if (scaleIdx != kNone) {
    auto s = readScale(n, t, scaleIdx, what);
    if (!s)
      return s.takeError();
    if (s->size() != 1)
      return nodeError(n, "{} scale must be a scalar (per-tensor), has {} values", what, s->size());
    r.scale = (*s)[0];
  }
  auto z = readZeroPoint(n, t, zpIdx, what);
  if (!z)
    return z.takeError();
  if (z->size() != 1)
    return nodeError(n, "{} zero point must be a scalar (per-tensor), has {} values", what, z->size());
  r.zp = (*z)[0];
  return r;
}

/// Element type of the output grid: the zero point's type, else `dflt`.
ElemType zpElem(const Node &n, size_t zpIdx, ElemType dflt) {
  return present(n, zpIdx) ? n.input(zpIdx)->type.elem : dflt;
}

/// Broadcasts a per-tensor list to `count` entries; error if neither fits.
template <typename T>
Expected<std::vector<T>> perChannel(const Node &n, std::vector<T> v, int64_t count, const char *what) {
  if (int64_t(v.size()) == count)
    return v;
  if (v.size() == 1)
    return std::vector<T>(size_t(count), v[0]);
  return nodeError(n, "{} has {} values, expected 1 or {}", what, v.size(), count);
}

QuantInfo gridInfo(float scale, int32_t zp, ElemType e) {
  QuantInfo q = rangeOf(e);
  q.scale = {scale};
  q.zeroPoint = {zp};
  q.rounding = Rounding::Onnx;
  return q;
}

void setOutputType(Node &step, ElemType e, int32_t zp) {
  step.attrs["out_bits"] = int64_t(e.bits());
  step.attrs["out_signed"] = int64_t(e.isSigned() ? 1 : 0);
  step.attrs["out_zero_point"] = int64_t(zp);
}

LoweredInput nodeInput(size_t i) {
  LoweredInput in;
  in.kind = LoweredInput::Kind::NodeInput;
  in.index = i;
  return in;
}

LoweredInput constantInput(Tensor t, std::string name) {
  LoweredInput in;
  in.kind = LoweredInput::Kind::Constant;
  in.constant = std::move(t);
  in.name = std::move(name);
  return in;
}

LoweredInput stepInput(size_t s) {
  LoweredInput in;
  in.kind = LoweredInput::Kind::Step;
  in.index = s;
  return in;
}

LoweredStep makeStep(std::string op, std::string domain = "qcc") {
  LoweredStep s;
  s.node.op = std::move(op);
  s.node.domain = std::move(domain);
  return s;
}

// ---- weights ----------------------------------------------------------------

/// Weights as [rows, K] integers minus their per-row zero point, and the row
/// sums the input zero point is folded with. `at(r, k)` reads the original.
struct RowWeights {
  Tensor w;                    ///< [rows, ...] in `shape`
  std::vector<int64_t> rowSum; ///< sum over k of (w - zp)
  bool reuseOriginal = false;  ///< w equals the original tensor (zero points 0, same layout)
};

template <typename At>
RowWeights rowWeights(int64_t rows, int64_t k, const std::vector<int32_t> &zp, ElemType origElem, Shape shape,
                      bool sameLayout, At &&at) {
  RowWeights r;
  bool zeroZp = true;
  for (int32_t z : zp)
    zeroZp &= z == 0;
  r.reuseOriginal = zeroZp && sameLayout;
  // w - zp of 8-bit weights spans [-255, 255]: int16 holds it; without a zero
  // point the original type is kept.
  ElemType e = zeroZp ? origElem : ElemType::intN(16, true);
  if (!r.reuseOriginal)
    r.w = Tensor(e, shape);
  r.rowSum.assign(size_t(rows), 0);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t i = 0; i < k; ++i) {
      int64_t v = at(row, i) - zp[size_t(row)];
      r.rowSum[size_t(row)] += v;
      if (!r.reuseOriginal)
        r.w.setDouble(row * k + i, double(v));
    }
  return r;
}

/// bias[r] - x_zp * rowSum[r] as int32 (QConv / QGemm fold the input zero point into the bias).
Expected<Tensor> foldedBias(const Node &n, const Tensor *bias, int64_t rows, const std::vector<int64_t> &rowSum,
                            int32_t xZp) {
  std::vector<int64_t> b(size_t(rows), 0);
  if (bias) {
    if (bias->elem() != ElemType::i32())
      return nodeError(n, "bias must be int32, is {}", bias->type().str());
    if (bias->size() != rows && bias->size() != 1)
      return nodeError(n, "bias has {} values, expected {}", bias->size(), rows);
    for (int64_t r = 0; r < rows; ++r)
      b[size_t(r)] = bias->getInt(bias->size() == 1 ? 0 : r);
  }
  Tensor out(ElemType::i32(), {rows});
  for (int64_t r = 0; r < rows; ++r) {
    int64_t v = b[size_t(r)] - int64_t(xZp) * rowSum[size_t(r)];
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
      return nodeError(n, "bias of output channel {} with the input zero point folded in ({}) overflows int32", r, v);
    out.data<int32_t>()[r] = int32_t(v);
  }
  return out;
}

/// Identity requantizer: rounding "single" with M = 1 (multiplier 2^30,
/// shift -1) returns every int32 accumulator unchanged.
std::vector<Requant> identityRequant() { return {Requant::make(1.0, Rounding::Single)}; }

/// ORT's per-channel output multipliers: float(float(s_a * s_b[c]) / s_y).
std::vector<Requant> productRequants(float sa, const std::vector<float> &sb, float sy, float alpha = 1.f) {
  std::vector<Requant> r;
  for (float b : sb) {
    float m = alpha * sa; // ORT: alpha * a_scale * b_scale[c], then / y_scale
    m = m * b;
    m = m / sy;
    r.push_back(Requant::make(double(alpha) * double(sa) * double(b) / double(sy), Rounding::Onnx, m));
  }
  return r;
}

// ---- QLinearConv, ConvInteger -------------------------------------------------

Expected<Lowering> lowerConv(const Node &n, TensorOf t, bool integerOut) {
  const size_t wIdx = integerOut ? 1 : 3, bIdx = integerOut ? kNone : 8;
  const size_t xsIdx = integerOut ? kNone : 1, xzIdx = 2, wsIdx = integerOut ? kNone : 4;
  const size_t wzIdx = integerOut ? 3 : 5, ysIdx = integerOut ? kNone : 6, yzIdx = integerOut ? kNone : 7;
  const Tensor *w = present(n, wIdx) ? t(wIdx) : nullptr;
  if (!w)
    return nodeError(n, "weight W (input {}) must be a constant to lower onto qcc::QConv", wIdx);
  if (w->rank() != 3 && w->rank() != 4)
    return nodeError(n, "qcc::QConv supports 1-D and 2-D convolution; weight is {}", w->type().str());
  if (!w->elem().isInt() || w->elem().bits() > 8)
    return nodeError(n, "weight must be int8 or uint8, is {}", w->type().str());
  const int64_t cout = w->shape()[0], k = w->size() / std::max<int64_t>(cout, 1);
  auto x = readScalar(n, t, xsIdx, xzIdx, "input");
  if (!x)
    return x.takeError();
  auto wzRaw = readZeroPoint(n, t, wzIdx, "weight");
  if (!wzRaw)
    return wzRaw.takeError();
  auto wz = perChannel(n, *wzRaw, cout, "weight zero point");
  if (!wz)
    return wz.takeError();
  RowWeights rw = rowWeights(cout, k, *wz, w->elem(), w->shape(), true,
                             [&](int64_t r, int64_t i) { return w->getInt(r * k + i); });
  const Tensor *bias = nullptr;
  if (present(n, bIdx) && !(bias = t(bIdx)))
    return nodeError(n, "bias B (input {}) must be a constant", bIdx);
  auto b = foldedBias(n, bias, cout, rw.rowSum, x->zp);
  if (!b)
    return b.takeError();

  LoweredStep s = makeStep("QConv");
  for (const char *a : {"strides", "pads", "dilations", "group"})
    if (n.has(a))
      s.node.attrs[a] = n.attrs.at(a);
  s.node.attrs["x_zero_point"] = int64_t(x->zp);
  Lowering l;
  if (integerOut) {
    setOutputType(s.node, ElemType::i32(), 0);
    setRequants(s.node, identityRequant());
  } else {
    auto ws = readScale(n, t, wsIdx, "weight");
    if (!ws)
      return ws.takeError();
    if (ws->size() != 1 && int64_t(ws->size()) != cout)
      return nodeError(n, "weight scale has {} values, expected 1 or {}", ws->size(), cout);
    auto y = readScalar(n, t, ysIdx, yzIdx, "output");
    if (!y)
      return y.takeError();
    ElemType ye = zpElem(n, yzIdx, inType(n, 0).elem);
    setOutputType(s.node, ye, y->zp);
    setRequants(s.node, productRequants(x->scale, *ws, y->scale));
    l.outQuant = gridInfo(y->scale, y->zp, ye);
  }
  s.inputs = {nodeInput(0), rw.reuseOriginal ? nodeInput(wIdx) : constantInput(std::move(rw.w), "weight"),
              constantInput(std::move(*b), "bias")};
  l.steps.push_back(std::move(s));
  return l;
}

// ---- QLinearMatMul, MatMulInteger, com.microsoft QGemm --------------------------

/// Weights of x[..., K] * W as qcc::QGemm wants them: [N, K], minus zero points.
Expected<RowWeights> gemmWeights(const Node &n, const Tensor &b, bool bIsNK, const std::vector<int32_t> &bzRaw) {
  if (b.rank() != 2)
    return nodeError(n, "B must be a 2-D matrix to lower onto qcc::QGemm, is {}", b.type().str());
  if (!b.elem().isInt() || b.elem().bits() > 8)
    return nodeError(n, "B must be int8 or uint8, is {}", b.type().str());
  const int64_t N = bIsNK ? b.shape()[0] : b.shape()[1], K = bIsNK ? b.shape()[1] : b.shape()[0];
  auto bz = perChannel(n, bzRaw, N, "B zero point");
  if (!bz)
    return bz.takeError();
  return rowWeights(N, K, *bz, b.elem(), {N, K}, bIsNK, [&](int64_t row, int64_t i) {
    return bIsNK ? b.getInt(row * K + i) : b.getInt(i * N + row);
  });
}

Expected<Lowering> lowerMatMul(const Node &n, TensorOf t) {
  const bool integerOut = n.op == "MatMulInteger";
  const size_t bIdx = integerOut ? 1 : 3;
  const Tensor *b = present(n, bIdx) ? t(bIdx) : nullptr;
  if (!b)
    return nodeError(n, "B (input {}) must be a constant to lower onto qcc::QGemm", bIdx);
  auto q = matMulQuant(n, t);
  if (!q)
    return q.takeError();
  if (q->az.size() != 1)
    return nodeError(n, "a per-row A zero point does not lower onto qcc::QGemm");
  auto rw = gemmWeights(n, *b, false, q->bz);
  if (!rw)
    return rw.takeError();
  const int64_t N = b->shape()[1];
  auto bias = foldedBias(n, nullptr, N, rw->rowSum, q->az[0]);
  if (!bias)
    return bias.takeError();
  LoweredStep s = makeStep("QGemm");
  setOutputType(s.node, q->y, q->yz);
  setRequants(s.node, q->rq);
  Lowering l;
  if (!integerOut)
    l.outQuant = gridInfo(q->yScale, q->yz, q->y);
  s.inputs = {nodeInput(0), constantInput(std::move(rw->w), "weight"), constantInput(std::move(*bias), "bias")};
  l.steps.push_back(std::move(s));
  return l;
}

Expected<Lowering> lowerQGemm(const Node &n, TensorOf t) {
  const float alpha = n.getFloat("alpha", 1.f);
  const bool transA = n.getInt("transA", 0) != 0, transB = n.getInt("transB", 0) != 0;
  const Tensor *b = present(n, 3) ? t(3) : nullptr;
  if (!b)
    return nodeError(n, "B (input 3) must be a constant to lower onto qcc::QGemm");
  auto a = readScalar(n, t, 1, 2, "A");
  if (!a)
    return a.takeError();
  auto bz = readZeroPoint(n, t, 5, "B");
  if (!bz)
    return bz.takeError();
  auto rw = gemmWeights(n, *b, transB, *bz);
  if (!rw)
    return rw.takeError();
  const int64_t N = rw->rowSum.size();
  const Tensor *c = nullptr;
  if (present(n, 6)) {
    if (!(c = t(6)))
      return nodeError(n, "C (input 6) must be a constant");
    if (c->size() != 1 && !(c->size() == N && c->shape().back() == N))
      return nodeError(n, "C is {}; qcc::QGemm takes a bias per output column ([N] or [1, N])", c->type().str());
  }
  auto bias = foldedBias(n, c, N, rw->rowSum, a->zp);
  if (!bias)
    return bias.takeError();
  auto bs = readScale(n, t, 4, "B");
  if (!bs)
    return bs.takeError();
  if (bs->size() != 1 && int64_t(bs->size()) != N)
    return nodeError(n, "B scale has {} values, expected 1 or {}", bs->size(), N);

  Lowering l;
  LoweredInput x = nodeInput(0);
  if (transA) {
    LoweredStep tr = makeStep("Transpose", "");
    tr.node.attrs["perm"] = std::vector<int64_t>{1, 0};
    tr.inputs = {nodeInput(0)};
    l.steps.push_back(std::move(tr));
    x = stepInput(0);
  }
  LoweredStep s = makeStep("QGemm");
  s.inputs = {x, rw->reuseOriginal ? nodeInput(3) : constantInput(std::move(rw->w), "weight"),
              constantInput(std::move(*bias), "bias")};
  if (present(n, 7)) {
    auto y = readScalar(n, t, 7, 8, "output");
    if (!y)
      return y.takeError();
    ElemType ye = zpElem(n, 8, ElemType::intN(8, false));
    setOutputType(s.node, ye, y->zp);
    setRequants(s.node, productRequants(a->scale, *bs, y->scale, alpha));
    l.outQuant = gridInfo(y->scale, y->zp, ye);
    l.steps.push_back(std::move(s));
    return l;
  }
  // Float output: ORT scales the int32 accumulator by alpha * a_scale * b_scale[n].
  setOutputType(s.node, ElemType::i32(), 0);
  setRequants(s.node, identityRequant());
  l.steps.push_back(std::move(s));
  Shape sshape = bs->size() == 1 ? Shape{} : Shape{N};
  Tensor scale(ElemType::f32(), sshape), zp(ElemType::i32(), sshape);
  for (size_t i = 0; i < bs->size(); ++i) {
    float m = alpha * a->scale;
    scale.data<float>()[i] = m * (*bs)[i];
  }
  LoweredStep dq = makeStep("DequantizeLinear", "");
  if (bs->size() != 1)
    dq.node.attrs["axis"] = int64_t(1);
  dq.inputs = {stepInput(l.steps.size() - 1), constantInput(std::move(scale), "out_scale"),
               constantInput(std::move(zp), "out_zero_point")};
  l.steps.push_back(std::move(dq));
  return l;
}

// ---- com.microsoft QLinearAdd, QLinearMul ---------------------------------------

Expected<Lowering> lowerBinary(const Node &n, TensorOf t, bool isAdd) {
  auto a = readScalar(n, t, 1, 2, "A");
  if (!a)
    return a.takeError();
  auto b = readScalar(n, t, 4, 5, "B");
  if (!b)
    return b.takeError();
  auto c = readScalar(n, t, 6, 7, "C");
  if (!c)
    return c.takeError();
  // C's type is C_zero_point's (ops/QLinearOps.cpp inferBinary).
  const ElemType e = n.input(7) && n.input(7)->type.elem.isInt() && n.input(7)->type.elem.bits() <= 8
                         ? n.input(7)->type.elem
                         : inType(n, 0).elem;
  LoweredStep s = makeStep(isAdd ? "QAddFma" : "QMul");
  s.node.attrs["a_zero_point"] = int64_t(a->zp);
  s.node.attrs["b_zero_point"] = int64_t(b->zp);
  setOutputType(s.node, e, c->zp);
  if (isAdd) {
    // ORT's float32 ratios s_a / s_c and s_b / s_c (MLAS QLinearAdd).
    s.node.attrs["a_ratio"] = a->scale / c->scale;
    s.node.attrs["b_ratio"] = b->scale / c->scale;
  } else {
    float m = a->scale * b->scale;
    m = m / c->scale;
    setRequants(s.node, {Requant::make(double(a->scale) * b->scale / c->scale, Rounding::Onnx, m)});
  }
  s.inputs = {nodeInput(0), nodeInput(3)};
  Lowering l;
  l.outQuant = gridInfo(c->scale, c->zp, e);
  l.steps.push_back(std::move(s));
  return l;
}

// ---- com.microsoft QLinearGlobalAveragePool ---------------------------------------

Expected<Lowering> lowerGlobalAveragePool(const Node &n, TensorOf t) {
  if (n.getInt("channels_last", 0) != 0)
    return nodeError(n, "channels_last=1 (NHWC) is not supported; qcc keeps NCHW");
  auto x = readScalar(n, t, 1, 2, "input");
  if (!x)
    return x.takeError();
  auto y = readScalar(n, t, 3, 4, "output");
  if (!y)
    return y.takeError();
  const Shape &shape = inType(n, 0).shape;
  if (shape.size() < 3)
    return nodeError(n, "input must be N x C x spatial, is {}", inType(n, 0).str());
  int64_t area = 1;
  for (size_t d = 2; d < shape.size(); ++d)
    area *= shape[d];
  const ElemType e = inType(n, 0).elem;
  LoweredStep s = makeStep("QGlobalAveragePool");
  s.node.attrs["x_zero_point"] = int64_t(x->zp);
  setOutputType(s.node, e, y->zp);
  // ORT (MLAS): x_scale / (y_scale * float(image_size)) in float32.
  float m = y->scale * float(area);
  m = x->scale / m;
  setRequants(s.node, {Requant::make(double(x->scale) / (double(y->scale) * double(area)), Rounding::Onnx, m)});
  s.inputs = {nodeInput(0)};
  Lowering l;
  l.outQuant = gridInfo(y->scale, y->zp, e);
  l.steps.push_back(std::move(s));
  return l;
}

// ---- lookup-table ops: QLinearConcat's rescaling, QLinearSigmoid, QLinearLeakyRelu ----

LoweredStep lutStep(std::vector<int64_t> table, ElemType y, size_t input) {
  LoweredStep s = makeStep("Lut");
  s.node.attrs["table"] = std::move(table);
  s.node.attrs["out_bits"] = int64_t(y.bits());
  s.node.attrs["out_signed"] = int64_t(y.isSigned() ? 1 : 0);
  s.inputs = {nodeInput(input)};
  return s;
}

Expected<Lowering> lowerUnaryTable(const Node &n, TensorOf t, llvm::function_ref<float(float)> f) {
  // 8-bit for ORT; 2..8 bits for QONNX units (quant/ImportQdq.h), whose
  // output type is the output zero point's (ORT's is always the input's).
  const ElemType e = inType(n, 0).elem;
  if (!e.isInt() || e.bits() < 2 || e.bits() > 8)
    return nodeError(n, "input must be an integer of 2 to 8 bits, is {}", inType(n, 0).str());
  auto x = readScalar(n, t, 1, 2, "input");
  if (!x)
    return x.takeError();
  auto y = readScalar(n, t, 3, 4, "output");
  if (!y)
    return y.takeError();
  const ElemType ye = zpElem(n, 4, e);
  if (!ye.isInt() || ye.bits() < 2 || ye.bits() > 8)
    return nodeError(n, "output must be an integer of 2 to 8 bits, is {}", ye.str());
  Lowering l;
  l.steps.push_back(lutStep(ortLookupTable(e, x->scale, x->zp, ye, y->scale, y->zp, f), ye, 0));
  l.outQuant = gridInfo(y->scale, y->zp, ye);
  return l;
}

Expected<Lowering> lowerConcat(const Node &n, TensorOf t) {
  if (n.inputs.size() < 5 || (n.inputs.size() - 2) % 3 != 0)
    return nodeError(n, "expects Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples; has {} inputs",
                     n.inputs.size());
  auto y = readScalar(n, t, 0, 1, "output");
  if (!y)
    return y.takeError();
  const ElemType ye = zpElem(n, 1, ElemType::intN(8, false));
  const size_t count = (n.inputs.size() - 2) / 3;
  const int64_t rank = n.input(2) ? inType(n, 2).rank() : 0;
  int64_t axis = n.getInt("axis", 0);
  if (axis < -rank || axis >= rank)
    return nodeError(n, "axis {} is out of range for rank {}", axis, rank);
  Lowering l;
  LoweredStep cat = makeStep("Concat", "");
  cat.node.attrs["axis"] = axis < 0 ? axis + rank : axis;
  for (size_t i = 0; i < count; ++i) {
    const size_t xi = 2 + 3 * i;
    if (!n.input(xi))
      return nodeError(n, "input {} is missing", xi);
    const ElemType xe = inType(n, xi).elem;
    if (xe != ye || xe.bits() != 8)
      return nodeError(n, "input {} is {}, the output is {}: QLinearConcat takes 8-bit inputs of the output's type",
                       xi, inType(n, xi).str(), ye.str());
    auto x = readScalar(n, t, xi + 1, xi + 2, "input");
    if (!x)
      return x.takeError();
    if (x->scale == y->scale && x->zp == y->zp) { // ORT copies these unchanged
      cat.inputs.push_back(nodeInput(xi));
      continue;
    }
    l.steps.push_back(lutStep(ortLookupTable(xe, x->scale, x->zp, ye, y->scale, y->zp, [](float v) { return v; }),
                              ye, xi));
    cat.inputs.push_back(stepInput(l.steps.size() - 1));
  }
  l.steps.push_back(std::move(cat));
  l.outQuant = gridInfo(y->scale, y->zp, ye);
  return l;
}

float sigmoid(float v) { return float(1.0 / (1.0 + std::exp(-double(v)))); }

} // namespace

// ---- public ---------------------------------------------------------------------

int32_t quantizeLinear(float v, float scale, int32_t zp, ElemType y) {
  const QuantInfo q = rangeOf(y);
  // MLAS: divide, clamp to the range shifted by the zero point, round half to even.
  float r = v / scale;
  r = std::fmax(r, float(q.qmin() - zp));
  r = std::fmin(r, float(q.qmax() - zp));
  return int32_t(std::nearbyint(r)) + zp;
}

std::vector<int64_t> ortLookupTable(ElemType x, float xScale, int32_t xZp, ElemType y, float yScale, int32_t yZp,
                                    llvm::function_ref<float(float)> f) {
  const QuantInfo q = rangeOf(x);
  std::vector<int64_t> table;
  for (int64_t v = q.qmin(); v <= q.qmax(); ++v) {
    float d = xScale * float(int32_t(v) - xZp); // ORT: X_scale * (int(x) - int(X_zero_point))
    table.push_back(quantizeLinear(f(d), yScale, yZp, y));
  }
  return table;
}

Expected<MatMulQuant> matMulQuant(const Node &n, TensorOf t) {
  const bool integerOut = n.op == "MatMulInteger";
  const size_t bIdx = integerOut ? 1 : 3, bzIdx = integerOut ? 3 : 5;
  if (!n.input(0) || !n.input(bIdx))
    return nodeError(n, "A and B are required");
  const Shape &as = inType(n, 0).shape, &bs = inType(n, bIdx).shape;
  if (as.empty() || bs.empty())
    return nodeError(n, "A and B must have rank 1 or more");
  const int64_t M = as.size() == 1 ? 1 : as[as.size() - 2], N = bs.size() == 1 ? 1 : bs.back();
  MatMulQuant q;
  auto az = readZeroPoint(n, t, 2, "A");
  if (!az)
    return az.takeError();
  if (az->size() != 1 && int64_t(az->size()) != M)
    return nodeError(n, "A zero point has {} values, expected 1 or {} (per row)", az->size(), M);
  q.az = *az;
  auto bz = readZeroPoint(n, t, bzIdx, "B");
  if (!bz)
    return bz.takeError();
  if (bz->size() != 1 && int64_t(bz->size()) != N)
    return nodeError(n, "B zero point has {} values, expected 1 or {} (per column)", bz->size(), N);
  q.bz = *bz;
  if (integerOut) {
    q.y = ElemType::i32();
    q.rq = identityRequant();
    return q;
  }
  if (q.az.size() != 1)
    return nodeError(n, "A zero point must be a scalar (per-tensor)");
  auto a = readScalar(n, t, 1, kNone, "A");
  if (!a)
    return a.takeError();
  auto bsc = readScale(n, t, 4, "B");
  if (!bsc)
    return bsc.takeError();
  if (bsc->size() != 1 && int64_t(bsc->size()) != N)
    return nodeError(n, "B scale has {} values, expected 1 or {} (per column)", bsc->size(), N);
  auto y = readScalar(n, t, 6, 7, "output");
  if (!y)
    return y.takeError();
  q.y = zpElem(n, 7, inType(n, 0).elem);
  q.yz = y->zp;
  q.yScale = y->scale;
  q.rq = productRequants(a->scale, *bsc, y->scale);
  return q;
}

bool isQOperatorOp(const Node &n) {
  static const char *onnxOps[] = {"QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger"};
  static const char *msOps[] = {"QGemm",        "QLinearAdd",     "QLinearMul",      "QLinearGlobalAveragePool",
                                "QLinearConcat", "QLinearSigmoid", "QLinearLeakyRelu"};
  if (n.domain.empty()) {
    for (const char *o : onnxOps)
      if (n.op == o)
        return true;
  } else if (n.domain == "com.microsoft") {
    for (const char *o : msOps)
      if (n.op == o)
        return true;
  }
  return false;
}

std::vector<size_t> qoperatorParamInputs(const Node &n) {
  if (n.op == "QLinearConv" || n.op == "QLinearMatMul" || n.op == "QLinearAdd" || n.op == "QLinearMul")
    return {1, 2, 4, 5, 6, 7};
  if (n.op == "ConvInteger" || n.op == "MatMulInteger")
    return {2, 3};
  if (n.op == "QGemm")
    return {1, 2, 4, 5, 7, 8};
  if (n.op == "QLinearGlobalAveragePool" || n.op == "QLinearSigmoid" || n.op == "QLinearLeakyRelu")
    return {1, 2, 3, 4};
  if (n.op == "QLinearConcat") {
    std::vector<size_t> v{0, 1};
    for (size_t i = 2; i + 2 < n.inputs.size(); i += 3) {
      v.push_back(i + 1);
      v.push_back(i + 2);
    }
    return v;
  }
  return {};
}

bool matMulLowersToQGemm(const Node &n, TensorOf tensorOf) {
  const bool integer = n.op == "MatMulInteger";
  const size_t bIdx = integer ? 1 : 3;
  const Tensor *b = n.input(bIdx) ? tensorOf(bIdx) : nullptr;
  const Tensor *az = n.input(2) ? tensorOf(2) : nullptr;
  return b && b->rank() == 2 && (!n.input(2) || (az && az->size() == 1)) && n.input(0) && inType(n, 0).rank() >= 1;
}

Expected<Lowering> lowerQOperator(const Node &n, TensorOf tensorOf) {
  if (n.domain.empty()) {
    if (n.op == "QLinearConv")
      return lowerConv(n, tensorOf, false);
    if (n.op == "ConvInteger")
      return lowerConv(n, tensorOf, true);
    if (n.op == "QLinearMatMul" || n.op == "MatMulInteger")
      return lowerMatMul(n, tensorOf);
  } else if (n.domain == "com.microsoft") {
    if (n.op == "QGemm")
      return lowerQGemm(n, tensorOf);
    if (n.op == "QLinearAdd")
      return lowerBinary(n, tensorOf, true);
    if (n.op == "QLinearMul")
      return lowerBinary(n, tensorOf, false);
    if (n.op == "QLinearGlobalAveragePool")
      return lowerGlobalAveragePool(n, tensorOf);
    if (n.op == "QLinearConcat")
      return lowerConcat(n, tensorOf);
    if (n.op == "QLinearSigmoid")
      return lowerUnaryTable(n, tensorOf, sigmoid);
    if (n.op == "QLinearLeakyRelu") {
      const float alpha = n.getFloat("alpha", 0.01f);
      return lowerUnaryTable(n, tensorOf, [alpha](float v) { return v >= 0.f ? v : alpha * v; });
    }
  }
  return nodeError(n, "is not a QOperator op qcc lowers");
}

// ---- running and applying a lowering ------------------------------------------------

namespace {

const OpDef *stepDef(const LoweredStep &s) { return OpRegistry::get().lookup(s.node.domain, s.node.op); }

} // namespace

Error evalLowering(const Node &n, const Lowering &l, llvm::ArrayRef<const Tensor *> in,
                   llvm::MutableArrayRef<Tensor> out) {
  std::vector<Tensor> results(l.steps.size());
  for (size_t si = 0; si < l.steps.size(); ++si) {
    const LoweredStep &s = l.steps[si];
    const OpDef *def = stepDef(s);
    if (!def)
      return nodeError(n, "lowered op {}::{} is not registered", s.node.domain, s.node.op);
    // A throwaway node over throwaway values carrying the input types.
    std::vector<Value> values(s.inputs.size());
    std::vector<const Tensor *> ins;
    Node tmp = s.node;
    tmp.name = n.name;
    tmp.inputs.clear();
    for (size_t j = 0; j < s.inputs.size(); ++j) {
      const LoweredInput &li = s.inputs[j];
      const Tensor *tensor = nullptr;
      switch (li.kind) {
      case LoweredInput::Kind::NodeInput: tensor = li.index < in.size() ? in[li.index] : nullptr; break;
      case LoweredInput::Kind::Constant: tensor = &li.constant; break;
      case LoweredInput::Kind::Step: tensor = &results[li.index]; break;
      }
      if (!tensor) {
        tmp.inputs.push_back(nullptr);
        ins.push_back(nullptr);
        continue;
      }
      values[j].type = tensor->type();
      if (li.kind == LoweredInput::Kind::Constant)
        values[j].constant = *tensor;
      tmp.inputs.push_back(&values[j]);
      ins.push_back(tensor);
    }
    Value outValue;
    tmp.outputs = {&outValue};
    if (auto e = def->infer(tmp))
      return e;
    Tensor result(outValue.type.elem, outValue.type.shape);
    if (auto e = def->eval(tmp, ins, llvm::MutableArrayRef<Tensor>(result)))
      return e;
    results[si] = std::move(result);
  }
  const Tensor &last = results.back();
  if (out.empty() || last.type() != out[0].type())
    return nodeError(n, "lowered result is {}, the node's output is {}", last.type().str(),
                     out.empty() ? std::string("missing") : out[0].type().str());
  std::memcpy(out[0].raw(), last.raw(), last.bytes());
  return Error::success();
}

Error applyLowering(Graph &g, Node &n, const Lowering &l) {
  Value *result = n.output(0);
  if (!result)
    return nodeError(n, "has no output");
  const TensorType expected = result->type;
  std::vector<Value *> stepValues;
  for (size_t si = 0; si < l.steps.size(); ++si) {
    const LoweredStep &s = l.steps[si];
    const OpDef *def = stepDef(s);
    if (!def)
      return nodeError(n, "lowered op {}::{} is not registered", s.node.domain, s.node.op);
    auto node = std::make_unique<Node>(s.node);
    const bool last = si + 1 == l.steps.size();
    node->name = last ? n.name : fmt::format("{}/{}{}", n.name, s.node.op, si);
    node->inputs.clear();
    for (const LoweredInput &li : s.inputs) {
      switch (li.kind) {
      case LoweredInput::Kind::NodeInput: node->inputs.push_back(n.input(li.index)); break;
      case LoweredInput::Kind::Constant:
        node->inputs.push_back(g.addConstant(g.uniqueName(n.name + "/" + li.name), li.constant));
        break;
      case LoweredInput::Kind::Step: node->inputs.push_back(stepValues[li.index]); break;
      }
    }
    Value *o = last ? result : g.addValue(g.uniqueName(node->name), TensorType{});
    node->outputs = {o};
    if (auto e = def->infer(*node))
      return e;
    if (last && o->type != expected)
      return nodeError(n, "lowered result is {}, the node's output is {}", o->type.str(), expected.str());
    stepValues.push_back(o);
    g.insertNodeBefore(&n, std::move(node));
  }
  if (l.outQuant)
    result->quant = l.outQuant;
  g.eraseNode(&n);
  return Error::success();
}

} // namespace qcc
