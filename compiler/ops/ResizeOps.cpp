// Resize (opsets 10..21) and Upsample (opsets 7..9, imported as Resize).
//
// Canonical form (every opset, and Upsample, becomes this Resize):
//   one input X;
//   `sizes`  (ints, rank of X): the output shape;
//   `scales` (floats, rank of X): only when the model gave scales (or a
//            keep_aspect_ratio_policy fixed them); otherwise the coordinate
//            mapping uses sizes/in exactly;
//   `roi`    (floats, 2 x rank: starts then ends): only for tf_crop_and_resize;
//   `mode` nearest | linear | cubic, `coordinate_transformation_mode`,
//   `nearest_mode`, `cubic_coeff_a`, `exclude_outside`, `extrapolation_value`
//   as in ONNX (`nearest_mode` only for mode nearest), and `antialias` = 1
//   only where it matters (linear, cubic). Opset-18 `axes` are expanded to
//   full rank. Opset 10 and Upsample map to asymmetric coordinates, with
//   nearest rounding down when upsampling and up when downsampling (what
//   onnxruntime does for them).
#include "ops/OpRegistry.h"
#include "ops/Simd.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace qcc {

namespace {

using llvm::Error;

bool oneOf(const std::string &s, std::initializer_list<const char *> options) {
  for (const char *o : options)
    if (s == o)
      return true;
  return false;
}

/// Float values of an optional constant input; empty when absent or empty.
llvm::Expected<std::vector<double>> constDoubles(const Node &n, size_t i) {
  Value *v = n.input(i);
  if (!v)
    return std::vector<double>{};
  if (!v->isConstant())
    return nodeError(n, "input {} ('{}') must be a constant (an initializer or computable from "
                        "static shapes); qcc compiles static graphs",
                     i, v->name);
  std::vector<double> out;
  for (int64_t k = 0; k < v->constant->size(); ++k)
    out.push_back(v->constant->getDouble(k));
  return out;
}

/// The scale/size of resized axes, before expansion to full rank.
struct ResizeRequest {
  std::vector<int64_t> axes;  ///< resized axes (all axes unless opset-18 `axes`)
  std::vector<double> scales; ///< one per axis in `axes`, or empty
  std::vector<int64_t> sizes; ///< one per axis in `axes`, or empty
  std::vector<double> roi;    ///< 2 x axes.size(), or empty
};

Error readAxes(Node &n, int64_t rank, ResizeRequest &req) {
  if (!n.has("axes")) {
    for (int64_t d = 0; d < rank; ++d)
      req.axes.push_back(d);
    return Error::success();
  }
  for (int64_t a : n.getInts("axes")) {
    auto na = normAxis(n, a, rank);
    if (!na)
      return na.takeError();
    if (std::find(req.axes.begin(), req.axes.end(), *na) != req.axes.end())
      return nodeError(n, "axes lists axis {} twice", a);
    req.axes.push_back(*na);
  }
  return Error::success();
}

/// Opset 10 Resize and Upsample: scales only, asymmetric coordinates.
Error canonLegacy(Node &n, int64_t opset, ResizeRequest &req) {
  const bool upsample = n.op == "Upsample";
  if (upsample && opset < 9) {
    if (!n.has("scales"))
      return nodeError(n, "the scales attribute is missing");
    for (float s : n.getFloats("scales"))
      req.scales.push_back(s);
  } else {
    auto s = constDoubles(n, 1);
    if (!s)
      return s.takeError();
    req.scales = *s;
  }
  std::string mode = n.getString("mode", "nearest");
  if (mode == "bilinear")
    mode = "linear";
  if (!oneOf(mode, {"nearest", "linear"}))
    return nodeError(n, "mode '{}' is not one of 'nearest', 'linear'", mode);
  n.attrs["mode"] = mode;
  n.attrs["coordinate_transformation_mode"] = std::string("asymmetric");
  bool up = false, down = false;
  for (double s : req.scales) {
    up |= s > 1;
    down |= s < 1;
  }
  if (mode == "nearest" && up && down)
    return nodeError(n, "nearest {} that upsamples some axes and downsamples others is not "
                        "supported at opset {}",
                     n.op, opset);
  if (mode == "nearest")
    n.attrs["nearest_mode"] = std::string(down ? "ceil" : "floor");
  return Error::success();
}

/// Opset 11+ Resize: roi, scales, sizes inputs; opset 18 axes and policies.
Error canonModern(Node &n, ResizeRequest &req) {
  auto scales = constDoubles(n, 2);
  if (!scales)
    return scales.takeError();
  req.scales = *scales;
  if (n.input(3)) {
    auto sizes = constInts(n, 3);
    if (!sizes)
      return sizes.takeError();
    req.sizes = *sizes;
  }
  if (req.scales.empty() == req.sizes.empty())
    return nodeError(n, "exactly one of scales and sizes must be given (non-empty)");
  const std::string ctm = n.getString("coordinate_transformation_mode", "half_pixel");
  if (ctm == "tf_crop_and_resize") { // the only mode that reads roi
    auto roi = constDoubles(n, 1);
    if (!roi)
      return roi.takeError();
    req.roi = *roi;
    if (req.roi.size() != 2 * req.axes.size())
      return nodeError(n, "roi has {} values, expected {} (starts and ends of {} axes)", req.roi.size(),
                       2 * req.axes.size(), req.axes.size());
  }
  const std::string policy = n.getString("keep_aspect_ratio_policy", "stretch");
  if (!oneOf(policy, {"stretch", "not_larger", "not_smaller"}))
    return nodeError(n, "keep_aspect_ratio_policy '{}' is not one of stretch, not_larger, not_smaller", policy);
  if (policy != "stretch" && !req.sizes.empty()) {
    if (req.sizes.size() != req.axes.size())
      return nodeError(n, "sizes has {} values, expected {}", req.sizes.size(), req.axes.size());
    // One scale for all resized axes; sizes become round(scale * in).
    const Shape &in = n.inputs[0]->type.shape;
    double scale = policy == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
    for (size_t i = 0; i < req.axes.size(); ++i) {
      double s = double(req.sizes[i]) / double(in[size_t(req.axes[i])]);
      scale = policy == "not_larger" ? std::min(scale, s) : std::max(scale, s);
    }
    req.scales.assign(req.axes.size(), scale);
    for (size_t i = 0; i < req.axes.size(); ++i)
      req.sizes[i] = int64_t(scale * double(in[size_t(req.axes[i])]) + 0.5);
  }
  std::string mode = n.getString("mode", "nearest");
  if (!oneOf(mode, {"nearest", "linear", "cubic"}))
    return nodeError(n, "mode '{}' is not one of 'nearest', 'linear', 'cubic'", mode);
  if (!oneOf(ctm, {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                   "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"}))
    return nodeError(n, "coordinate_transformation_mode '{}' is not supported", ctm);
  const std::string nearest = n.getString("nearest_mode", "round_prefer_floor");
  if (!oneOf(nearest, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}))
    return nodeError(n, "nearest_mode '{}' is not supported", nearest);
  n.attrs["mode"] = mode;
  n.attrs["coordinate_transformation_mode"] = ctm;
  if (mode == "nearest")
    n.attrs["nearest_mode"] = nearest;
  else
    n.attrs.erase("nearest_mode");
  // antialias only changes linear and cubic downsampling
  if (n.getInt("antialias", 0) != 0 && mode != "nearest")
    n.attrs["antialias"] = int64_t(1);
  else
    n.attrs.erase("antialias");
  return Error::success();
}

