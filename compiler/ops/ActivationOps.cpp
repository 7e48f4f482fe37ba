// Activations: Relu, LeakyRelu, PRelu, ThresholdedRelu, Clip, Sigmoid, Tanh,
// HardSigmoid, HardSwish, Elu, Selu, Celu, Softplus, Softsign, Gelu, Mish,
// Shrink; Softmax and LogSoftmax; Dropout (inference: identity).
//
// Canonical forms (what the IR keeps after import, whatever the opset):
//   Clip      no bound inputs; `min` and `max` attributes, always both present:
//             f32 for float inputs (-inf/+inf when absent), i64 for integers
//             (the type's limits when absent).
//   Softmax,  `axis` normalised to [0, rank); `coerce2d` = 1 when the opset < 13
//   LogSoftmax meaning applies (normalise over the flattened axes axis..rank-1)
//             and differs from normalising along `axis` alone.
//   Dropout   one input (ratio and training_mode dropped after checking that
//             nothing is dropped: training off, or ratio 0); `float_mask` = 1
//             when the optional mask output (all ones: every element kept, as
//             the ONNX reference) has the input's type (opset < 10), not bool.
#include "ops/Broadcast.h"
#include "ops/OpRegistry.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

// Vectorization of the float kernels below:
//  - no-trapping-math lets GCC if-convert float compares (clamps, max, relu);
//    qcc never reads floating-point exception flags. It is set after the
//    includes so that it applies to this file's functions only (GCC then does
//    not inline header functions that do float arithmetic, e.g. std::min on
//    floats or std::fabs: the kernels use the helpers below instead).
//  - QCC_SIMD_CLONES (ops/Simd.h) compiles kernels for AVX-512 and AVX2
//    besides the baseline, bit-identical thanks to -ffp-contract=off.
#include "ops/Simd.h"
#include "qcc/float_ops.h"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace qcc {

namespace {

using llvm::Error;

// ---- float kernels' building blocks ------------------------------------------

// Plain compares rather than std::min/max: those are defined before the pragma
// above and GCC does not inline them into functions compiled with other flags.
template <typename T> inline T maxOf(T a, T b) { return a > b ? a : b; }
template <typename T> inline T minOf(T a, T b) { return a < b ? a : b; }
template <typename T> inline T absOf(T a) { return a < T(0) ? -a : a; }

/// exp(x) for float32 (runtime_stub/qcc/float_ops.h: generated code runs the same):
/// x = n*ln2 + r with |r| <= ln2/2; exp(r) by a minimax polynomial (about 1 ulp);
/// 2^n built from exponent bits. Inputs are clamped to the range where 2^n is a
/// normal float; exp(-inf) gives ~1e-38 instead of 0, harmless for every user
/// here (sums with 1, softmax rows whose maximum contributes 1).
QCC_ALWAYS_INLINE float fastExp(float x) { return qcc_rt::fast_exp(x); }

template <typename T> QCC_ALWAYS_INLINE T expOf(T x) {
  if constexpr (std::is_same_v<T, float>)
    return fastExp(x);
  else
    return std::exp(x);
}

/// tanh without the cancellation of (1-e)/(1+e) near 0: a Taylor polynomial
/// below 0.1 (error < 1e-8 relative), the exp form above.
template <typename T> QCC_ALWAYS_INLINE T tanhOf(T x) {
  if constexpr (!std::is_same_v<T, float>) {
    return std::tanh(x);
  } else {
    float ax = absOf(x);
    float e = fastExp(-2.0f * ax);
    float big = (1.0f - e) / (1.0f + e);
    float x2 = x * x;
    float small = ax * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f)));
    float r = ax < 0.1f ? small : big;
    return x < 0.0f ? -r : r;
  }
}

/// erf for float32: Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, which
/// is what GELU's 1 + erf(x) needs), branch-free so that it vectorizes.
template <typename T> QCC_ALWAYS_INLINE T erfOf(T x) {
  if constexpr (!std::is_same_v<T, float>) {
    return std::erf(x);
  } else {
    float ax = absOf(x);
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float r = 1.0f - poly * fastExp(-ax * ax);
    return x < 0.0f ? -r : r;
  }
}


