// Binary arithmetic with numpy broadcasting (Add, Sub, Mul, Div, Pow, Max,
// Min, Mod), comparisons (Equal, Less, Greater, ...), Where, and unary math
// (Sqrt, Erf, Exp, Log, Neg, Abs, Reciprocal, Floor, Ceil, Round, Not).
#include "ops/Broadcast.h"
#include "ops/OpRegistry.h"

#include <cmath>
#include <cstring>

namespace qcc {

namespace {

enum class BinOp { Add, Sub, Mul, Div, Pow, Max, Min, Mod, Equal, Less, Greater, LessOrEqual, GreaterOrEqual, And, Or, Xor };

BinOp binOpOf(const std::string &op) {
  static const std::pair<const char *, BinOp> table[] = {
      {"Add", BinOp::Add}, {"Sub", BinOp::Sub}, {"Mul", BinOp::Mul}, {"Div", BinOp::Div},
      {"Pow", BinOp::Pow}, {"Max", BinOp::Max}, {"Min", BinOp::Min}, {"Mod", BinOp::Mod},
      {"Equal", BinOp::Equal}, {"Less", BinOp::Less}, {"Greater", BinOp::Greater},
      {"LessOrEqual", BinOp::LessOrEqual}, {"GreaterOrEqual", BinOp::GreaterOrEqual},
      {"And", BinOp::And}, {"Or", BinOp::Or}, {"Xor", BinOp::Xor}};
  for (auto &[name, b] : table)
    if (op == name)
      return b;
  return BinOp::Add;
}

bool isComparison(BinOp b) { return b >= BinOp::Equal; }

template <typename T> T applyArith(BinOp op, T a, T b, bool fmod) {
  switch (op) {
  case BinOp::Add: return T(a + b);
  case BinOp::Sub: return T(a - b);
  case BinOp::Mul: return T(a * b);
  case BinOp::Div:
    if constexpr (std::is_integral_v<T>)
      return b == 0 ? T(0) : T(a / b);
    else
      return a / b;
  case BinOp::Pow: return T(std::pow(double(a), double(b)));
  case BinOp::Max: return a > b ? a : b;
  case BinOp::Min: return a < b ? a : b;
  case BinOp::Mod:
    if constexpr (std::is_integral_v<T>) {
      if (b == 0)
        return T(0);
      if (fmod)
        return T(a % b);
      T r = T(a % b);
      return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
    } else {
      return fmod ? T(std::fmod(a, b)) : T(a - b * std::floor(a / b));
    }
  default: return a;
  }
}

template <typename T> bool applyCompare(BinOp op, T a, T b) {
  switch (op) {
  case BinOp::Equal: return a == b;
  case BinOp::Less: return a < b;
  case BinOp::Greater: return a > b;
  case BinOp::LessOrEqual: return a <= b;
  case BinOp::GreaterOrEqual: return a >= b;
  case BinOp::And: return bool(a) && bool(b);
  case BinOp::Or: return bool(a) || bool(b);
  case BinOp::Xor: return bool(a) != bool(b);
  default: return false;
  }
}

llvm::Error inferBinary(Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  const TensorType &a = inType(n, 0), &b = inType(n, 1);
  // Pow allows a different exponent type; the others need equal types.
  if (a.elem != b.elem && n.op != "Pow")
    return nodeError(n, "input types differ: {} and {}", a.str(), b.str());
  auto shape = broadcastShapes(n, a.shape, b.shape);
  if (!shape)
    return shape.takeError();
  BinOp op = binOpOf(n.op);
  setOutput(n, 0, isComparison(op) ? ElemType::boolean() : a.elem, *shape);
  return llvm::Error::success();
}

// Float32 fast paths: same shape, or a scalar / per-channel broadcast handled by
// the general iterator. The general path covers every dtype.
template <typename T, typename R, typename F>
void runBinary(const Tensor &a, const Tensor &b, Tensor &y, F &&f) {
  const T *pa = a.data<T>();
  const T *pb = b.data<T>();
  R *py = y.data<R>();
  const int64_t n = y.size();
  if (a.shape() == y.shape() && b.shape() == y.shape()) {
    for (int64_t i = 0; i < n; ++i)
      py[i] = f(pa[i], pb[i]);
  } else if (a.shape() == y.shape() && b.size() == 1) {
    const T s = pb[0];
    for (int64_t i = 0; i < n; ++i)
      py[i] = f(pa[i], s);
  } else {
    forEachBroadcast(y.shape(), a.shape(), b.shape(),
                     [&](int64_t o, int64_t ia, int64_t ib) { py[o] = f(pa[ia], pb[ib]); });
  }
}

llvm::Error evalBinary(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &a = *in[0];
  Tensor b = *in[1];
  BinOp op = binOpOf(n.op);
  bool fmod = n.getInt("fmod", 0) != 0;
  if (op == BinOp::Pow && b.elem() != a.elem()) { // exponent of another type
    Tensor conv(a.elem(), b.shape());
    for (int64_t i = 0; i < b.size(); ++i)
      conv.setDouble(i, b.getDouble(i));
    b = conv;
  }
  Tensor &y = out[0];
  return dispatchStorage(a.elem().storage(), [&](auto tag) -> llvm::Error {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      if (!isComparison(op))
        return nodeError(n, "arithmetic on bool tensors is not supported");
    }
    if (isComparison(op))
      runBinary<T, bool>(a, b, y, [&](T x, T z) { return applyCompare(op, x, z); });
    else if constexpr (!std::is_same_v<T, bool>)
      runBinary<T, T>(a, b, y, [&](T x, T z) { return applyArith(op, x, z, fmod); });
    if (op == BinOp::Add)
      applyFusedClamp(n, y);
    return llvm::Error::success();
  });
}

// ---- Where ----------------------------------------------------------------

llvm::Error inferWhere(Node &n) {
  if (auto e = expectInputs(n, 3, 3))
    return e;
  auto s1 = broadcastShapes(n, inType(n, 0).shape, inType(n, 1).shape);
  if (!s1)
    return s1.takeError();
  auto s2 = broadcastShapes(n, *s1, inType(n, 2).shape);
  if (!s2)
    return s2.takeError();
  setOutput(n, 0, inType(n, 1).elem, *s2);
  return llvm::Error::success();
}

llvm::Error evalWhere(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  Tensor &y = out[0];
  const Shape &s = y.shape();
  auto sc = broadcastStrides(in[0]->shape(), s), sx = broadcastStrides(in[1]->shape(), s),
       sy = broadcastStrides(in[2]->shape(), s);
  const bool *c = in[0]->data<bool>();
  size_t es = y.elem().storageBytes();
  const std::byte *px = in[1]->raw(), *py = in[2]->raw();
  std::byte *po = y.raw();
  std::vector<int64_t> idx(s.size(), 0);
  for (int64_t o = 0; o < y.size(); ++o) {
    int64_t ic = 0, ix = 0, iy = 0, rem = o;
    for (size_t d = s.size(); d-- > 0;) {
      int64_t k = rem % s[d];
      rem /= s[d];
      ic += k * sc[d];
      ix += k * sx[d];
      iy += k * sy[d];
    }
    std::memcpy(po + o * int64_t(es), c[ic] ? px + ix * int64_t(es) : py + iy * int64_t(es), es);
  }
  return llvm::Error::success();
}

// ---- unary math -------------------------------------------------------------

llvm::Error inferSameType(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  setOutput(n, 0, inType(n, 0).elem, inType(n, 0).shape);
  return llvm::Error::success();
}

template <double (*F)(double)> llvm::Error evalUnary(const Node &n, llvm::ArrayRef<const Tensor *> in,
                                                     llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  Tensor &y = out[0];
  if (x.elem() == ElemType::f32()) {
    const float *px = x.data<float>();
    float *py = y.data<float>();
    for (int64_t i = 0; i < x.size(); ++i)
      py[i] = float(F(double(px[i])));
    return llvm::Error::success();
  }
  for (int64_t i = 0; i < x.size(); ++i)
    y.setDouble(i, F(x.getDouble(i)));
  return llvm::Error::success();
}

double opSqrt(double x) { return std::sqrt(x); }
double opErf(double x) { return std::erf(x); }
double opExp(double x) { return std::exp(x); }
double opLog(double x) { return std::log(x); }
double opNeg(double x) { return -x; }
double opAbs(double x) { return std::fabs(x); }
double opReciprocal(double x) { return 1.0 / x; }
double opFloor(double x) { return std::floor(x); }
double opCeil(double x) { return std::ceil(x); }
double opRound(double x) { return std::nearbyint(x); } // half to even under the default mode
double opNot(double x) { return x == 0.0 ? 1.0 : 0.0; }

// ---- variadic Max, Min, Sum, Mean ---------------------------------------------
// Any number of inputs, broadcast together (numpy rules). Max and Min
// propagate NaN as numpy's maximum/minimum do.

llvm::Error inferVariadic(Node &n) {
  if (n.inputs.empty())
    return nodeError(n, "needs at least one input");
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (!n.inputs[i])
      return nodeError(n, "input {} is missing", i);
  const TensorType &first = inType(n, 0);
  if (!first.elem.isFloat() && !first.elem.isInt())
    return nodeError(n, "inputs are {}; {} needs numbers", first.elem.str(), n.op);
  Shape shape = first.shape;
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (inType(n, i).elem != first.elem)
      return nodeError(n, "input {} is {}, but input 0 is {}", i, inType(n, i).elem.str(), first.elem.str());
    auto s = broadcastShapes(n, shape, inType(n, i).shape);
    if (!s)
      return s.takeError();
    shape = *s;
  }
  setOutput(n, 0, first.elem, shape);
  return llvm::Error::success();
}

