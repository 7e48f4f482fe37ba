// MaxPool (with optional Indices), AveragePool, LpPool, their Global* forms,
// and MaxUnpool, over any number of spatial axes (NC...).
//
// Canonical form as for Conv: explicit kernel_shape, strides, dilations and
// pads; auto_pad is resolved at import. ceil_mode stays an attribute only in
// effect through the output shape (the windows are the same, just more of them).
#include "ops/GemmKernel.h"
#include "ops/OpRegistry.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace qcc {

namespace {

struct PoolShape {
  int64_t planes = 0; ///< N * C
  kernels::WindowGeometry geom;
};

llvm::Error checkPoolInput(const Node &n, bool floatOnly) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  if (x.rank() < 3)
    return nodeError(n, "input X has rank {} ({}), expected N x C x at least one spatial axis", x.rank(), x.str());
  for (int64_t d : x.shape)
    if (d < 1)
      return nodeError(n, "input X has an empty or unknown axis: {}", x.str());
  if (floatOnly ? !x.elem.isFloat() : !(x.elem.isFloat() || x.elem.isInt()))
    return nodeError(n, "input X is {}; {} supports {} tensors", x.str(), n.op, floatOnly ? "float" : "numeric");
  return llvm::Error::success();
}

llvm::Expected<PoolShape> poolShape(const Node &n, bool floatOnly) {
  if (auto e = checkPoolInput(n, floatOnly))
    return e;
  const TensorType &x = inType(n, 0);
  if (!n.has("kernel_shape"))
    return nodeError(n, "attribute 'kernel_shape' is required");
  PoolShape s;
  s.planes = x.shape[0] * x.shape[1];
  auto g = resolveWindow(n, Shape(x.shape.begin() + 2, x.shape.end()), n.getInts("kernel_shape"),
                         n.getInt("ceil_mode", 0) != 0);
  if (!g)
    return g.takeError();
  s.geom = std::move(*g);
  // Padding as wide as the window would create windows that see no input.
  const size_t r = s.geom.rank();
  for (size_t d = 0; d < r; ++d) {
    int64_t extent = dilatedExtent(s.geom.kernel[d], s.geom.dilations[d]);
    if (s.geom.pads[d] >= extent || s.geom.pads[d + r] >= extent)
      return nodeError(n, "pads [{}] must be smaller than the window extent ({}) along spatial axis {}",
                       fmt::join(s.geom.pads, ","), extent, d);
  }
  return s;
}

Shape poolOutputShape(const Node &n, const PoolShape &s) {
  const Shape &x = inType(n, 0).shape;
  Shape out{x[0], x[1]};
  out.insert(out.end(), s.geom.out.begin(), s.geom.out.end());
  return out;
}

// ---- window enumeration ----------------------------------------------------------

/// The input positions each output position's window reads along one axis.
struct AxisWindows {
  std::vector<int64_t> first; ///< window o covers index[first[o] .. first[o+1])
  std::vector<int64_t> index; ///< input coordinates inside the image
  std::vector<int64_t> padded; ///< taps inside the padded extent (count_include_pad)
};

AxisWindows axisWindows(const kernels::WindowGeometry &g, size_t d) {
  const int64_t r = int64_t(g.rank());
  AxisWindows w;
  for (int64_t o = 0; o < g.out[d]; ++o) {
    w.first.push_back(int64_t(w.index.size()));
    int64_t padded = 0;
    for (int64_t t = 0; t < g.kernel[d]; ++t) {
      int64_t i = o * g.strides[d] + t * g.dilations[d] - g.pads[d];
      padded += i < g.in[d] + g.pads[d + size_t(r)] ? 1 : 0; // never below -pads[d]
      if (i >= 0 && i < g.in[d])
        w.index.push_back(i);
    }
    w.padded.push_back(padded);
  }
  w.first.push_back(int64_t(w.index.size()));
  return w;
}