Error canonResize(Node &n, int64_t opset) {
  if (!n.input(0))
    return nodeError(n, "input 0 is missing");
  const Shape &in = n.inputs[0]->type.shape;
  const int64_t rank = int64_t(in.size());
  const bool legacy = n.op == "Upsample" || opset < 11;
  ResizeRequest req;
  if (auto e = readAxes(n, rank, req))
    return e;
  if (auto e = legacy ? canonLegacy(n, opset, req) : canonModern(n, req))
    return e;

  // Expand to full rank and fix the output shape.
  std::vector<int64_t> sizes(in.begin(), in.end());
  std::vector<float> scales(size_t(rank), 1.0f);
  std::vector<float> roi;
  const bool haveScales = !req.scales.empty();
  if (haveScales && req.scales.size() != req.axes.size())
    return nodeError(n, "scales has {} values, expected {}", req.scales.size(), req.axes.size());
  if (!haveScales && req.sizes.size() != req.axes.size())
    return nodeError(n, "sizes has {} values, expected {}", req.sizes.size(), req.axes.size());
  for (size_t i = 0; i < req.axes.size(); ++i) {
    const size_t a = size_t(req.axes[i]);
    if (in[a] <= 0)
      return nodeError(n, "input axis {} has size {}; nothing to resize", a, in[a]);
    if (haveScales) {
      float s = float(req.scales[i]);
      if (!(s > 0))
        return nodeError(n, "scale {} for axis {} is not positive", req.scales[i], a);
      scales[a] = s;
      // float product, truncated, as onnxruntime sizes the output
      const float outLen = s * float(in[a]);
      if (!(outLen < 0x1p62f))
        return nodeError(n, "scale {} makes output axis {} absurdly large", req.scales[i], a);
      sizes[a] = req.sizes.empty() ? int64_t(outLen) : req.sizes[i];
    } else {
      sizes[a] = req.sizes[i];
    }
    if (sizes[a] <= 0)
      return nodeError(n, "output axis {} would have size {}", a, sizes[a]);
  }
  double total = 1;
  for (int64_t d : sizes)
    total *= double(d);
  if (total > 0x1p62)
    return nodeError(n, "the output would have {:g} elements", total);
  if (!req.roi.empty()) {
    roi.assign(size_t(rank), 0.0f);
    roi.resize(2 * size_t(rank), 1.0f);
    for (size_t i = 0; i < req.axes.size(); ++i) {
      roi[size_t(req.axes[i])] = float(req.roi[i]);
      roi[size_t(rank + req.axes[i])] = float(req.roi[req.axes.size() + i]);
    }
    n.attrs["roi"] = roi;
  }
  n.attrs["sizes"] = sizes;
  if (haveScales)
    n.attrs["scales"] = scales;
  else
    n.attrs.erase("scales");
  for (const char *a : {"axes", "keep_aspect_ratio_policy"})
    n.attrs.erase(a);
  dropInputs(n, 1);
  n.op = "Resize"; // Upsample is the same kernel
  return Error::success();
}

