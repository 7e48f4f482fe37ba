// QONNX ops in the float reference interpreter, with the exact semantics of the
// qonnx reference code (fastmachinelearning/qonnx, src/qonnx/custom_op/), which
// DESIGN.md makes the definition ("match the code, not the docs").
//
// Registered in the domains onnx.brevitas, qonnx.custom_op.general and
// finn.custom_op.general (a model may lack an opset import for them: the
// frontend then reads version 1, as qonnx's executor does):
//
//   Quant(x, scale, zeropt, bitwidth)  (general/intquant.py, int_quant)
//     attrs signed (1), narrow (1), rounding_mode ("ROUND"). qonnx declares
//     signed and narrow required with default 1; qcc applies the default when
//     they are absent (DESIGN.md: "narrow defaults to 1 in code").
//       y = x / scale + zeropt
//       1-bit signed: y = y >= 0 ? 1 : -1 (narrow and rounding_mode ignored)
//       otherwise:    y = round_mode(clamp(y, min_int, max_int))  (clamp first)
//       out = (y - zeropt) * scale, cast to f32
//   BipolarQuant(x, scale)  (general/bipolar_quant.py, binary_quant)
//       out = (x >= 0 ? 1 : -1) * scale      (NaN -> -1)
//   Trunc  (general/trunc.py; the version is the domain's opset, as qonnx's
//     registry picks Trunc_v1 / Trunc_v2). rounding_mode default "FLOOR".
//     v1 (x, scale, zeropt, in_bits, out_bits):
//       y = round_mode(rint(x / scale + zeropt) / 2^(in_bits - out_bits))
//       out = (y - zeropt) * scale
//     v2 (x, scale, zeropt, in_bits, out_scale, out_bits), attrs signed (1),
//     narrow (0):
//       t = 2^rint(log2(out_scale / scale))
//       y = round_mode(clamp(rint(x / scale + zeropt) / t, out range))
//       out = (y - zeropt / t) * out_scale
//   MultiThreshold(x, thresholds)  (general/multithreshold.py)
//     attrs out_dtype (required, a qonnx DataType name), out_scale (1),
//     out_bias (0), data_layout (""). thresholds: [C or 1, B].
//       out = out_scale * #{t in thresholds[c] : x >= t} + out_bias
//     c is the index along the channel axis: data_layout.index('C'), or when
//     data_layout is empty, 1 except for rank 3 (qonnx guesses "NWC": axis 2).
//
// Numerics: numpy evaluates these in the inputs' dtype (float32 for float32
// tensors; float64 as soon as one operand is float64 or an integer array), op
// by op in the order written above; the kernels below do the same in T = float
// or double, so float32 results are bit-identical. Bounds min_int/max_int are
// 2**bitwidth arithmetic in the bit width tensor's dtype (float32 for the usual
// float32 initializer: above 24 bits they round as numpy rounds them).
// Rounding modes: ops/QonnxRounding.h (parser and numpy's rounding steps).
//
// Domain qonnx.custom_op.channels_last (custom_op/channels_last/): Conv,
// MaxPool and BatchNormalization on channels-last tensors. qonnx runs them as
// transpose to channels-first (input 0, and for Conv also the weight input 1,
// stored [Cout, k..., Cin/group]) + the standard ONNX op + transpose back; the
// eval here does exactly that around qcc's own op. The standard op is read at
// the model's default-domain opset (qonnx asks onnxruntime for the op at its
// class version, 1 without an opset import, where the MaxPool nodes of real
// channels-last models fail: ceil_mode is no attribute of MaxPool-1).
#include "ops/Broadcast.h"
#include "ops/OpRegistry.h"
#include "ops/QonnxRounding.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace qcc {

