// Normalizations: BatchNormalization (inference), InstanceNormalization,
// LayerNormalization, MeanVarianceNormalization, LpNormalization.
//
// Canonical forms:
//   BatchNormalization  5 inputs, one output, `epsilon`. Old attributes
//                       (spatial, momentum, is_test, consumed_inputs,
//                       training_mode) are dropped after checking that the node
//                       is an inference one. Parameters are per channel [C] or,
//                       for spatial=0 (opset < 9), per element [C, D1, ...].
//   LayerNormalization  `axis` normalised to [0, rank).
#include "ops/Broadcast.h"
#include "ops/OpRegistry.h"

#include <cmath>

#include "ops/Simd.h"

namespace qcc {

namespace {

using llvm::Error;


/// Sum of (x - mean)^2 over a contiguous run.
template <typename T> QCC_ALWAYS_INLINE T laneSumSqDiff(const T *x, int64_t n, T mean) {
  T part[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) {
      T d = x[i + k] - mean;
      part[k] += d * d;
    }
  for (; i < n; ++i) {
    T d = x[i] - mean;
    part[0] += d * d;
  }
  T r = 0;
  for (int k = 0; k < 16; ++k)
    r += part[k];
  return r;
}

/// Mean and 1/sqrt(variance + eps) of a contiguous run (two passes: exact for
/// rows with a large mean, where E[x^2] - E[x]^2 cancels).
template <typename T> QCC_ALWAYS_INLINE std::pair<T, T> meanInvStd(const T *x, int64_t n, double eps) {
  T mean = laneSum(x, n) / T(n);
  T var = laneSumSqDiff(x, n, mean) / T(n);
  return {mean, T(1.0 / std::sqrt(double(var) + eps))};
}

Error expectFloat(const Node &n, size_t i) {
  const TensorType &t = inType(n, i);
  if (!t.elem.isFloat())
    return nodeError(n, "input {} ('{}') has element type {}; expected a float tensor", i,
                     n.inputs[i]->name, t.elem.str());
  return Error::success();
}

template <typename F> Error dispatchFloat(const Node &n, const Tensor &x, F &&f) {
  if (x.elem() == ElemType::f32())
    return f(float{});
  if (x.elem() == ElemType::f64())
    return f(double{});
  return nodeError(n, "no kernel for element type {}", x.elem().str());
}

// ---- BatchNormalization ----------------------------------------------------------

Error canonBatchNorm(Node &n, int64_t opset) {
  if (n.getInt("training_mode", 0) != 0)
    return nodeError(n, "training_mode=1 is not supported: qcc compiles inference graphs "
                        "(export the model in eval mode)");
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i])
      return nodeError(n, "output {} ('{}') is a training-mode statistic; qcc supports only the "
                          "inference form (one output)",
                       i, n.outputs[i]->name);
  for (const char *a : {"spatial", "momentum", "is_test", "consumed_inputs", "training_mode"})
    n.attrs.erase(a);
  return Error::success();
}

Error inferBatchNorm(Node &n) {
  if (auto e = expectInputs(n, 5, 5))
    return e;
  const TensorType &x = inType(n, 0);
  if (auto e = expectFloat(n, 0))
    return e;
  if (x.rank() < 2)
    return nodeError(n, "input has rank {}, expected at least 2 (N, C, ...)", x.rank());
  const Shape perElement(x.shape.begin() + 1, x.shape.end());
  const char *names[] = {"", "scale", "bias", "mean", "var"};
  for (size_t i = 1; i < 5; ++i) {
    if (auto e = expectFloat(n, i))
      return e;
    const Shape &p = inType(n, i).shape;
    if (p != Shape{x.shape[1]} && p != perElement)
      return nodeError(n, "{} has shape [{}], expected [{}] (one per channel) or [{}]", names[i],
                       fmt::join(p, ","), x.shape[1], fmt::join(perElement, ","));
    if (numElements(p) != numElements(inType(n, 1).shape))
      return nodeError(n, "{} has shape [{}] but scale has [{}]; all four parameters must be per "
                          "channel or all per element",
                       names[i], fmt::join(p, ","), fmt::join(inType(n, 1).shape, ","));
  }
  if (n.getFloat("epsilon", 1e-5f) < 0)
    return nodeError(n, "epsilon {} is negative", n.getFloat("epsilon", 1e-5f));
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

/// y = x * a + b, with (a, b) per channel or per element of one batch item.
template <typename T>
QCC_SIMD_CLONES void scaleShift(const T *x, T *y, int64_t batch, int64_t channels, int64_t spatial,
                                const T *a, const T *b, bool perChannel) {
  for (int64_t nIdx = 0; nIdx < batch; ++nIdx)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t off = (nIdx * channels + c) * spatial;
      if (perChannel) {
        const T ac = a[size_t(c)], bc = b[size_t(c)];
        for (int64_t s = 0; s < spatial; ++s)
          y[off + s] = x[off + s] * ac + bc;
      } else {
        const T *ac = a + c * spatial, *bc = b + c * spatial;
        for (int64_t s = 0; s < spatial; ++s)
          y[off + s] = x[off + s] * ac[s] + bc[s];
      }
    }
}