Error inferResize(Node &n) {
  if (auto e = expectInputs(n, 1, 1))
    return e;
  const TensorType &x = inType(n, 0);
  const std::vector<int64_t> sizes = n.getInts("sizes");
  if (int64_t(sizes.size()) != x.rank())
    return nodeError(n, "sizes has {} values, expected {} (the input rank)", sizes.size(), x.rank());
  if (n.has("scales") && int64_t(n.getFloats("scales").size()) != x.rank())
    return nodeError(n, "scales has {} values, expected {}", n.getFloats("scales").size(), x.rank());
  if (n.has("roi") && int64_t(n.getFloats("roi").size()) != 2 * x.rank())
    return nodeError(n, "roi has {} values, expected {}", n.getFloats("roi").size(), 2 * x.rank());
  if (x.elem.isBool() && n.getString("mode", "nearest") != "nearest")
    return nodeError(n, "bool inputs can only be resized with mode 'nearest'");
  setOutput(n, 0, x.elem, Shape(sizes.begin(), sizes.end()));
  return Error::success();
}

// ---- the kernel -----------------------------------------------------------------------

/// Where output positions along one axis read from: `taps` input indices and
/// weights per output position; `outside` marks tf_crop_and_resize positions
/// that take the extrapolation value.
struct AxisTaps {
  int taps = 1;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<char> outside;
  bool identity = true;
};

struct ResizeParams {
  std::string mode, ctm, nearest;
  double cubicA = -0.75;
  bool excludeOutside = false;
  bool antialias = false;
  double extrapolation = 0.0;
};