/// Calls f(outIndex, offsets, paddedCount) for each output position of one
/// plane, where offsets are the plane offsets (row-major) its window reads.
template <typename F> void forEachWindow(const kernels::WindowGeometry &g, F &&f) {
  const size_t r = g.rank();
  std::vector<AxisWindows> axes;
  for (size_t d = 0; d < r; ++d)
    axes.push_back(axisWindows(g, d));
  std::vector<int64_t> inStride(r, 1);
  for (size_t d = r - 1; d-- > 0;)
    inStride[d] = inStride[d + 1] * g.in[d + 1];
  std::vector<int64_t> pos(r, 0), offsets, next;
  const int64_t outSize = g.outSize();
  for (int64_t o = 0; o < outSize; ++o) {
    offsets.assign(1, 0);
    int64_t padded = 1;
    for (size_t d = 0; d < r; ++d) {
      const AxisWindows &a = axes[d];
      next.clear();
      for (int64_t base : offsets)
        for (int64_t j = a.first[size_t(pos[d])]; j < a.first[size_t(pos[d]) + 1]; ++j)
          next.push_back(base + a.index[size_t(j)] * inStride[d]);
      offsets.swap(next);
      padded *= a.padded[size_t(pos[d])];
    }
    f(o, offsets, padded);
    for (size_t d = r; d-- > 0;) {
      if (++pos[d] < g.out[d])
        break;
      pos[d] = 0;
    }
  }
}

/// Converts a row-major plane offset to a column-major one (storage_order=1).
int64_t columnMajorOffset(const Shape &in, int64_t offset) {
  int64_t result = 0, stride = 1;
  std::vector<int64_t> coord(in.size());
  for (size_t d = in.size(); d-- > 0;) {
    coord[d] = offset % in[d];
    offset /= in[d];
  }
  for (size_t d = 0; d < in.size(); ++d) {
    result += coord[d] * stride;
    stride *= in[d];
  }
  return result;
}

// ---- fast path: 1D/2D pooling tap by tap over whole output rows ----------------

/// Per-output-position window sizes along one axis (inside the image, or inside
/// the padded extent for count_include_pad).
std::vector<int64_t> windowCounts(const kernels::WindowGeometry &g, size_t d, bool padded) {
  AxisWindows a = axisWindows(g, d);
  std::vector<int64_t> counts(size_t(g.out[d]));
  for (size_t o = 0; o < counts.size(); ++o)
    counts[o] = padded ? a.padded[o] : a.first[o + 1] - a.first[o];
  return counts;
}

/// Max or sum pooling over 1 or 2 spatial axes: for each output row, kernel
/// row and kernel column, one (vectorizable) pass over the valid output
/// columns. Sums are divided by the window counts afterwards.
template <typename T, bool IsMax> void poolRows(const PoolShape &s, bool countPads, const T *x, T *y) {
  const kernels::WindowGeometry &g = s.geom;
  const bool twoD = g.rank() == 2;
  const int64_t H = twoD ? g.in[0] : 1, W = g.in.back();
  const int64_t OH = twoD ? g.out[0] : 1, OW = g.out.back();
  const int64_t KH = twoD ? g.kernel[0] : 1, KW = g.kernel.back();
  const int64_t sh = twoD ? g.strides[0] : 1, sw = g.strides.back();
  const int64_t dh = twoD ? g.dilations[0] : 1, dw = g.dilations.back();
  const int64_t ph = twoD ? g.pads[0] : 0, pw = g.pads[g.rank() - 1];
  std::vector<int64_t> rowCounts(size_t(OH), 1), colCounts;
  if (!IsMax) {
    if (twoD)
      rowCounts = windowCounts(g, 0, countPads);
    colCounts = windowCounts(g, g.rank() - 1, countPads);
  }
  const T init = IsMax ? std::numeric_limits<T>::lowest() : T(0);
  for (int64_t p = 0; p < s.planes; ++p) {
    const T *xp = x + p * H * W;
    T *yp = y + p * OH * OW;
    for (int64_t oh = 0; oh < OH; ++oh) {
      T *yrow = yp + oh * OW;
      std::fill(yrow, yrow + OW, init);
      for (int64_t kh = 0; kh < KH; ++kh) {
        const int64_t ih = oh * sh - ph + kh * dh;
        if (ih < 0 || ih >= H)
          continue;
        const T *xrow = xp + ih * W;
        for (int64_t kw = 0; kw < KW; ++kw) {
          const int64_t offset = kw * dw - pw;
          int64_t lo, hi;
          kernels::validRange(offset, sw, W, OW, lo, hi);
          if (lo >= hi)
            continue;
          const T *src = xrow + offset + lo * sw; // input of output column lo
          T *dst = yrow + lo;
          const int64_t count = hi - lo;
          for (int64_t o = 0; o < count; ++o) {
            const T v = src[o * sw];
            if constexpr (IsMax)
              dst[o] = v > dst[o] ? v : dst[o];
            else
              dst[o] += v;
          }
        }
      }
      if constexpr (!IsMax)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t count = rowCounts[size_t(oh)] * colCounts[size_t(ow)];
          yrow[ow] = count ? T(yrow[ow] / T(count)) : T(0);
        }
    }
  }
}