/// Largest element of a contiguous run. GCC does not vectorize max reductions
/// written with scalars (not even split into lanes), so the float version
/// uses a GCC vector type: 16 lanes, lowered to what each clone has.
template <typename T> QCC_ALWAYS_INLINE T rowMax(const T *x, int64_t n) {
  T r = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
#if defined(__GNUC__)
  if constexpr (std::is_same_v<T, float>) {
    typedef float F32x16 __attribute__((vector_size(64)));
    F32x16 acc = F32x16{} + r;
    for (; i + 16 <= n; i += 16) {
      F32x16 v;
      std::memcpy(&v, x + i, sizeof v);
      acc = v > acc ? v : acc;
    }
    for (int k = 0; k < 16; ++k)
      r = maxOf(r, acc[k]);
  }
#endif
  for (; i < n; ++i)
    r = maxOf(r, x[i]);
  return r;
}

// ---- elementwise activations ---------------------------------------------------

enum class Act {
  Relu, LeakyRelu, ThresholdedRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Elu, Selu,
  Celu, Softplus, Softsign, Gelu, GeluTanh, Mish, Shrink
};

/// Attribute values of one activation, with the ONNX defaults filled in.
struct ActParams {
  double alpha = 0, beta = 0, gamma = 0;
};

ActParams paramsOf(const Node &n, Act a) {
  ActParams p;
  switch (a) {
  case Act::LeakyRelu: p.alpha = n.getFloat("alpha", 0.01f); break;
  case Act::ThresholdedRelu: p.alpha = n.getFloat("alpha", 1.0f); break;
  case Act::HardSigmoid:
    p.alpha = n.getFloat("alpha", 0.2f);
    p.beta = n.getFloat("beta", 0.5f);
    break;
  case Act::Elu: p.alpha = n.getFloat("alpha", 1.0f); break;
  case Act::Celu: p.alpha = n.getFloat("alpha", 1.0f); break;
  case Act::Selu:
    p.alpha = n.getFloat("alpha", 1.67326319217681884765625f);
    p.gamma = n.getFloat("gamma", 1.05070102214813232421875f);
    break;
  case Act::Shrink:
    p.alpha = n.getFloat("bias", 0.0f);
    p.beta = n.getFloat("lambd", 0.5f);
    break;
  default: break;
  }
  return p;
}

template <Act A, typename T> QCC_ALWAYS_INLINE T activate(T x, T alpha, T beta, T gamma) {
  const T zero = T(0), one = T(1);
  if constexpr (A == Act::Relu) {
    return x > zero ? x : zero;
  } else if constexpr (A == Act::LeakyRelu) {
    return x >= zero ? x : x * alpha;
  } else if constexpr (A == Act::ThresholdedRelu) {
    return x > alpha ? x : zero;
  } else if constexpr (A == Act::Sigmoid) {
    return one / (one + expOf<T>(-x));
  } else if constexpr (A == Act::Tanh) {
    return tanhOf<T>(x);
  } else if constexpr (A == Act::HardSigmoid) {
    return minOf(one, maxOf(zero, alpha * x + beta));
  } else if constexpr (A == Act::HardSwish) {
    return x * minOf(one, maxOf(zero, x * T(1.0 / 6.0) + T(0.5)));
  } else if constexpr (A == Act::Elu) {
    return x >= zero ? x : alpha * (expOf<T>(x) - one);
  } else if constexpr (A == Act::Selu) {
    return gamma * (x > zero ? x : alpha * (expOf<T>(x) - one));
  } else if constexpr (A == Act::Celu) {
    return maxOf(zero, x) + minOf(zero, alpha * (expOf<T>(x / alpha) - one));
  } else if constexpr (A == Act::Softplus) {
    // log(1 + e^x) without overflow for large x
    return maxOf(x, zero) + std::log1p(std::exp(-absOf(x)));
  } else if constexpr (A == Act::Softsign) {
    return x / (one + absOf(x));
  } else if constexpr (A == Act::Gelu) {
    return T(0.5) * x * (one + erfOf<T>(x * T(0.70710678118654752440)));
  } else if constexpr (A == Act::GeluTanh) {
    const T k = T(0.79788456080286535588); // sqrt(2/pi)
    return T(0.5) * x * (one + tanhOf<T>(k * (x + T(0.044715) * x * x * x)));
  } else if constexpr (A == Act::Mish) {
    T softplus = maxOf(x, zero) + std::log1p(std::exp(-absOf(x)));
    return x * tanhOf<T>(softplus);
  } else { // Shrink: alpha = bias, beta = lambd
    return x < -beta ? x + alpha : (x > beta ? x - alpha : zero);
  }
}