/// Source coordinate of output position x (ONNX's coordinate_transformation_mode).
double sourceCoord(const ResizeParams &p, double x, double scale, int64_t inLen, int64_t outLen,
                   double roiStart, double roiEnd) {
  const double outWidth = scale * double(inLen); // as the ONNX reference: not rounded
  if (p.ctm == "half_pixel")
    return (x + 0.5) / scale - 0.5;
  if (p.ctm == "half_pixel_symmetric") {
    const double adjustment = double(outLen) / outWidth;
    const double offset = double(inLen) / 2 * (1 - adjustment);
    return offset + (x + 0.5) / scale - 0.5;
  }
  if (p.ctm == "pytorch_half_pixel")
    return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (p.ctm == "align_corners")
    return outWidth == 1 ? 0.0 : x * double(inLen - 1) / (outWidth - 1);
  if (p.ctm == "tf_half_pixel_for_nn")
    return (x + 0.5) / scale;
  if (p.ctm == "tf_crop_and_resize") {
    const double span = (roiEnd - roiStart) * double(inLen - 1);
    return roiStart * double(inLen - 1) + (outWidth == 1 ? span / 2 : x * span / (outWidth - 1));
  }
  return x / scale; // asymmetric
}

/// Interpolation kernels at distance d (in input pixels, scaled for antialias).
double linearKernel(double d) { return std::max(0.0, 1.0 - std::fabs(d)); }

double cubicKernel(double d, double a) {
  d = std::fabs(d);
  if (d <= 1)
    return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2)
    return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

int64_t nearestIndex(const std::string &mode, double x) {
  const double f = std::floor(x), frac = x - f;
  if (frac == 0)
    return int64_t(f);
  if (mode == "floor")
    return int64_t(f);
  if (mode == "ceil")
    return int64_t(f) + 1;
  if (mode == "round_prefer_ceil")
    return frac < 0.5 ? int64_t(f) : int64_t(f) + 1;
  return frac <= 0.5 ? int64_t(f) : int64_t(f) + 1; // round_prefer_floor
}

/// Taps of one axis. Linear and cubic taps are the kernel's support around the
/// source coordinate x: indices floor(x)+start .. floor(x)+start+taps-1 with
/// weights kernel((index - x) * s). s is 1, or the scale when antialiasing a
/// downsampling axis (the kernel then stretches over 1/scale input pixels and
/// the weights are normalised). Indices past the edges read the edge pixel
/// (ONNX's edge padding) unless exclude_outside drops them.
AxisTaps axisTaps(const ResizeParams &p, int64_t inLen, int64_t outLen, double scale, double roiStart,
                  double roiEnd) {
  AxisTaps t;
  const bool nearest = p.mode == "nearest", cubic = p.mode == "cubic";
  const double s = p.antialias && !nearest ? std::min(scale, 1.0) : 1.0;
  const double support = cubic ? 2.0 : 1.0;
  const int64_t start = int64_t(std::floor(-support / s)) + 1;
  t.taps = nearest ? 1 : int(2 - 2 * start);
  t.index.resize(size_t(outLen * t.taps));
  t.weight.resize(size_t(outLen * t.taps));
  t.outside.assign(size_t(outLen), 0);
  t.identity = inLen == outLen;
  auto clampIndex = [inLen](int64_t i) { return std::min(std::max<int64_t>(i, 0), inLen - 1); };
  for (int64_t j = 0; j < outLen; ++j) {
    const double x = sourceCoord(p, double(j), scale, inLen, outLen, roiStart, roiEnd);
    int64_t *idx = &t.index[size_t(j * t.taps)];
    double *w = &t.weight[size_t(j * t.taps)];
    if (x != double(j))
      t.identity = false;
    if (p.ctm == "tf_crop_and_resize" && (x < 0 || x > double(inLen - 1))) {
      t.outside[size_t(j)] = 1;
      t.identity = false;
    }
    if (nearest) {
      idx[0] = clampIndex(nearestIndex(p.nearest, x));
      w[0] = 1;
      continue;
    }
    const int64_t first = int64_t(std::floor(x)) + start;
    double sum = 0;
    for (int k = 0; k < t.taps; ++k) {
      const double d = (double(first + k) - x) * s;
      w[k] = cubic ? cubicKernel(d, p.cubicA) : linearKernel(d);
      sum += w[k];
    }
    if (p.antialias && sum != 0)
      for (int k = 0; k < t.taps; ++k)
        w[k] /= sum;
    if (p.excludeOutside) {
      sum = 0;
      for (int k = 0; k < t.taps; ++k) {
        if (first + k < 0 || first + k >= inLen)
          w[k] = 0;
        sum += w[k];
      }
      if (sum != 0)
        for (int k = 0; k < t.taps; ++k)
          w[k] /= sum;
    }
    for (int k = 0; k < t.taps; ++k)
      idx[k] = clampIndex(first + k);
  }
  return t;
}