Error evalBatchNorm(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  const Shape &s = x.shape();
  const int64_t channels = s[1], batch = s[0];
  const int64_t spatial = channels != 0 && batch != 0 ? x.size() / (channels * batch) : 0;
  const double eps = n.getFloat("epsilon", 1e-5f);
  // Fold the four parameter tensors into one scale and shift (in double).
  const int64_t count = in[1]->size();
  return dispatchFloat(n, x, [&](auto tag) -> Error {
    using T = decltype(tag);
    std::vector<T> a(static_cast<size_t>(count)), b(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      double inv = 1.0 / std::sqrt(in[4]->getDouble(i) + eps);
      double ai = in[1]->getDouble(i) * inv;
      a[size_t(i)] = T(ai);
      b[size_t(i)] = T(in[2]->getDouble(i) - in[3]->getDouble(i) * ai);
    }
    scaleShift<T>(x.data<T>(), out[0].data<T>(), batch, channels, spatial, a.data(), b.data(),
                  count == channels);
    return Error::success();
  });
}

// ---- InstanceNormalization ---------------------------------------------------------

Error inferInstanceNorm(Node &n) {
  if (auto e = expectInputs(n, 3, 3))
    return e;
  const TensorType &x = inType(n, 0);
  if (auto e = expectFloat(n, 0))
    return e;
  if (x.rank() < 3)
    return nodeError(n, "input has rank {}, expected at least 3 (N, C, D1, ...)", x.rank());
  for (size_t i = 1; i < 3; ++i)
    if (inType(n, i).shape != Shape{x.shape[1]})
      return nodeError(n, "{} has shape [{}], expected [{}] (one per channel)", i == 1 ? "scale" : "B",
                       fmt::join(inType(n, i).shape, ","), x.shape[1]);
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

/// Normalises each of `planes` contiguous runs of `spatial` elements, then
/// scales and shifts it by its channel's parameters.
template <typename T>
QCC_SIMD_CLONES void instanceNormPlanes(const T *x, T *y, int64_t planes, int64_t channels, int64_t spatial,
                                        const T *scale, const T *bias, double eps) {
  for (int64_t p = 0; p < planes; ++p) {
    const T *xp = x + p * spatial;
    T *yp = y + p * spatial;
    auto [mean, inv] = meanInvStd(xp, spatial, eps);
    const T a = scale[p % channels] * inv;
    const T shift = bias[p % channels] - mean * a;
    for (int64_t s = 0; s < spatial; ++s)
      yp[s] = xp[s] * a + shift;
  }
}

Error evalInstanceNorm(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  const int64_t batch = x.shape()[0], channels = x.shape()[1];
  const int64_t spatial = batch != 0 && channels != 0 ? x.size() / (batch * channels) : 0;
  const double eps = n.getFloat("epsilon", 1e-5f);
  return dispatchFloat(n, x, [&](auto tag) -> Error {
    using T = decltype(tag);
    std::vector<T> scale(static_cast<size_t>(channels)), bias(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      scale[size_t(c)] = T(in[1]->getDouble(c));
      bias[size_t(c)] = T(in[2]->getDouble(c));
    }
    instanceNormPlanes<T>(x.data<T>(), out[0].data<T>(), batch * channels, channels, spatial, scale.data(),
                          bias.data(), eps);
    return Error::success();
  });
}

// ---- LayerNormalization ------------------------------------------------------------

Error canonLayerNorm(Node &n, int64_t) {
  if (!n.input(0))
    return nodeError(n, "input 0 is missing");
  auto axis = normAxis(n, n.getInt("axis", -1), n.inputs[0]->type.rank());
  if (!axis)
    return axis.takeError();
  n.attrs["axis"] = *axis;
  return Error::success();
}

/// Scale and bias must broadcast to the normalized shape X.shape[axis:].
Error checkNormalizedParam(const Node &n, size_t i, const Shape &normShape) {
  Shape p = inType(n, i).shape;
  while (p.size() > normShape.size() && p.front() == 1)
    p.erase(p.begin());
  auto b = broadcastShapes(n, normShape, p);
  if (!b || *b != normShape) {
    if (!b)
      llvm::consumeError(b.takeError());
    return nodeError(n, "{} has shape [{}], which does not broadcast to the normalized shape [{}]",
                     i == 1 ? "Scale" : "B", fmt::join(inType(n, i).shape, ","), fmt::join(normShape, ","));
  }
  return Error::success();
}

Error inferLayerNorm(Node &n) {
  if (auto e = expectInputs(n, 2, 3))
    return e;
  if (auto e = expectFloat(n, 0))
    return e;
  const TensorType &x = inType(n, 0);
  auto axis = normAxis(n, n.getInt("axis", -1), x.rank());
  if (!axis)
    return axis.takeError();
  const Shape normShape(x.shape.begin() + *axis, x.shape.end());
  for (size_t i = 1; i < 3; ++i) {
    if (!n.input(i))
      continue;
    if (inType(n, i).elem != x.elem)
      return nodeError(n, "input {} has element type {}, expected {} like X", i, inType(n, i).elem.str(),
                       x.elem.str());
    if (auto e = checkNormalizedParam(n, i, normShape))
      return e;
  }
  const int64_t stash = n.getInt("stash_type", 1);
  if (stash != 1 && stash != 11)
    return nodeError(n, "stash_type {} is not supported (1: float32, 11: float64)", stash);
  Shape statShape(x.shape.begin(), x.shape.begin() + *axis);
  statShape.resize(x.shape.size(), 1);
  setOutput(n, 0, x.elem, x.shape);
  setOutput(n, 1, stash == 1 ? ElemType::f32() : ElemType::f64(), statShape);
  setOutput(n, 2, stash == 1 ? ElemType::f32() : ElemType::f64(), statShape);
  return Error::success();
}

/// Parameter values expanded to the normalized shape (a copy only when broadcast).
template <typename T> std::vector<T> expandParam(const Tensor &p, const Shape &normShape) {
  const int64_t count = numElements(normShape);
  std::vector<T> v(static_cast<size_t>(count));
  if (p.size() == count) {
    std::copy(p.data<T>(), p.data<T>() + count, v.begin());
    return v;
  }
  Shape ps = p.shape();
  while (ps.size() > normShape.size())
    ps.erase(ps.begin());
  const T *src = p.data<T>();
  forEachBroadcast(normShape, normShape, ps, [&](int64_t o, int64_t, int64_t ip) { v[size_t(o)] = src[ip]; });
  return v;
}

/// Normalises each of `rows` contiguous rows of `cols` elements, then applies
/// the per-column scale w and bias b; records each row's mean and 1/std.
template <typename T>
QCC_SIMD_CLONES void layerNormRows(const T *x, T *y, int64_t rows, int64_t cols, const T *w, const T *b,
                                   double eps, T *means, T *invStds) {
  for (int64_t r = 0; r < rows; ++r) {
    const T *xr = x + r * cols;
    T *yr = y + r * cols;
    auto [mean, inv] = meanInvStd(xr, cols, eps);
    for (int64_t j = 0; j < cols; ++j)
      yr[j] = (xr[j] - mean) * inv * w[j] + b[j];
    means[r] = mean;
    invStds[r] = inv;
  }
}

Error evalLayerNorm(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  const int64_t axis = n.getInt("axis", x.rank() - 1);
  const Shape normShape(x.shape().begin() + axis, x.shape().end());
  const int64_t cols = numElements(normShape);
  const int64_t rows = cols ? x.size() / cols : 0;
  const double eps = n.getFloat("epsilon", 1e-5f);
  return dispatchFloat(n, x, [&](auto tag) -> Error {
    using T = decltype(tag);
    const std::vector<T> w = expandParam<T>(*in[1], normShape);
    const std::vector<T> b = in.size() > 2 && in[2] ? expandParam<T>(*in[2], normShape) : std::vector<T>(size_t(cols), T(0));
    std::vector<T> means(static_cast<size_t>(rows)), invStds(static_cast<size_t>(rows));
    layerNormRows<T>(x.data<T>(), out[0].data<T>(), rows, cols, w.data(), b.data(), eps, means.data(),
                     invStds.data());
    // optional statistics outputs (their type follows stash_type, not X)
    for (size_t i = 1; i < 3 && i < out.size(); ++i)
      if (!out[i].empty())
        for (int64_t r = 0; r < rows; ++r)
          out[i].setDouble(r, double(i == 1 ? means[size_t(r)] : invStds[size_t(r)]));
    return Error::success();
  });
}

// ---- MeanVarianceNormalization --------------------------------------------------------

Error inferMvn(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  if (auto e = expectFloat(n, 0))
    return e;
  const TensorType &x = inType(n, 0);
  std::vector<bool> seen(static_cast<size_t>(x.rank()), false);
  for (int64_t a : n.getInts("axes", {0, 2, 3})) {
    auto axis = normAxis(n, a, x.rank());
    if (!axis)
      return axis.takeError();
    if (seen[size_t(*axis)])
      return nodeError(n, "axis {} is listed twice in axes", a);
    seen[size_t(*axis)] = true;
  }
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

/// y = (x - mean) / (std + 1e-9) over the `axes` (as ONNX's function body).
/// Statistics per kept index are gathered with an odometer over the input.
Error evalMvn(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  const Shape &s = x.shape();
  const int64_t rank = x.rank();
  std::vector<bool> reduced(size_t(rank), false);
  for (int64_t a : n.getInts("axes", {0, 2, 3}))
    reduced[size_t(a < 0 ? a + rank : a)] = true;
  // stride of each input axis in the statistics array (0 along reduced axes)
  std::vector<int64_t> statStride(size_t(rank), 0);
  int64_t statCount = 1;
  for (int64_t d = rank - 1; d >= 0; --d)
    if (!reduced[size_t(d)]) {
      statStride[size_t(d)] = statCount;
      statCount *= s[size_t(d)];
    }
  const int64_t perStat = statCount ? x.size() / statCount : 0;
  auto statIndex = [&](int64_t flat) {
    int64_t si = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      si += (flat % s[size_t(d)]) * statStride[size_t(d)];
      flat /= s[size_t(d)];
    }
    return si;
  };
  return dispatchFloat(n, x, [&](auto tag) -> Error {
    using T = decltype(tag);
    const T *px = x.data<T>();
    T *py = out[0].data<T>();
    std::vector<double> sum(size_t(statCount), 0.0), sq(size_t(statCount), 0.0);
    std::vector<int64_t> idx(size_t(x.size()));
    for (int64_t i = 0; i < x.size(); ++i) {
      idx[size_t(i)] = statIndex(i);
      sum[size_t(idx[size_t(i)])] += px[i];
    }
    for (double &v : sum)
      v /= double(perStat);
    for (int64_t i = 0; i < x.size(); ++i) {
      double d = px[i] - sum[size_t(idx[size_t(i)])];
      sq[size_t(idx[size_t(i)])] += d * d;
    }
    for (double &v : sq)
      v = 1.0 / (std::sqrt(v / double(perStat)) + 1e-9);
    for (int64_t i = 0; i < x.size(); ++i) {
      size_t k = size_t(idx[size_t(i)]);
      py[i] = T((px[i] - sum[k]) * sq[k]);
    }
    return Error::success();
  });
}

// ---- LpNormalization ---------------------------------------------------------------

Error inferLpNorm(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  if (auto e = expectFloat(n, 0))
    return e;
  const TensorType &x = inType(n, 0);
  if (auto axis = normAxis(n, n.getInt("axis", -1), x.rank()); !axis)
    return axis.takeError();
  int64_t p = n.getInt("p", 2);
  if (p != 1 && p != 2)
    return nodeError(n, "p={} is not supported (1 or 2)", p);
  setOutput(n, 0, x.elem, x.shape);
  return Error::success();
}

Error evalLpNorm(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  const Shape &s = x.shape();
  int64_t axis = n.getInt("axis", -1);
  if (axis < 0)
    axis += x.rank();
  const bool l1 = n.getInt("p", 2) == 1;
  int64_t outer = 1, len = s[size_t(axis)], inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d < axis)
      outer *= s[size_t(d)];
    else if (d > axis)
      inner *= s[size_t(d)];
  return dispatchFloat(n, x, [&](auto tag) -> Error {
    using T = decltype(tag);
    const T *px = x.data<T>();
    T *py = out[0].data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t base = o * len * inner + j;
        double norm = 0;
        for (int64_t k = 0; k < len; ++k) {
          double v = px[base + k * inner];
          norm += l1 ? std::fabs(v) : v * v;
        }
        if (!l1)
          norm = std::sqrt(norm);
        for (int64_t k = 0; k < len; ++k)
          py[base + k * inner] = norm == 0 ? T(0) : T(px[base + k * inner] / norm);
      }
    return Error::success();
  });
}

} // namespace

void registerNormOps(OpRegistry &r) {
  r.add({"BatchNormalization", "", canonBatchNorm, inferBatchNorm, evalBatchNorm});
  r.add({"InstanceNormalization", "", nullptr, inferInstanceNorm, evalInstanceNorm});
  r.add({"LayerNormalization", "", canonLayerNorm, inferLayerNorm, evalLayerNorm});
  r.add({"MeanVarianceNormalization", "", nullptr, inferMvn, evalMvn});
  r.add({"LpNormalization", "", nullptr, inferLpNorm, evalLpNorm});
}

} // namespace qcc