/// Which element types an activation accepts besides floats.
bool acceptsInts(Act a) { return a == Act::Relu || a == Act::Shrink; }

template <Act A> Error inferActivation(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  if (!x.elem.isFloat() && !(acceptsInts(A) && x.elem.isInt()))
    return nodeError(n, "input '{}' has element type {}; this op expects {}", n.inputs[0]->name,
                     x.elem.str(), acceptsInts(A) ? "a float or integer tensor" : "a float tensor");
  if constexpr (A == Act::Gelu) {
    std::string approx = n.getString("approximate", "none");
    if (approx != "none" && approx != "tanh")
      return nodeError(n, "approximate='{}' is not one of 'none', 'tanh'", approx);
  }
  if constexpr (A == Act::Celu) {
    if (n.getFloat("alpha", 1.0f) == 0.0f)
      return nodeError(n, "alpha must not be 0");
  }
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

template <Act A, typename T>
QCC_SIMD_CLONES void activateRange(const T *x, T *y, int64_t count, T alpha, T beta, T gamma) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = activate<A, T>(x[i], alpha, beta, gamma);
}

template <Act A, typename T> void runActivation(const Tensor &x, Tensor &y, const ActParams &p) {
  activateRange<A, T>(x.data<T>(), y.data<T>(), x.size(), T(p.alpha), T(p.beta), T(p.gamma));
}

template <Act A> Error evalActivation(const Node &n, llvm::ArrayRef<const Tensor *> in,
                                      llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  Act act = A;
  if constexpr (A == Act::Gelu)
    act = n.getString("approximate", "none") == "tanh" ? Act::GeluTanh : Act::Gelu;
  const ActParams p = paramsOf(n, act);
  return dispatchStorage(x.elem().storage(), [&](auto tag) -> Error {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      if (act == Act::GeluTanh)
        runActivation<Act::GeluTanh, T>(x, out[0], p);
      else
        runActivation<A, T>(x, out[0], p);
      return Error::success();
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if constexpr (A == Act::Relu) {
        runActivation<A, T>(x, out[0], p);
        return Error::success();
      } else if constexpr (A == Act::Shrink) {
        // Integer Shrink: compute in double and truncate like ONNX's reference.
        const Tensor &src = x;
        Tensor &dst = out[0];
        for (int64_t i = 0; i < src.size(); ++i)
          dst.setDouble(i, activate<A, double>(src.getDouble(i), p.alpha, p.beta, 0.0));
        return Error::success();
      }
    }
    return nodeError(n, "no kernel for element type {}", x.elem().str());
  });
}

// ---- PRelu ---------------------------------------------------------------------