namespace {

using llvm::Error;
Error ok() { return Error::success(); }

const char *const kQonnxDomains[] = {"onnx.brevitas", "qonnx.custom_op.general", "finn.custom_op.general"};
const char *const kChannelsLastDomain = "qonnx.custom_op.channels_last";

// ---- integer ranges (intquant.py, min_int / max_int) -------------------------

int64_t minInt(bool isSigned, bool narrow, int64_t bits) {
  if (isSigned)
    return -(int64_t(1) << (bits - 1)) + (narrow ? 1 : 0);
  return 0;
}

int64_t maxInt(bool isSigned, bool narrow, int64_t bits) {
  if (!isSigned)
    return (int64_t(1) << bits) - (narrow ? 2 : 1);
  return (int64_t(1) << (bits - 1)) - 1;
}

/// A bound as numpy holds it: float32 when the bit width tensor is float32
/// (2**bw is then float32 arithmetic), else exact.
double boundValue(int64_t v, bool f32) { return f32 ? double(float(v)) : double(v); }

// ---- operand checks ------------------------------------------------------------

/// `p` must broadcast to `x` without growing it (numpy would widen the output).
Error checkBroadcastsTo(const Node &n, size_t i, const char *what, const Shape &p, const Shape &x) {
  bool okShape = p.size() <= x.size();
  for (size_t d = 0; okShape && d < p.size(); ++d) {
    const int64_t pd = p[p.size() - 1 - d], xd = x[x.size() - 1 - d];
    okShape = pd == 1 || pd == xd;
  }
  if (!okShape)
    return nodeError(n, "{} (input {}, '{}') has shape [{}], which does not broadcast to the input's [{}]", what, i,
                     n.input(i)->name, fmt::join(p, ","), fmt::join(x, ","));
  return ok();
}

/// Input i: a constant float tensor whose values are finite (and > 0 when
/// `positive`), broadcasting to x.
Error checkParam(const Node &n, size_t i, const char *what, bool positive) {
  Value *v = n.input(i);
  if (!v)
    return nodeError(n, "{} (input {}) is missing", what, i);
  if (!v->isConstant())
    return nodeError(n, "{} (input {}, '{}') must be a constant", what, i, v->name);
  if (v->type.elem.isBool() || v->type.elem.kind() == ElemType::Kind::Bipolar)
    return nodeError(n, "{} (input {}, '{}') is {}, expected a float tensor", what, i, v->name, v->type.str());
  if (v->constant->size() == 0)
    return nodeError(n, "{} (input {}, '{}') is empty", what, i, v->name);
  for (int64_t k = 0; k < v->constant->size(); ++k) {
    const double s = v->constant->getDouble(k);
    if (!std::isfinite(s) || (positive && !(s > 0)))
      return nodeError(n, "{} (input {}, '{}') holds {}; it must be {}", what, i, v->name, s,
                       positive ? "positive and finite" : "finite");
  }
  return checkBroadcastsTo(n, i, what, v->type.shape, inType(n, 0).shape);
}

/// Input i: a constant bit width, one integer value in [1, 32].
llvm::Expected<int64_t> bitWidth(const Node &n, size_t i, const char *what) {
  Value *v = n.input(i);
  if (!v)
    return nodeError(n, "{} (input {}) is missing", what, i);
  if (!v->isConstant())
    return nodeError(n, "{} (input {}, '{}') must be a constant; qcc compiles fixed bit widths", what, i, v->name);
  if (v->constant->size() != 1)
    return nodeError(n, "{} (input {}, '{}') must hold one value, has {}", what, i, v->name, v->constant->size());
  const double b = v->constant->getDouble(0);
  if (!std::isfinite(b) || b != std::floor(b))
    return nodeError(n, "{} (input {}, '{}') is {}, not an integer", what, i, v->name, b);
  if (b < 1 || b > 32)
    return nodeError(n, "{} (input {}, '{}') is {}; supported bit widths are 1 to 32", what, i, v->name, b);
  return int64_t(b);
}

Error checkX(const Node &n) {
  if (!inType(n, 0).elem.isFloat())
    return nodeError(n, "input 0 ('{}') is {}, expected a float tensor", n.input(0)->name, inType(n, 0).str());
  return ok();
}

// ---- broadcasting iteration over x with up to four parameters ----------------

/// Calls f(i, off) for every element i of x, where off[k] is the flat index of
/// the element of parameter k that numpy broadcasting pairs with x[i].
template <size_t K, typename F> void forEachParam(const Shape &x, const std::array<Shape, K> &params, F &&f) {
  const size_t r = x.size();
  std::array<std::vector<int64_t>, K> strides;
  for (size_t k = 0; k < K; ++k)
    strides[k] = broadcastStrides(params[k], x);
  const int64_t count = numElements(x);
  std::array<int64_t, K> off{};
  if (r == 0) {
    if (count == 1)
      f(int64_t(0), off);
    return;
  }
  std::vector<int64_t> idx(r, 0);
  const int64_t inner = x[r - 1];
  for (int64_t o = 0; o < count; o += inner) {
    std::array<int64_t, K> cur = off;
    for (int64_t j = 0; j < inner; ++j) {
      f(o + j, cur);
      for (size_t k = 0; k < K; ++k)
        cur[k] += strides[k][r - 1];
    }
    for (int64_t d = int64_t(r) - 2; d >= 0; --d) {
      const size_t dd = size_t(d);
      ++idx[dd];
      for (size_t k = 0; k < K; ++k)
        off[k] += strides[k][dd];
      if (idx[dd] < x[dd])
        break;
      for (size_t k = 0; k < K; ++k)
        off[k] -= strides[k][dd] * idx[dd];
      idx[dd] = 0;
    }
  }
}

/// Elements of a tensor converted to T (as numpy's promotion would hold them).
template <typename T> std::vector<T> valuesAs(const Tensor &t) {
  std::vector<T> v(size_t(t.size()));
  if (t.elem() == ElemType::f32()) {
    const float *p = t.data<float>();
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = T(p[i]);
  } else {
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = T(t.getDouble(int64_t(i)));
  }
  return v;
}

/// Stores a T result into the f32 output.
template <typename T> void storeOut(Tensor &y, int64_t i, T v) { y.data<float>()[i] = float(v); }

// ---- Quant -----------------------------------------------------------------------

struct QuantParams {
  bool isSigned = true, narrow = true;
  int64_t bits = 8;
  QonnxRounding mode = QonnxRounding::HalfEven;
};

llvm::Expected<QuantParams> quantParams(const Node &n) {
  QuantParams p;
  p.isSigned = n.getInt("signed", 1) != 0;
  p.narrow = n.getInt("narrow", 1) != 0;
  auto b = bitWidth(n, 3, "bit width");
  if (!b)
    return b.takeError();
  p.bits = *b;
  auto m = qonnxRoundingOf(n, "ROUND");
  if (!m)
    return m.takeError();
  p.mode = *m;
  return p;
}

/// Records the grid of a Quant's output (QuantInfo, as DequantizeLinear's
/// canonicalize does) when it is one: constant integer bit width 2..32 (any
/// rounding mode: the result is always on the grid), one integer zero point
/// inside the range, a positive float32 scale per tensor or along one axis.
/// A Quant of a constant folds at import; quant/ImportQdq.h recovers its
/// integers from this grid (exactly: Quant's output is float32((q - z) * s)).
Error canonicalizeQuant(Node &n, int64_t) {
  Value *x = n.input(0), *s = n.input(1), *z = n.input(2), *b = n.input(3), *y = n.output(0);
  if (!x || !s || !z || !b || !y || !s->isConstant() || !z->isConstant() || !b->isConstant())
    return ok();
  if (s->constant->elem() != ElemType::f32() || b->constant->size() != 1 || z->constant->size() < 1)
    return ok();
  const double bits = b->constant->getDouble(0);
  const bool isSigned = n.getInt("signed", 1) != 0, narrow = n.getInt("narrow", 1) != 0;
  if (!(bits >= 2 && bits <= 32 && bits == std::floor(bits))) // 32: brevitas' Int32Bias
    return ok();
  const double zp = z->constant->getDouble(0);
  for (int64_t i = 0; i < z->constant->size(); ++i)
    if (z->constant->getDouble(i) != zp)
      return ok();
  const int64_t lo = minInt(isSigned, narrow, int64_t(bits)), hi = maxInt(isSigned, narrow, int64_t(bits));
  if (zp != std::floor(zp) || zp < double(lo) || zp > double(hi))
    return ok();
  const Shape &xs = x->type.shape, &ss = s->type.shape;
  if (ss.size() > xs.size())
    return ok();
  int64_t axis = -1;
  const size_t off = xs.size() - ss.size();
  for (size_t d = 0; d < ss.size(); ++d)
    if (ss[d] != 1) {
      if (axis >= 0 || ss[d] != xs[off + d])
        return ok();
      axis = int64_t(off + d);
    }
  QuantInfo q;
  q.scale = s->constant->toFloats();
  for (float v : q.scale)
    if (!(v > 0) || !std::isfinite(v))
      return ok();
  q.zeroPoint.assign(q.scale.size(), int64_t(zp));
  q.axis = axis;
  q.bits = unsigned(bits);
  q.isSigned = isSigned;
  q.narrow = narrow;
  q.rounding = Rounding::Onnx;
  y->quant = std::move(q);
  return ok();
}

Error inferQuant(Node &n) {
  if (auto e = expectInputs(n, 4, 4))
    return e;
  if (auto e = checkX(n))
    return e;
  if (auto e = checkParam(n, 1, "scale", true))
    return e;
  if (auto e = checkParam(n, 2, "zero point", false))
    return e;
  auto p = quantParams(n);
  if (!p)
    return p.takeError();
  setOutput(n, 0, ElemType::f32(), inType(n, 0).shape);
  return ok();
}

template <typename T>
void quantKernel(const QuantParams &p, bool boundsF32, const Tensor &x, const Tensor &s, const Tensor &z, Tensor &y) {
  const std::vector<T> xv = valuesAs<T>(x), sv = valuesAs<T>(s), zv = valuesAs<T>(z);
  const bool bipolar = p.bits == 1 && p.isSigned;
  const double lo = boundValue(minInt(p.isSigned, p.narrow, p.bits), boundsF32);
  const double hi = boundValue(maxInt(p.isSigned, p.narrow, p.bits), boundsF32);
  forEachParam<2>(x.shape(), {s.shape(), z.shape()}, [&](int64_t i, const std::array<int64_t, 2> &o) {
    const T sc = sv[size_t(o[0])], zp = zv[size_t(o[1])];
    T v = xv[size_t(i)] / sc;
    v = v + zp;
    if (bipolar) {
      v = v >= T(0) ? T(1) : T(-1);
    } else {
      if (double(v) > hi)
        v = T(hi);
      if (double(v) < lo)
        v = T(lo);
      v = qonnxRound(p.mode, v);
    }
    v = v - zp;
    storeOut(y, i, T(v * sc));
  });
}

Error evalQuant(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto p = quantParams(n);
  if (!p)
    return p.takeError();
  const bool f32 = in[0]->elem() == ElemType::f32() && in[1]->elem() == ElemType::f32() &&
                   in[2]->elem() == ElemType::f32();
  const bool boundsF32 = in[3]->elem() == ElemType::f32();
  if (f32)
    quantKernel<float>(*p, boundsF32, *in[0], *in[1], *in[2], out[0]);
  else
    quantKernel<double>(*p, boundsF32, *in[0], *in[1], *in[2], out[0]);
  return ok();
}

// ---- BipolarQuant ----------------------------------------------------------------

Error inferBipolarQuant(Node &n) {
  size_t count = n.inputs.size();
  while (count > 0 && !n.inputs[count - 1])
    --count;
  if (count > 2)
    return nodeError(n, "takes 2 inputs (x, scale), has {}: BipolarQuant has no zero point or bit width", count);
  if (auto e = expectInputs(n, 2, 2))
    return e;
  if (auto e = checkX(n))
    return e;
  if (auto e = checkParam(n, 1, "scale", true))
    return e;
  setOutput(n, 0, ElemType::f32(), inType(n, 0).shape);
  return ok();
}

template <typename T> void bipolarKernel(const Tensor &x, const Tensor &s, Tensor &y) {
  const std::vector<T> xv = valuesAs<T>(x), sv = valuesAs<T>(s);
  forEachParam<1>(x.shape(), {s.shape()}, [&](int64_t i, const std::array<int64_t, 1> &o) {
    const T v = xv[size_t(i)] >= T(0) ? T(1) : T(-1);
    storeOut(y, i, T(v * sv[size_t(o[0])]));
  });
}

Error evalBipolarQuant(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  if (in[0]->elem() == ElemType::f32() && in[1]->elem() == ElemType::f32())
    bipolarKernel<float>(*in[0], *in[1], out[0]);
  else
    bipolarKernel<double>(*in[0], *in[1], out[0]);
  return ok();
}

// ---- Trunc -------------------------------------------------------------------------

/// Trunc_v1 for domain opset 1 (or none), Trunc_v2 from opset 2 (qonnx's registry).
Error canonicalizeTrunc(Node &n, int64_t opset) {
  if (!n.has("qonnx_version"))
    n.attrs["qonnx_version"] = int64_t(opset >= 2 ? 2 : 1);
  return ok();
}

int64_t truncVersion(const Node &n) { return n.getInt("qonnx_version", 1); }

struct TruncParams {
  int64_t version = 1, inBits = 8, outBits = 8;
  bool isSigned = true, narrow = false;
  QonnxRounding mode = QonnxRounding::Floor;
};

llvm::Expected<TruncParams> truncParams(const Node &n) {
  TruncParams p;
  p.version = truncVersion(n);
  auto ib = bitWidth(n, 3, "input bit width");
  if (!ib)
    return ib.takeError();
  p.inBits = *ib;
  auto ob = bitWidth(n, p.version == 2 ? 5 : 4, "output bit width");
  if (!ob)
    return ob.takeError();
  p.outBits = *ob;
  auto m = qonnxRoundingOf(n, "FLOOR");
  if (!m)
    return m.takeError();
  p.mode = *m;
  if (p.version == 2) {
    const int64_t s = n.getInt("signed", 1), nr = n.getInt("narrow", 0);
    if ((s != 0 && s != 1) || (nr != 0 && nr != 1))
      return nodeError(n, "signed ({}) and narrow ({}) must be 0 or 1", s, nr);
    p.isSigned = s == 1;
    p.narrow = nr == 1;
  }
  return p;
}

Error inferTrunc(Node &n) {
  const int64_t version = truncVersion(n);
  if (version != 1 && version != 2)
    return nodeError(n, "unknown Trunc version {}", version);
  size_t count = n.inputs.size();
  while (count > 0 && !n.inputs[count - 1])
    --count;
  const size_t want = version == 2 ? 6 : 5;
  if (count != want)
    return nodeError(n, "Trunc version {} (the domain's opset) takes {} inputs, has {}{}", version, want, count,
                     version == 1 ? " (the 6-input form is Trunc version 2: import the domain at opset 2)"
                                  : " (the 5-input form is Trunc version 1)");
  if (auto e = expectInputs(n, want, want))
    return e;
  if (auto e = checkX(n))
    return e;
  if (auto e = checkParam(n, 1, "scale", true))
    return e;
  if (auto e = checkParam(n, 2, "zero point", false))
    return e;
  if (version == 2)
    if (auto e = checkParam(n, 4, "output scale", true))
      return e;
  auto p = truncParams(n);
  if (!p)
    return p.takeError();
  setOutput(n, 0, ElemType::f32(), inType(n, 0).shape);
  return ok();
}

template <typename T>
void truncV1Kernel(const TruncParams &p, const Tensor &x, const Tensor &s, const Tensor &z, Tensor &y) {
  const std::vector<T> xv = valuesAs<T>(x), sv = valuesAs<T>(s), zv = valuesAs<T>(z);
  const T truncScale = T(std::ldexp(1.0, int(p.inBits - p.outBits))); // exact power of two
  forEachParam<2>(x.shape(), {s.shape(), z.shape()}, [&](int64_t i, const std::array<int64_t, 2> &o) {
    const T sc = sv[size_t(o[0])], zp = zv[size_t(o[1])];
    T v = xv[size_t(i)] / sc;
    v = v + zp;
    v = std::nearbyint(v);
    v = v / truncScale;
    v = qonnxRound(p.mode, v);
    v = v - zp;
    storeOut(y, i, T(v * sc));
  });
}

template <typename T>
void truncV2Kernel(const TruncParams &p, bool boundsF32, const Tensor &x, const Tensor &s, const Tensor &z,
                   const Tensor &os, Tensor &y) {
  const std::vector<T> xv = valuesAs<T>(x), sv = valuesAs<T>(s), zv = valuesAs<T>(z), osv = valuesAs<T>(os);
  const double lo = boundValue(minInt(p.isSigned, p.narrow, p.outBits), boundsF32);
  const double hi = boundValue(maxInt(p.isSigned, p.narrow, p.outBits), boundsF32);
  forEachParam<3>(x.shape(), {s.shape(), z.shape(), os.shape()}, [&](int64_t i, const std::array<int64_t, 3> &o) {
    const T sc = sv[size_t(o[0])], zp = zv[size_t(o[1])], osc = osv[size_t(o[2])];
    T v = xv[size_t(i)] / sc;
    v = v + zp;
    v = std::nearbyint(v);
    // 2 ** round(log2(out_scale / scale)) in T: a power of two.
    const T ratio = osc / sc;
    const T e = std::nearbyint(std::log2(ratio));
    const T truncScale = T(std::pow(T(2), e));
    v = v / truncScale;
    if (double(v) > hi)
      v = T(hi);
    if (double(v) < lo)
      v = T(lo);
    v = qonnxRound(p.mode, v);
    const T outZp = zp / truncScale;
    v = v - outZp;
    storeOut(y, i, T(v * osc));
  });
}

Error evalTrunc(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto p = truncParams(n);
  if (!p)
    return p.takeError();
  auto allF32 = [&](std::initializer_list<size_t> idx) {
    for (size_t i : idx)
      if (in[i]->elem() != ElemType::f32())
        return false;
    return true;
  };
  if (p->version == 1) {
    // numpy: (in_bits - out_bits) takes part in the arithmetic through 2.0 ** it.
    if (allF32({0, 1, 2, 3, 4}))
      truncV1Kernel<float>(*p, *in[0], *in[1], *in[2], out[0]);
    else
      truncV1Kernel<double>(*p, *in[0], *in[1], *in[2], out[0]);
  } else {
    const bool boundsF32 = in[5]->elem() == ElemType::f32();
    if (allF32({0, 1, 2, 4}))
      truncV2Kernel<float>(*p, boundsF32, *in[0], *in[1], *in[2], *in[4], out[0]);
    else
      truncV2Kernel<double>(*p, boundsF32, *in[0], *in[1], *in[2], *in[4], out[0]);
  }
  return ok();
}

// ---- MultiThreshold ------------------------------------------------------------------

/// qonnx DataType names (core/datatype.py, resolve_datatype).
bool knownDataType(const std::string &s) {
  if (s == "BINARY" || s == "BIPOLAR" || s == "TERNARY" || s == "FLOAT32" || s == "FLOAT16")
    return true;
  auto digits = [](const std::string &t) {
    return !t.empty() && t.size() <= 2 && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  for (const char *prefix : {"UINT", "INT"}) {
    const std::string pf(prefix);
    if (s.compare(0, pf.size(), pf) == 0 && digits(s.substr(pf.size()))) {
      const int bits = std::stoi(s.substr(pf.size()));
      return bits >= 1 && bits <= 64;
    }
  }
  for (const char *prefix : {"FIXED<", "SCALEDINT<", "FLOAT<"})
    if (s.compare(0, std::strlen(prefix), prefix) == 0 && s.back() == '>')
      return true;
  return false;
}

llvm::Expected<int64_t> thresholdChannelAxis(const Node &n, int64_t rank) {
  std::string layout = n.getString("data_layout", "");
  if (rank < 2)
    return nodeError(n, "input has rank {}; MultiThreshold needs at least N x C", rank);
  if (layout.empty() && rank == 3)
    return 2; // qonnx guesses "NWC" for rank 3
  if (!layout.empty() && int64_t(layout.size()) != rank)
    return nodeError(n, "data_layout '{}' does not match the input's rank {}", layout, rank);
  auto c = layout.find('C');
  return c == std::string::npos ? 1 : int64_t(c);
}

Error inferMultiThreshold(Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  if (auto e = checkX(n))
    return e;
  if (!n.has("out_dtype"))
    return nodeError(n, "the required attribute out_dtype is missing");
  const std::string dt = n.getString("out_dtype", "");
  if (!knownDataType(dt))
    return nodeError(n, "unknown out_dtype '{}' (a qonnx DataType: INT4, UINT8, BIPOLAR, BINARY, ...)", dt);
  const TensorType &x = inType(n, 0), &t = inType(n, 1);
  auto axis = thresholdChannelAxis(n, x.rank());
  if (!axis)
    return axis.takeError();
  if (!t.elem.isFloat() && !t.elem.isInt())
    return nodeError(n, "thresholds are {}, expected a float tensor", t.str());
  if (t.rank() != 2)
    return nodeError(n, "thresholds have shape {}, expected [channels or 1, steps]", t.str());
  const int64_t channels = x.shape[size_t(*axis)];
  if (t.shape[0] != 1 && t.shape[0] != channels)
    return nodeError(n, "thresholds have {} rows; the input has {} channels on axis {} (or 1 row for all)", t.shape[0],
                     channels, *axis);
  if (Value *tv = n.input(1); tv->isConstant())
    for (int64_t k = 0; k < tv->constant->size(); ++k)
      if (std::isnan(tv->constant->getDouble(k)))
        return nodeError(n, "threshold {} is NaN", k);
  if (!std::isfinite(n.getFloat("out_scale", 1.f)) || !std::isfinite(n.getFloat("out_bias", 0.f)))
    return nodeError(n, "out_scale and out_bias must be finite");
  setOutput(n, 0, ElemType::f32(), x.shape);
  return ok();
}

template <typename T>
void multiThresholdKernel(const Node &n, int64_t axis, const Tensor &x, const Tensor &thr, Tensor &y) {
  const std::vector<T> xv = valuesAs<T>(x);
  const std::vector<double> tv = valuesAs<double>(thr);
  const int64_t steps = thr.shape()[1];
  const bool global = thr.shape()[0] == 1;
  const Shape &s = x.shape();
  const int64_t channels = s[size_t(axis)];
  int64_t inner = 1;
  for (size_t d = size_t(axis) + 1; d < s.size(); ++d)
    inner *= s[d];
  const T scale = T(n.getFloat("out_scale", 1.f)), bias = T(n.getFloat("out_bias", 0.f));
  for (int64_t i = 0; i < x.size(); ++i) {
    const int64_t c = global ? 0 : (i / inner) % channels;
    const double v = double(xv[size_t(i)]); // exact: compares as numpy's promoted compare
    const double *row = tv.data() + c * steps;
    int64_t count = 0;
    for (int64_t k = 0; k < steps; ++k)
      count += v >= row[k] ? 1 : 0;
    const T scaled = scale * T(count);
    storeOut(y, i, T(scaled + bias));
  }
}

Error evalMultiThreshold(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto axis = thresholdChannelAxis(n, in[0]->rank());
  if (!axis)
    return axis.takeError();
  if (in[0]->elem() == ElemType::f32())
    multiThresholdKernel<float>(n, *axis, *in[0], *in[1], out[0]);
  else
    multiThresholdKernel<double>(n, *axis, *in[0], *in[1], out[0]);
  return ok();
}

// ---- channels-last wrappers ----------------------------------------------------------

/// Channels-last [N, d..., C] -> channels-first [N, C, d...] (perm[i] = source axis).
std::vector<int64_t> toChannelsFirst(int64_t rank) {
  std::vector<int64_t> p{0, rank - 1};
  for (int64_t d = 1; d < rank - 1; ++d)
    p.push_back(d);
  return p;
}

std::vector<int64_t> toChannelsLast(int64_t rank) {
  std::vector<int64_t> p{0};
  for (int64_t d = 2; d < rank; ++d)
    p.push_back(d);
  p.push_back(1);
  return p;
}

Shape permuteShape(const Shape &s, const std::vector<int64_t> &perm) {
  Shape o(s.size());
  for (size_t i = 0; i < s.size(); ++i)
    o[i] = s[size_t(perm[i])];
  return o;
}

/// Writes t transposed by perm into o (preallocated with the permuted shape).
void transposeInto(const Tensor &t, const std::vector<int64_t> &perm, Tensor &o) {
  const Shape &s = t.shape();
  const size_t r = s.size();
  std::vector<int64_t> inStride(r, 1);
  for (size_t d = r; d-- > 1;)
    inStride[d - 1] = inStride[d] * s[d];
  std::vector<int64_t> srcStride(r); // stride in t of output axis i
  for (size_t i = 0; i < r; ++i)
    srcStride[i] = inStride[size_t(perm[i])];
  const Shape &os = o.shape();
  dispatchWidth(t.elem().storageBytes(), [&](auto tag) {
    using W = decltype(tag);
    const W *src = reinterpret_cast<const W *>(t.raw());
    W *dst = reinterpret_cast<W *>(o.raw());
    std::vector<int64_t> idx(r, 0);
    int64_t off = 0;
    for (int64_t k = 0; k < o.size(); ++k) {
      dst[k] = src[off];
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        off += srcStride[d];
        if (idx[d] < os[d])
          break;
        off -= srcStride[d] * idx[d];
        idx[d] = 0;
      }
    }
  });
}

Tensor transposed(const Tensor &t, const std::vector<int64_t> &perm) {
  Tensor o(t.elem(), permuteShape(t.shape(), perm));
  transposeInto(t, perm, o);
  return o;
}

bool transposesInput(const std::string &op, size_t i) { return i == 0 || (op == "Conv" && i == 1); }

/// The standard op a channels-last node wraps, over channels-first stand-ins
/// for its inputs (types, and constants where the original is constant).
struct Wrapped {
  std::vector<std::unique_ptr<Value>> values;
  Node node;
  const OpDef *def = nullptr;
};

llvm::Expected<std::unique_ptr<Wrapped>> wrap(const Node &n, bool withConstants) {
  auto w = std::make_unique<Wrapped>();
  w->def = OpRegistry::get().lookup("", n.op);
  if (!w->def)
    return nodeError(n, "channels-last {} has no standard counterpart", n.op);
  if (!n.input(0))
    return nodeError(n, "input 0 is missing");
  const int64_t rank = n.input(0)->type.rank();
  if (rank < 3)
    return nodeError(n, "input has rank {}; a channels-last {} needs N x spatial... x C", rank, n.op);
  w->node.name = n.name;
  w->node.op = n.op;
  w->node.attrs = n.attrs;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    Value *v = n.inputs[i];
    if (!v) {
      w->node.inputs.push_back(nullptr);
      continue;
    }
    auto c = std::make_unique<Value>();
    c->name = v->name;
    c->type = v->type;
    if (withConstants && v->isConstant())
      c->constant = v->constant;
    if (transposesInput(n.op, i)) {
      if (v->type.rank() != rank)
        return nodeError(n, "input {} ('{}') is {}; it must have the rank of input 0 ({})", i, v->name, v->type.str(),
                         rank);
      c->type.shape = permuteShape(v->type.shape, toChannelsFirst(rank));
      if (c->constant)
        c->constant = transposed(*c->constant, toChannelsFirst(rank));
    }
    w->node.inputs.push_back(c.get());
    w->values.push_back(std::move(c));
  }
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    auto c = std::make_unique<Value>();
    c->name = n.outputs[i] ? n.outputs[i]->name : std::string();
    w->node.outputs.push_back(c.get());
    w->values.push_back(std::move(c));
  }
  return w;
}