// ---- MaxPool ---------------------------------------------------------------------

llvm::Error canonicalizePool(Node &n, int64_t) {
  auto s = poolShape(n, n.op != "MaxPool");
  if (!s)
    return s.takeError();
  storeWindow(n, s->geom);
  return llvm::Error::success();
}

llvm::Error inferMaxPool(Node &n) {
  auto s = poolShape(n, /*floatOnly=*/false);
  if (!s)
    return s.takeError();
  int64_t order = n.getInt("storage_order", 0);
  if (order != 0 && order != 1)
    return nodeError(n, "storage_order is {}, expected 0 (row major) or 1 (column major)", order);
  Shape out = poolOutputShape(n, *s);
  setOutput(n, 0, inType(n, 0).elem, out);
  setOutput(n, 1, ElemType::i64(), out);
  return llvm::Error::success();
}

template <typename T>
void maxPool(const PoolShape &s, bool columnMajor, const T *x, T *y, int64_t *indices) {
  const kernels::WindowGeometry &g = s.geom;
  if (!indices && g.rank() <= 2)
    return poolRows<T, true>(s, false, x, y);
  const int64_t inSize = g.inSize(), outSize = g.outSize();
  for (int64_t p = 0; p < s.planes; ++p) {
    const T *xp = x + p * inSize;
    forEachWindow(g, [&](int64_t o, const std::vector<int64_t> &offsets, int64_t) {
      T best = std::numeric_limits<T>::lowest();
      int64_t bestOffset = offsets.empty() ? 0 : offsets[0];
      for (int64_t off : offsets)
        if (xp[off] > best) {
          best = xp[off];
          bestOffset = off;
        }
      y[p * outSize + o] = best;
      if (indices)
        indices[p * outSize + o] = p * inSize + (columnMajor ? columnMajorOffset(g.in, bestOffset) : bestOffset);
    });
  }
}

llvm::Error evalMaxPool(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto s = poolShape(n, false);
  if (!s)
    return s.takeError();
  const bool columnMajor = n.getInt("storage_order", 0) == 1;
  int64_t *indices = out.size() > 1 && !out[1].empty() ? out[1].data<int64_t>() : nullptr;
  return dispatchStorage(in[0]->elem().storage(), [&](auto tag) -> llvm::Error {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>)
      return nodeError(n, "MaxPool on bool tensors is not supported");
    else
      maxPool<T>(*s, columnMajor, in[0]->data<T>(), out[0].data<T>(), indices);
    return llvm::Error::success();
  });
}

// ---- AveragePool and LpPool -------------------------------------------------------

llvm::Error inferFloatPool(Node &n) {
  auto s = poolShape(n, /*floatOnly=*/true);
  if (!s)
    return s.takeError();
  if (n.op == "LpPool" && n.getFloat("p", 2.f) <= 0.f)
    return nodeError(n, "p is {}, must be positive", n.getFloat("p", 2.f));
  setOutput(n, 0, inType(n, 0).elem, poolOutputShape(n, *s));
  return llvm::Error::success();
}

template <typename T> void averagePool(const PoolShape &s, bool countPads, const T *x, T *y) {
  if (s.geom.rank() <= 2)
    return poolRows<T, false>(s, countPads, x, y);
  const int64_t inSize = s.geom.inSize(), outSize = s.geom.outSize();
  for (int64_t p = 0; p < s.planes; ++p) {
    const T *xp = x + p * inSize;
    forEachWindow(s.geom, [&](int64_t o, const std::vector<int64_t> &offsets, int64_t padded) {
      double sum = 0;
      for (int64_t off : offsets)
        sum += double(xp[off]);
      int64_t count = countPads ? padded : int64_t(offsets.size());
      y[p * outSize + o] = count ? T(sum / double(count)) : T(0);
    });
  }
}