Error inferPRelu(Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  const TensorType &x = inType(n, 0), &slope = inType(n, 1);
  if (x.elem != slope.elem)
    return nodeError(n, "input {} and slope {} have different element types", x.str(), slope.str());
  if (x.elem.isBool())
    return nodeError(n, "bool inputs are not supported");
  auto shape = broadcastShapes(n, x.shape, slope.shape);
  if (!shape)
    return shape.takeError();
  if (*shape != x.shape)
    return nodeError(n, "slope shape [{}] does not broadcast to the input shape [{}] "
                        "(PRelu broadcasts the slope only)",
                     fmt::join(slope.shape, ","), fmt::join(x.shape, ","));
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

/// y = x < 0 ? x * slope : x over a contiguous run with one slope value.
template <typename T> QCC_SIMD_CLONES void preluRun(const T *x, T *y, int64_t count, T slope) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = x[i] < T(0) ? T(x[i] * slope) : x[i];
}

Error evalPRelu(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0], &slope = *in[1];
  Tensor &y = out[0];
  // Split x into [blocks, inner] where the slope is constant over each block's
  // `inner` trailing elements (e.g. [N, C, H*W] for a [C,1,1] slope).
  const Shape &xs = x.shape();
  Shape ss(xs.size() - std::min(xs.size(), slope.shape().size()), 1);
  ss.insert(ss.end(), slope.shape().begin(), slope.shape().end());
  size_t split = xs.size();
  int64_t inner = 1;
  while (split > 0 && ss[split - 1] == 1) {
    --split;
    inner *= xs[split];
  }
  const Shape blockShape(xs.begin(), xs.begin() + int64_t(split));
  const Shape slopeShape(ss.begin(), ss.begin() + int64_t(split));
  return dispatchStorage(x.elem().storage(), [&](auto tag) -> Error {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      return nodeError(n, "bool inputs are not supported");
    } else {
      const T *px = x.data<T>(), *ps = slope.data<T>();
      T *py = y.data<T>();
      if (x.size() == 0)
        return Error::success();
      if (blockShape.empty()) {
        preluRun<T>(px, py, x.size(), ps[0]);
      } else if (slope.size() == x.size()) {
        for (int64_t i = 0; i < x.size(); ++i)
          py[i] = px[i] < T(0) ? T(px[i] * ps[i]) : px[i];
      } else {
        forEachBroadcast(blockShape, blockShape, slopeShape, [&](int64_t b, int64_t, int64_t is) {
          preluRun<T>(px + b * inner, py + b * inner, inner, ps[is]);
        });
      }
      return Error::success();
    }
  });
}

// ---- Clip ------------------------------------------------------------------------

/// Reads an optional bound input (opset >= 11): absent stays `dflt`.
llvm::Expected<double> clipBound(const Node &n, size_t i, double dflt) {
  if (!n.input(i))
    return dflt;
  return constScalar(n, i);
}

Error canonClip(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "input 0 is missing");
  const ElemType elem = n.inputs[0]->type.elem;
  const double inf = std::numeric_limits<double>::infinity();
  double lo = -inf, hi = inf;
  if (opset < 11) {
    lo = n.getFloat("min", -std::numeric_limits<float>::infinity());
    hi = n.getFloat("max", std::numeric_limits<float>::infinity());
  } else {
    if (n.has("min") || n.has("max"))
      return nodeError(n, "min/max are inputs since opset 11, not attributes");
    auto l = clipBound(n, 1, -inf);
    if (!l)
      return l.takeError();
    auto h = clipBound(n, 2, inf);
    if (!h)
      return h.takeError();
    lo = *l;
    hi = *h;
    dropInputs(n, 1);
  }
  if (elem.isInt()) {
    auto toInt = [](double v, int64_t dflt) {
      return std::isinf(v) ? dflt : int64_t(v);
    };
    n.attrs["min"] = toInt(lo, std::numeric_limits<int64_t>::min());
    n.attrs["max"] = toInt(hi, std::numeric_limits<int64_t>::max());
  } else {
    n.attrs["min"] = float(lo);
    n.attrs["max"] = float(hi);
  }
  return Error::success();
}