/// y = f(y, x) with x broadcast to y's shape.
template <typename T, typename F> void accumulateInto(Tensor &y, const Tensor &x, F &&f) {
  T *py = y.data<T>();
  const T *px = x.data<T>();
  const int64_t n = y.size();
  if (x.shape() == y.shape()) {
    for (int64_t i = 0; i < n; ++i)
      py[i] = f(py[i], px[i]);
  } else if (x.size() == 1) {
    for (int64_t i = 0; i < n; ++i)
      py[i] = f(py[i], px[0]);
  } else {
    forEachBroadcast(y.shape(), y.shape(), x.shape(),
                     [&](int64_t o, int64_t, int64_t ix) { py[o] = f(py[o], px[ix]); });
  }
}

llvm::Error evalVariadic(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  Tensor &y = out[0];
  return dispatchStorage(y.elem().storage(), [&](auto tag) -> llvm::Error {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      return nodeError(n, "inputs are bool; {} needs numbers", n.op);
    } else {
      // Start from input 0 broadcast to the output, then fold in the others.
      accumulateInto<T>(y, *in[0], [](T, T x) { return x; });
      const bool isMax = n.op == "Max", isMin = n.op == "Min";
      for (size_t i = 1; i < in.size(); ++i) {
        if (isMax)
          accumulateInto<T>(y, *in[i], [](T a, T b) { return (a > b || a != a) ? a : b; });
        else if (isMin)
          accumulateInto<T>(y, *in[i], [](T a, T b) { return (a < b || a != a) ? a : b; });
        else
          accumulateInto<T>(y, *in[i], [](T a, T b) { return T(a + b); });
      }
      if (n.op == "Mean") {
        const T count = T(in.size());
        T *py = y.data<T>();
        for (int64_t i = 0; i < y.size(); ++i)
          py[i] = T(py[i] / count);
      }
      return llvm::Error::success();
    }
  });
}

} // namespace