template <typename T> void lpPool(const PoolShape &s, double power, const T *x, T *y) {
  const int64_t inSize = s.geom.inSize(), outSize = s.geom.outSize();
  for (int64_t p = 0; p < s.planes; ++p) {
    const T *xp = x + p * inSize;
    forEachWindow(s.geom, [&](int64_t o, const std::vector<int64_t> &offsets, int64_t) {
      double sum = 0;
      for (int64_t off : offsets)
        sum += std::pow(std::fabs(double(xp[off])), power);
      y[p * outSize + o] = T(std::pow(sum, 1.0 / power));
    });
  }
}

llvm::Error evalFloatPool(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto s = poolShape(n, true);
  if (!s)
    return s.takeError();
  const bool countPads = n.getInt("count_include_pad", 0) != 0;
  const double power = n.getFloat("p", 2.f);
  const bool lp = n.op == "LpPool";
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (lp)
      lpPool<T>(*s, power, in[0]->data<T>(), out[0].data<T>());
    else
      averagePool<T>(*s, countPads, in[0]->data<T>(), out[0].data<T>());
  };
  if (in[0]->elem() == ElemType::f64())
    run(double{});
  else
    run(float{});
  return llvm::Error::success();
}

// ---- GlobalAveragePool, GlobalMaxPool, GlobalLpPool ------------------------------------

llvm::Error inferGlobalPool(Node &n) {
  if (auto e = checkPoolInput(n, /*floatOnly=*/true))
    return e;
  const TensorType &x = inType(n, 0);
  Shape out(x.shape.size(), 1);
  out[0] = x.shape[0];
  out[1] = x.shape[1];
  setOutput(n, 0, x.elem, out);
  return llvm::Error::success();
}

template <typename T> void globalPool(const std::string &op, double power, const Tensor &x, Tensor &y) {
  const int64_t planes = x.shape()[0] * x.shape()[1];
  const int64_t size = x.size() / std::max<int64_t>(planes, 1);
  const T *px = x.data<T>();
  T *py = y.data<T>();
  for (int64_t p = 0; p < planes; ++p) {
    const T *plane = px + p * size;
    if (op == "GlobalMaxPool") {
      T best = plane[0];
      for (int64_t i = 1; i < size; ++i)
        best = plane[i] > best ? plane[i] : best;
      py[p] = best;
    } else if (op == "GlobalLpPool") {
      double sum = 0;
      for (int64_t i = 0; i < size; ++i)
        sum += std::pow(std::fabs(double(plane[i])), power);
      py[p] = T(std::pow(sum, 1.0 / power));
    } else {
      double sum = 0;
      for (int64_t i = 0; i < size; ++i)
        sum += double(plane[i]);
      py[p] = T(sum / double(size));
    }
  }
}

llvm::Error evalGlobalPool(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const double power = n.getFloat("p", 2.f);
  if (in[0]->elem() == ElemType::f64())
    globalPool<double>(n.op, power, *in[0], out[0]);
  else
    globalPool<float>(n.op, power, *in[0], out[0]);
  return llvm::Error::success();
}

// ---- MaxUnpool -----------------------------------------------------------------------

llvm::Error canonicalizeMaxUnpool(Node &n, int64_t) {
  // The optional output_shape input (constant in static graphs) becomes an attribute.
  if (n.input(2)) {
    auto shape = constInts(n, 2);
    if (!shape)
      return shape.takeError();
    n.attrs["output_shape"] = *shape;
  }
  dropInputs(n, 2);
  return llvm::Error::success();
}

/// MaxUnpool's output shapes: `natural` is the shape the indices refer to (the
/// input of the MaxPool that produced them), `out` the one requested by output_shape.
struct UnpoolShapes {
  Shape natural, out;
};