Error inferClip(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  if (x.elem.isBool())
    return nodeError(n, "bool inputs are not supported");
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

template <typename T> void clipRange(const T *x, T *y, int64_t count, T lo, T hi) {
  for (int64_t i = 0; i < count; ++i) {
    T v = x[i] < lo ? lo : x[i];
    y[i] = v > hi ? hi : v;
  }
}

Error evalClip(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  Tensor &y = out[0];
  return dispatchStorage(x.elem().storage(), [&](auto tag) -> Error {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      return nodeError(n, "bool inputs are not supported");
    } else if constexpr (std::is_floating_point_v<T>) {
      clipRange<T>(x.data<T>(), y.data<T>(), x.size(), T(n.getFloat("min", -INFINITY)),
                   T(n.getFloat("max", INFINITY)));
      return Error::success();
    } else {
      // Integer bounds saturate to T's range (a bound outside it clips nothing).
      using L = std::numeric_limits<T>;
      auto sat = [](int64_t v) {
        if constexpr (std::is_signed_v<T>)
          return T(std::min<int64_t>(std::max<int64_t>(v, int64_t(L::min())), int64_t(L::max())));
        else
          return v < 0 ? T(0) : (uint64_t(v) > uint64_t(L::max()) ? L::max() : T(v));
      };
      T lo = sat(n.getInt("min", std::numeric_limits<int64_t>::min()));
      T hi = sat(n.getInt("max", std::numeric_limits<int64_t>::max()));
      clipRange<T>(x.data<T>(), y.data<T>(), x.size(), lo, hi);
      return Error::success();
    }
  });
}

// ---- Softmax, LogSoftmax -------------------------------------------------------------

Error canonSoftmax(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "input 0 is missing");
  const int64_t rank = n.inputs[0]->type.rank();
  if (rank == 0)
    return nodeError(n, "input '{}' is a scalar; {} needs at least one axis", n.inputs[0]->name, n.op);
  auto axis = normAxis(n, n.getInt("axis", opset < 13 ? 1 : -1), rank);
  if (!axis)
    return axis.takeError();
  n.attrs["axis"] = *axis;
  // Before opset 13 the input is coerced to 2D [prod(d<axis), prod(d>=axis)];
  // when axis is the last one that is the same as the per-axis form.
  if (opset < 13 && *axis != rank - 1)
    n.attrs["coerce2d"] = int64_t(1);
  return Error::success();
}

Error inferSoftmax(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  if (!x.elem.isFloat())
    return nodeError(n, "input '{}' has element type {}; {} expects a float tensor", n.inputs[0]->name,
                     x.elem.str(), n.op);
  if (auto axis = normAxis(n, n.getInt("axis", -1), x.rank()); !axis)
    return axis.takeError();
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

/// Softmax or log-softmax of one contiguous row.
template <typename T> QCC_SIMD_CLONES void softmaxRow(const T *x, T *y, int64_t len, bool logMode) {
  // The arithmetic lives in float_ops.h, shared with generated float islands.
  qcc_rt::softmax_row(x, y, len, logMode, rowMax(x, len), [](T v) { return expOf<T>(v); });
}

/// Softmax along the middle axis of [outer, len, inner] blocks; every inner loop
/// runs over `inner` contiguous elements.
template <typename T>
QCC_SIMD_CLONES void softmaxStrided(const T *x, T *y, int64_t outer, int64_t len, int64_t inner, bool logMode) {
  std::vector<T> scratch(static_cast<size_t>(2 * inner));
  qcc_rt::softmax_strided(x, y, outer, len, inner, logMode, scratch.data(), [](T v) { return expOf<T>(v); });
}

Error evalSoftmax(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  Tensor &y = out[0];
  const Shape &s = x.shape();
  const int64_t axis = n.getInt("axis", int64_t(s.size()) - 1);
  const bool coerce2d = n.getInt("coerce2d", 0) != 0;
  const bool logMode = n.op == "LogSoftmax";
  int64_t outer, len, inner;
  qcc_rt::softmax_extents(s.data(), int64_t(s.size()), axis, coerce2d, outer, len, inner);
  if (x.size() == 0)
    return Error::success();
  return dispatchStorage(x.elem().storage(), [&](auto tag) -> Error {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const T *px = x.data<T>();
      T *py = y.data<T>();
      if (inner == 1)
        for (int64_t o = 0; o < outer; ++o)
          softmaxRow<T>(px + o * len, py + o * len, len, logMode);
      else
        softmaxStrided<T>(px, py, outer, len, inner, logMode);
      return Error::success();
    } else {
      return nodeError(n, "no kernel for element type {}", x.elem().str());
    }
  });
}