/// One separable pass: [outer, inLen, inner] -> [outer, outLen, inner]. T is the
/// element type, W the type weights are applied in.
template <typename T, typename W>
QCC_SIMD_CLONES void resizePass(const T *src, T *dst, int64_t outer, int64_t inLen, int64_t outLen, int64_t inner,
                                const AxisTaps &t, T extrapolation) {
  std::vector<W> w(t.weight.begin(), t.weight.end());
  if (inner == 1) { // the last axis: a gather per output element
    const int taps = t.taps;
    const int64_t *idx = t.index.data();
    const W *wt = w.data();
    const bool anyOutside = std::find(t.outside.begin(), t.outside.end(), 1) != t.outside.end();
    for (int64_t o = 0; o < outer; ++o) {
      const T *s = src + o * inLen;
      T *d = dst + o * outLen;
      if (taps == 1) {
        for (int64_t j = 0; j < outLen; ++j)
          d[j] = s[idx[j]];
      } else if (taps == 2) {
        for (int64_t j = 0; j < outLen; ++j)
          d[j] = T(wt[2 * j] * W(s[idx[2 * j]]) + wt[2 * j + 1] * W(s[idx[2 * j + 1]]));
      } else {
        for (int64_t j = 0; j < outLen; ++j) {
          W acc = wt[j * taps] * W(s[idx[j * taps]]);
          for (int q = 1; q < taps; ++q)
            acc += wt[j * taps + q] * W(s[idx[j * taps + q]]);
          d[j] = T(acc);
        }
      }
      if (anyOutside)
        for (int64_t j = 0; j < outLen; ++j)
          if (t.outside[size_t(j)])
            d[j] = extrapolation;
    }
    return;
  }
  for (int64_t o = 0; o < outer; ++o) {
    const T *s = src + o * inLen * inner;
    T *d = dst + o * outLen * inner;
    for (int64_t j = 0; j < outLen; ++j) {
      T *row = d + j * inner;
      const int64_t *idx = &t.index[size_t(j * t.taps)];
      const W *wj = &w[size_t(j * t.taps)];
      if (t.outside[size_t(j)]) {
        std::fill(row, row + inner, extrapolation);
      } else if (t.taps == 1) {
        std::copy(s + idx[0] * inner, s + (idx[0] + 1) * inner, row);
      } else if (t.taps == 2) {
        const T *a = s + idx[0] * inner, *b = s + idx[1] * inner;
        const W wa = wj[0], wb = wj[1];
        for (int64_t k = 0; k < inner; ++k)
          row[k] = T(wa * W(a[k]) + wb * W(b[k]));
      } else if (t.taps == 4) {
        const T *r0 = s + idx[0] * inner, *r1 = s + idx[1] * inner, *r2 = s + idx[2] * inner,
                *r3 = s + idx[3] * inner;
        for (int64_t k = 0; k < inner; ++k)
          row[k] = T(wj[0] * W(r0[k]) + wj[1] * W(r1[k]) + wj[2] * W(r2[k]) + wj[3] * W(r3[k]));
      } else { // antialiased downsampling: a wider kernel
        for (int64_t k = 0; k < inner; ++k) {
          W acc = 0;
          for (int q = 0; q < t.taps; ++q)
            acc += wj[q] * W(s[idx[q] * inner + k]);
          row[k] = T(acc);
        }
      }
    }
  }
}