llvm::Expected<UnpoolShapes> maxUnpoolShapes(const Node &n) {
  if (auto e = expectInputs(n, 2, 2))
    return e;
  const TensorType &x = inType(n, 0), &idx = inType(n, 1);
  if (x.rank() < 3)
    return nodeError(n, "input X has rank {} ({}), expected N x C x at least one spatial axis", x.rank(), x.str());
  if (idx.elem != ElemType::i64() || idx.shape != x.shape)
    return nodeError(n, "indices I are {}, expected i64 with X's shape {}", idx.str(), x.str());
  const size_t r = size_t(x.rank() - 2);
  if (!n.has("kernel_shape") || n.getInts("kernel_shape").size() != r)
    return nodeError(n, "attribute 'kernel_shape' must give {} extents", r);
  auto kernel = windowInts(n, "kernel_shape", r, 1, 1);
  if (!kernel)
    return kernel.takeError();
  auto strides = windowInts(n, "strides", r, 1, 1);
  if (!strides)
    return strides.takeError();
  auto pads = windowInts(n, "pads", 2 * r, 0, 0);
  if (!pads)
    return pads.takeError();
  UnpoolShapes s;
  s.natural = {x.shape[0], x.shape[1]};
  for (size_t d = 0; d < r; ++d)
    s.natural.push_back((x.shape[d + 2] - 1) * (*strides)[d] + (*kernel)[d] - (*pads)[d] - (*pads)[d + r]);
  s.out = s.natural;
  if (n.has("output_shape")) {
    s.out = n.getInts("output_shape");
    if (s.out.size() != s.natural.size())
      return nodeError(n, "output_shape [{}] must have rank {}", fmt::join(s.out, ","), s.natural.size());
  }
  for (size_t d = 0; d < s.out.size(); ++d)
    if (s.natural[d] < 1 || s.out[d] < s.natural[d] || (d < 2 && s.out[d] != s.natural[d]))
      return nodeError(n, "output shape [{}] cannot hold the unpooled shape [{}]", fmt::join(s.out, ","),
                       fmt::join(s.natural, ","));
  return s;
}

llvm::Error inferMaxUnpool(Node &n) {
  auto s = maxUnpoolShapes(n);
  if (!s)
    return s.takeError();
  setOutput(n, 0, inType(n, 0).elem, s->out);
  return llvm::Error::success();
}

/// Scatters X into a zero output: I holds flat indices into the natural shape;
/// a larger output_shape keeps the same coordinates (the extra is at the end).
llvm::Error evalMaxUnpool(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  auto s = maxUnpoolShapes(n);
  if (!s)
    return s.takeError();
  const Tensor &x = *in[0];
  const int64_t *idx = in[1]->data<int64_t>();
  Tensor &y = out[0];
  const int64_t naturalSize = numElements(s->natural);
  const size_t bytes = x.elem().storageBytes();
  std::memset(y.raw(), 0, y.bytes());
  for (int64_t i = 0; i < x.size(); ++i) {
    if (idx[i] < 0 || idx[i] >= naturalSize)
      return nodeError(n, "index {} at position {} is outside the unpooled shape [{}]", idx[i], i,
                       fmt::join(s->natural, ","));
    int64_t rest = idx[i], target = 0, stride = 1;
    for (size_t d = s->natural.size(); d-- > 0;) {
      target += (rest % s->natural[d]) * stride;
      rest /= s->natural[d];
      stride *= s->out[d];
    }
    std::memcpy(y.raw() + target * int64_t(bytes), x.raw() + i * int64_t(bytes), bytes);
  }
  return llvm::Error::success();
}

} // namespace

void registerPoolOps(OpRegistry &r) {
  r.add({"MaxPool", "", canonicalizePool, inferMaxPool, evalMaxPool});
  r.add({"AveragePool", "", canonicalizePool, inferFloatPool, evalFloatPool});
  r.add({"LpPool", "", canonicalizePool, inferFloatPool, evalFloatPool});
  r.add({"GlobalAveragePool", "", nullptr, inferGlobalPool, evalGlobalPool});
  r.add({"GlobalMaxPool", "", nullptr, inferGlobalPool, evalGlobalPool});
  r.add({"GlobalLpPool", "", nullptr, inferGlobalPool, evalGlobalPool});
  r.add({"MaxUnpool", "", canonicalizeMaxUnpool, inferMaxUnpool, evalMaxUnpool});
}

} // namespace qcc