void registerElementwiseOps(OpRegistry &r) {
  for (const char *op : {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "Greater",
                         "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"})
    r.add({op, "", nullptr, inferBinary, evalBinary});
  r.add({"Where", "", nullptr, inferWhere, evalWhere});
  r.add({"Sqrt", "", nullptr, inferSameType, evalUnary<opSqrt>});
  r.add({"Erf", "", nullptr, inferSameType, evalUnary<opErf>});
  r.add({"Exp", "", nullptr, inferSameType, evalUnary<opExp>});
  r.add({"Log", "", nullptr, inferSameType, evalUnary<opLog>});
  r.add({"Neg", "", nullptr, inferSameType, evalUnary<opNeg>});
  r.add({"Abs", "", nullptr, inferSameType, evalUnary<opAbs>});
  r.add({"Reciprocal", "", nullptr, inferSameType, evalUnary<opReciprocal>});
  r.add({"Floor", "", nullptr, inferSameType, evalUnary<opFloor>});
  r.add({"Ceil", "", nullptr, inferSameType, evalUnary<opCeil>});
  r.add({"Round", "", nullptr, inferSameType, evalUnary<opRound>});
  r.add({"Not", "", nullptr, inferSameType, evalUnary<opNot>});
  for (const char *op : {"Max", "Min", "Sum", "Mean"})
    r.add({op, "", nullptr, inferVariadic, evalVariadic});
}

} // namespace qcc