/// Runs the passes over a tensor of type T (weights in W), the last one
/// straight into `y`.
template <typename T, typename W>
void resizeAll(const Tensor &x, Tensor &y, const std::vector<AxisTaps> &taps,
               const std::vector<int64_t> &order, T extrapolation) {
  if (order.empty()) {
    if (x.bytes())
      std::memcpy(y.raw(), x.raw(), x.bytes());
    return;
  }
  Tensor cur = x;
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t a = order[i];
    Shape s = cur.shape();
    const int64_t inLen = s[size_t(a)], outLen = y.shape()[size_t(a)];
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < int64_t(s.size()); ++d)
      if (d < a)
        outer *= s[size_t(d)];
      else if (d > a)
        inner *= s[size_t(d)];
    s[size_t(a)] = outLen;
    Tensor next = i + 1 == order.size() ? y : Tensor(cur.elem(), s);
    resizePass<T, W>(cur.data<T>(), next.data<T>(), outer, inLen, outLen, inner, taps[size_t(a)],
                     extrapolation);
    cur = next;
  }
}

Error evalResize(const Node &n, llvm::ArrayRef<const Tensor *> in, llvm::MutableArrayRef<Tensor> out) {
  const Tensor &x = *in[0];
  Tensor &y = out[0];
  const Shape &inShape = x.shape(), &outShape = y.shape();
  const int64_t rank = x.rank();
  ResizeParams p;
  p.mode = n.getString("mode", "nearest");
  p.ctm = n.getString("coordinate_transformation_mode", "half_pixel");
  p.nearest = n.getString("nearest_mode", "round_prefer_floor");
  p.cubicA = n.getFloat("cubic_coeff_a", -0.75f);
  p.excludeOutside = n.getInt("exclude_outside", 0) != 0;
  p.antialias = n.getInt("antialias", 0) != 0;
  p.extrapolation = n.getFloat("extrapolation_value", 0.0f);
  const std::vector<float> scales = n.getFloats("scales");
  const std::vector<float> roi = n.getFloats("roi");

  std::vector<AxisTaps> taps(static_cast<size_t>(rank));
  std::vector<int64_t> order;
  for (int64_t a = 0; a < rank; ++a) {
    const int64_t inLen = inShape[size_t(a)], outLen = outShape[size_t(a)];
    const double scale = scales.empty() ? double(outLen) / double(inLen) : double(scales[size_t(a)]);
    const double r0 = roi.empty() ? 0.0 : roi[size_t(a)], r1 = roi.empty() ? 1.0 : roi[size_t(rank + a)];
    taps[size_t(a)] = axisTaps(p, inLen, outLen, scale, r0, r1);
    if (!taps[size_t(a)].identity)
      order.push_back(a);
  }
  // Shrinking axes first keeps the intermediate tensors small.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return double(outShape[size_t(a)]) / double(inShape[size_t(a)]) <
           double(outShape[size_t(b)]) / double(inShape[size_t(b)]);
  });

  return dispatchStorage(x.elem().storage(), [&](auto tag) -> Error {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      resizeAll<T, T>(x, y, taps, order, T(p.extrapolation));
    } else if (p.mode == "nearest") {
      resizeAll<T, double>(x, y, taps, order, T(p.extrapolation));
    } else {
      // Interpolate integers in double, then round and saturate once.
      Tensor xd(ElemType::f64(), inShape), yd(ElemType::f64(), outShape);
      for (int64_t i = 0; i < x.size(); ++i)
        xd.data<double>()[i] = double(x.data<T>()[i]);
      resizeAll<double, double>(xd, yd, taps, order, p.extrapolation);
      T *py = y.data<T>();
      const double lo = double(std::numeric_limits<T>::lowest()), hi = double(std::numeric_limits<T>::max());
      for (int64_t i = 0; i < yd.size(); ++i)
        py[i] = T(std::min(std::max(std::nearbyint(yd.data<double>()[i]), lo), hi));
    }
    return Error::success();
  });
}

} // namespace

void registerResizeOps(OpRegistry &r) {
  r.add({"Resize", "", canonResize, inferResize, evalResize, nullptr, false, 10});
  r.add({"Upsample", "", canonResize, inferResize, evalResize, nullptr, false, 7});
}

} // namespace qcc