Error checkChannelsLastOutputs(const Node &n) {
  size_t count = 0;
  for (Value *o : n.outputs)
    count += o ? 1 : 0;
  if (n.outputs.size() != 1 || !n.outputs[0])
    return nodeError(n, "a channels-last {} has exactly one output, has {}", n.op, count);
  return ok();
}

/// `opset`: the frontend passes the default domain's opset for this domain
/// (the wrapped op is a standard op; see the header).
Error canonicalizeChannelsLast(Node &n, int64_t opset) {
  if (auto e = checkChannelsLastOutputs(n))
    return e;
  auto w = wrap(n, true);
  if (!w)
    return w.takeError();
  if ((*w)->def->canonicalize)
    if (auto e = (*w)->def->canonicalize((*w)->node, opset))
      return e;
  n.attrs = (*w)->node.attrs;
  return ok();
}

Error inferChannelsLast(Node &n) {
  if (auto e = checkChannelsLastOutputs(n))
    return e;
  auto w = wrap(n, true);
  if (!w)
    return w.takeError();
  if (auto e = (*w)->def->infer((*w)->node))
    return e;
  const TensorType &t = (*w)->node.outputs[0]->type;
  if (t.rank() != n.input(0)->type.rank())
    return nodeError(n, "output rank {} differs from the input's", t.rank());
  setOutput(n, 0, t.elem, permuteShape(t.shape, toChannelsLast(t.rank())));
  return ok();
}