// ---- Dropout ----------------------------------------------------------------------

Error canonDropout(Node &n, int64_t opset) {
  if (n.getInt("is_test", 1) == 0 && opset < 7)
    return nodeError(n, "is_test=0 asks for training-mode dropout; qcc runs inference only");
  if (Value *training = n.input(2)) {
    auto t = constScalar(n, 2);
    if (!t)
      return nodeError(n, "training_mode ('{}') must be a constant; qcc runs inference only",
                       training->name);
    // Training with ratio 0 drops nothing: still the identity.
    const bool zeroRatio = n.input(1) && n.input(1)->isConstant() && n.input(1)->constant->size() == 1 &&
                           n.input(1)->constant->getDouble(0) == 0.0;
    if (*t != 0.0 && !zeroRatio)
      return nodeError(n, "training_mode is true; qcc runs inference only (training-mode "
                          "dropout is random)");
  }
  dropInputs(n, 1);
  n.attrs.erase("ratio");
  n.attrs.erase("seed");
  n.attrs.erase("is_test");
  if (opset < 10 && n.output(1))
    n.attrs["float_mask"] = int64_t(1);
  return Error::success();
}

Error inferDropout(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  setOutput(n, 0, x.elem, x.shape);
  setOutput(n, 1, n.getInt("float_mask", 0) ? x.elem : ElemType::boolean(), x.shape);
  return Error::success();
}

Error evalDropout(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  if (x.bytes())
    std::memcpy(out[0].raw(), x.raw(), x.bytes());
  if (out.size() > 1 && !out[1].empty()) {
    Tensor &mask = out[1];
    for (int64_t i = 0; i < mask.size(); ++i)
      mask.setDouble(i, 1.0); // inference keeps every element
  }
  return Error::success();
}

template <Act A> OpDef activationDef(const char *op) {
  return OpDef{op, "", nullptr, inferActivation<A>, evalActivation<A>};
}

} // namespace

void registerActivationOps(OpRegistry &r) {
  r.add(activationDef<Act::Relu>("Relu"));
  r.add(activationDef<Act::LeakyRelu>("LeakyRelu"));
  r.add(activationDef<Act::ThresholdedRelu>("ThresholdedRelu"));
  r.add(activationDef<Act::Sigmoid>("Sigmoid"));
  r.add(activationDef<Act::Tanh>("Tanh"));
  r.add(activationDef<Act::HardSigmoid>("HardSigmoid"));
  r.add(activationDef<Act::HardSwish>("HardSwish"));
  r.add(activationDef<Act::Elu>("Elu"));
  r.add(activationDef<Act::Selu>("Selu"));
  r.add(activationDef<Act::Celu>("Celu"));
  r.add(activationDef<Act::Softplus>("Softplus"));
  r.add(activationDef<Act::Softsign>("Softsign"));
  r.add(activationDef<Act::Gelu>("Gelu"));
  r.add(activationDef<Act::Mish>("Mish"));
  r.add(activationDef<Act::Shrink>("Shrink"));
  r.add({"PRelu", "", nullptr, inferPRelu, evalPRelu});
  r.add({"Clip", "", canonClip, inferClip, evalClip});
  r.add({"Softmax", "", canonSoftmax, inferSoftmax, evalSoftmax});
  r.add({"LogSoftmax", "", canonSoftmax, inferSoftmax, evalSoftmax});
  r.add({"Dropout", "", canonDropout, inferDropout, evalDropout});
}

} // namespace qcc