Error evalChannelsLast(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto w = wrap(n, false);
  if (!w)
    return w.takeError();
  const int64_t rank = in[0]->rank();
  std::vector<Tensor> ins(in.size());
  std::vector<const Tensor *> ptrs(in.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i])
      continue;
    ins[i] = transposesInput(n.op, i) ? transposed(*in[i], toChannelsFirst(rank)) : *in[i];
    ptrs[i] = &ins[i];
  }
  if (auto e = (*w)->def->infer((*w)->node))
    return e;
  std::vector<Tensor> outs(1);
  const TensorType &t = (*w)->node.outputs[0]->type;
  outs[0] = Tensor(t.elem, t.shape);
  if (auto e = (*w)->def->eval((*w)->node, ptrs, outs))
    return e;
  if (out[0].shape() != permuteShape(outs[0].shape(), toChannelsLast(rank)) || out[0].elem() != outs[0].elem())
    return nodeError(n, "output {} does not match the wrapped op's {}", out[0].type().str(), outs[0].type().str());
  transposeInto(outs[0], toChannelsLast(rank), out[0]);
  return ok();
}

int64_t macsChannelsLast(const Node &n) {
  auto w = wrap(n, false);
  if (!w) {
    llvm::consumeError(w.takeError());
    return 0;
  }
  if (!(*w)->def->macs)
    return 0;
  if (auto e = (*w)->def->infer((*w)->node)) {
    llvm::consumeError(std::move(e));
    return 0;
  }
  return (*w)->def->macs((*w)->node);
}

} // namespace

void registerQonnxOps(OpRegistry &r) {
  for (const char *d : kQonnxDomains) {
    r.add({"Quant", d, canonicalizeQuant, inferQuant, evalQuant});
    r.add({"BipolarQuant", d, nullptr, inferBipolarQuant, evalBipolarQuant});
    r.add({"Trunc", d, canonicalizeTrunc, inferTrunc, evalTrunc});
    r.add({"MultiThreshold", d, nullptr, inferMultiThreshold, evalMultiThreshold});
  }
  for (const char *op : {"Conv", "MaxPool", "BatchNormalization"})
    r.add({op, kChannelsLastDomain, canonicalizeChannelsLast, inferChannelsLast, evalChannelsLast, macsChannelsLast});
}

} // namespace qcc
