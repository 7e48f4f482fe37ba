// Float32 GEMM and the im2col / col2im helpers the float interpreter's Conv,
// ConvTranspose, Gemm and MatMul kernels share.
//
// The interpreter is single-threaded by design (calibration parallelises over
// samples, and benchmarks compare with onnxruntime on one thread), so OpenBLAS
// is pinned to the calling thread (useSingleThreadedBlas).
//
// It also holds the window-attribute resolution (kernel_shape, strides,
// dilations, pads, auto_pad) that Conv, ConvTranspose and the pools share.
#pragma once

#include "ir/Graph.h"
#include "support/Error.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace qcc::kernels {

// OpenBLAS (pthreads builds) stops its worker threads with this; weak so that
// other BLAS builds still link.
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

/// Pins OpenBLAS to the calling thread, once: compute on one thread, and no
/// idle workers, which otherwise spin-yield for a while after start-up and
/// compete with the interpreter for cores. Called at op registration (before
/// a model loads) and before every GEMM.
inline void useSingleThreadedBlas() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_)
      blas_thread_shutdown_();
    return true;
  }();
  (void)done;
}

/// Row-major C[M,N] = alpha * op(A) * op(B) + beta * C, where op(A) is M x K
/// and op(B) is K x N. Leading dimensions are in elements.
inline void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc) {
  useSingleThreadedBlas();
  if (M == 0 || N == 0)
    return;
  if (K == 0) { // BLAS leaves C untouched for K == 0 only when beta == 1
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              blasint(M), blasint(N), blasint(K), alpha, A, blasint(lda), B, blasint(ldb), beta, C,
              blasint(ldc));
}

/// A reusable scratch buffer (the interpreter runs one kernel at a time per thread).
inline float *scratchFloats(size_t count) {
  thread_local std::vector<float> buf;
  if (buf.size() < count)
    buf.resize(count);
  return buf.data();
}

/// Geometry of a sliding window over the spatial axes of an NC... tensor.
/// `in` and `out` are spatial extents; pads are [begin..., end...] as in ONNX.
struct WindowGeometry {
  std::vector<int64_t> in, out, kernel, strides, dilations, pads;

  size_t rank() const { return in.size(); }
  int64_t inSize() const { return product(in); }
  int64_t outSize() const { return product(out); }
  int64_t kernelSize() const { return product(kernel); }
  static int64_t product(const std::vector<int64_t> &v) {
    int64_t p = 1;
    for (int64_t x : v)
      p *= x;
    return p;
  }
};

/// For the innermost spatial axis: the output positions [lo, hi) whose input
/// coordinate o*stride + offset lies inside [0, extent).
inline void validRange(int64_t offset, int64_t stride, int64_t extent, int64_t outCount, int64_t &lo,
                       int64_t &hi) {
  // o*stride + offset >= 0  <=>  o >= ceil(-offset / stride)
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // o*stride + offset <= extent - 1  <=>  o <= floor((extent - 1 - offset) / stride)
  int64_t last = extent - 1 - offset;
  hi = last < 0 ? 0 : last / stride + 1;
  lo = std::min(lo, outCount);
  hi = std::clamp(hi, lo, outCount);
}

/// Walks the column matrix of an im2col/col2im: for every channel c, kernel
/// tap k and output row (all spatial axes but the last), calls
/// rowFn(colOffset, inputOffset or -1 when the row lies in padding,
/// innerOffset) where the innermost input coordinate of output position o is
/// o*stride + innerOffset.
template <typename RowFn>
void forEachColumnRow(const WindowGeometry &g, int64_t channels, RowFn &&rowFn) {
  const size_t r = g.rank();
  const int64_t outInner = g.out[r - 1];
  const int64_t outRows = g.outSize() / std::max<int64_t>(outInner, 1);
  const int64_t taps = g.kernelSize();
  std::vector<int64_t> tap(r, 0), orow(r, 0);
  int64_t colOffset = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t chanBase = c * g.inSize();
    std::fill(tap.begin(), tap.end(), 0);
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t innerOffset = tap[r - 1] * g.dilations[r - 1] - g.pads[r - 1];
      std::fill(orow.begin(), orow.end(), 0);
      for (int64_t row = 0; row < outRows; ++row) {
        // input offset of the outer axes (all but the innermost)
        int64_t inOffset = 0;
        bool inside = true;
        for (size_t d = 0; d + 1 < r; ++d) {
          int64_t i = orow[d] * g.strides[d] + tap[d] * g.dilations[d] - g.pads[d];
          inside &= i >= 0 && i < g.in[d];
          inOffset = inOffset * g.in[d] + i;
        }
        rowFn(colOffset, inside ? chanBase + inOffset * g.in[r - 1] : int64_t(-1), innerOffset);
        colOffset += outInner;
        for (size_t d = r - 1; d-- > 0;) { // odometer over the outer output axes
          if (++orow[d] < g.out[d])
            break;
          orow[d] = 0;
        }
      }
      for (size_t d = r; d-- > 0;) { // odometer over the kernel taps
        if (++tap[d] < g.kernel[d])
          break;
        tap[d] = 0;
      }
    }
  }
}

/// Copies one im2col row: dst[o] = xrow[o*Stride + offset] for o in [lo, hi), zero
/// elsewhere in [0, count). Stride > 0 is a compile-time constant (vectorizable);
/// Stride == 0 means the runtime `stride`.
template <int64_t Stride>
inline void im2colRow(const float *xrow, int64_t offset, int64_t stride, int64_t lo, int64_t hi, int64_t count,
                      float *dst) {
  const int64_t s = Stride > 0 ? Stride : stride;
  for (int64_t o = 0; o < lo; ++o)
    dst[o] = 0.f;
  for (int64_t o = lo; o < hi; ++o)
    dst[o] = xrow[o * s + offset];
  for (int64_t o = hi; o < count; ++o)
    dst[o] = 0.f;
}

/// im2col over one or two spatial axes, for output rows [rowBegin, rowEnd)
/// only (the column matrix then has (rowEnd - rowBegin) * OW columns). Kernel
/// tap ranges are computed once per kernel column, and each row is a short
/// copy loop (rows are often only 7 to 56 floats, where per-row bookkeeping
/// would dominate).
inline void im2col2D(const WindowGeometry &g, int64_t channels, const float *x, float *col, int64_t rowBegin,
                     int64_t rowEnd) {
  const bool twoD = g.rank() == 2;
  const size_t r = g.rank();
  const int64_t H = twoD ? g.in[0] : 1, W = g.in[r - 1];
  const int64_t OW = g.out[r - 1];
  const int64_t KH = twoD ? g.kernel[0] : 1, KW = g.kernel[r - 1];
  const int64_t sh = twoD ? g.strides[0] : 1, sw = g.strides[r - 1];
  const int64_t dh = twoD ? g.dilations[0] : 1, dw = g.dilations[r - 1];
  const int64_t ph = twoD ? g.pads[0] : 0, pw = g.pads[r - 1];
  float *dst = col;
  for (int64_t c = 0; c < channels; ++c) {
    const float *xc = x + c * H * W;
    for (int64_t kh = 0; kh < KH; ++kh)
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t offset = kw * dw - pw;
        int64_t lo, hi;
        validRange(offset, sw, W, OW, lo, hi);
        for (int64_t oh = rowBegin; oh < rowEnd; ++oh, dst += OW) {
          const int64_t ih = oh * sh - ph + kh * dh;
          if (ih < 0 || ih >= H) {
            std::fill(dst, dst + OW, 0.f);
            continue;
          }
          const float *xrow = xc + ih * W;
          if (sw == 1)
            im2colRow<1>(xrow, offset, 1, lo, hi, OW, dst);
          else if (sw == 2)
            im2colRow<2>(xrow, offset, 2, lo, hi, OW, dst);
          else
            im2colRow<0>(xrow, offset, sw, lo, hi, OW, dst);
        }
      }
  }
}

/// col[(c, taps...), (outs...)] = x[c, in...] (zero where the window is in padding).
inline void im2col(const WindowGeometry &g, int64_t channels, const float *x, float *col) {
  if (g.rank() <= 2)
    return im2col2D(g, channels, x, col, 0, g.rank() == 2 ? g.out[0] : 1);
  const size_t r = g.rank();
  const int64_t outInner = g.out[r - 1], stride = g.strides[r - 1], extent = g.in[r - 1];
  forEachColumnRow(g, channels, [&](int64_t colOffset, int64_t inOffset, int64_t innerOffset) {
    float *dst = col + colOffset;
    if (inOffset < 0) {
      std::fill(dst, dst + outInner, 0.f);
      return;
    }
    int64_t lo, hi;
    validRange(innerOffset, stride, extent, outInner, lo, hi);
    im2colRow<0>(x + inOffset, innerOffset, stride, lo, hi, outInner, dst);
  });
}

/// The adjoint of im2col: y[c, in...] += col[(c, taps...), (outs...)], skipping padding.
/// Here `in` is the image being accumulated (ConvTranspose's output).
inline void col2imAdd(const WindowGeometry &g, int64_t channels, const float *col, float *y) {
  const size_t r = g.rank();
  const int64_t outInner = g.out[r - 1], stride = g.strides[r - 1], extent = g.in[r - 1];
  forEachColumnRow(g, channels, [&](int64_t colOffset, int64_t inOffset, int64_t innerOffset) {
    if (inOffset < 0)
      return;
    int64_t lo, hi;
    validRange(innerOffset, stride, extent, outInner, lo, hi);
    const float *src = col + colOffset;
    float *dst = y + inOffset + innerOffset + lo * stride; // image element of output lo
    for (int64_t o = lo; o < hi; ++o)
      dst[(o - lo) * stride] += src[o];
  });
}

} // namespace qcc::kernels

namespace qcc {

// ---- window attributes shared by Conv, ConvTranspose and the pools ----------
//
// The canonical form keeps explicit kernel_shape, strides, dilations and pads
// (and output_padding for ConvTranspose); auto_pad and output_shape are
// resolved against the static input shape and dropped.

/// Upper bound on a stride, dilation, pad or kernel extent: far beyond any real
/// model, small enough that window arithmetic cannot overflow.
inline constexpr int64_t kMaxWindowValue = int64_t(1) << 24;

/// Attribute `name` with `count` values (default: `dflt` repeated), each in
/// [minValue, kMaxWindowValue].
inline llvm::Expected<std::vector<int64_t>> windowInts(const Node &n, const std::string &name, size_t count,
                                                       int64_t dflt, int64_t minValue) {
  if (!n.has(name))
    return std::vector<int64_t>(count, dflt);
  std::vector<int64_t> v = n.getInts(name);
  if (v.size() != count)
    return nodeError(n, "attribute '{}' has {} values, expected {} for this input rank", name, v.size(), count);
  for (int64_t x : v)
    if (x < minValue || x > kMaxWindowValue)
      return nodeError(n, "attribute '{}' = [{}] must hold values in [{}, {}]", name, fmt::join(v, ","),
                       minValue, kMaxWindowValue);
  return v;
}

inline int64_t dilatedExtent(int64_t kernel, int64_t dilation) { return (kernel - 1) * dilation + 1; }

/// Resolves a Conv or pool node's window over input spatial extents `in`:
/// defaults, auto_pad, ceil_mode and the output extents.
inline llvm::Expected<kernels::WindowGeometry> resolveWindow(const Node &n, const Shape &in,
                                                             const std::vector<int64_t> &kernel,
                                                             bool ceilMode) {
  const size_t r = in.size();
  kernels::WindowGeometry g;
  g.in = in;
  g.kernel = kernel;
  if (kernel.size() != r)
    return nodeError(n, "kernel_shape has {} values, the input has {} spatial axes", kernel.size(), r);
  for (int64_t k : kernel)
    if (k < 1 || k > kMaxWindowValue)
      return nodeError(n, "kernel_shape [{}] must hold positive extents", fmt::join(kernel, ","));
  auto strides = windowInts(n, "strides", r, 1, 1);
  if (!strides)
    return strides.takeError();
  auto dilations = windowInts(n, "dilations", r, 1, 1);
  if (!dilations)
    return dilations.takeError();
  g.strides = *strides;
  g.dilations = *dilations;
  std::string autoPad = n.getString("auto_pad", "NOTSET");
  if (autoPad == "NOTSET" || autoPad.empty()) {
    auto pads = windowInts(n, "pads", 2 * r, 0, 0);
    if (!pads)
      return pads.takeError();
    g.pads = *pads;
  } else if (autoPad == "VALID") {
    g.pads.assign(2 * r, 0);
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    g.pads.assign(2 * r, 0);
    for (size_t d = 0; d < r; ++d) {
      int64_t out = (in[d] + g.strides[d] - 1) / g.strides[d];
      int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[d] + dilatedExtent(kernel[d], g.dilations[d]) - in[d]);
      int64_t small = total / 2;
      g.pads[d] = autoPad == "SAME_UPPER" ? small : total - small;
      g.pads[d + r] = total - g.pads[d];
    }
  } else {
    return nodeError(n, "auto_pad '{}' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", autoPad);
  }
  g.out.resize(r);
  for (size_t d = 0; d < r; ++d) {
    int64_t extent = dilatedExtent(kernel[d], g.dilations[d]);
    int64_t span = in[d] + g.pads[d] + g.pads[d + r] - extent;
    if (span < 0)
      return nodeError(n, "the window (extent {}) is larger than the padded input ({}) along spatial axis {}",
                       extent, in[d] + g.pads[d] + g.pads[d + r], d);
    int64_t s = g.strides[d];
    int64_t out = (ceilMode ? (span + s - 1) / s : span / s) + 1;
    // ceil_mode: a last window that would start inside the end padding is dropped
    if (ceilMode && (out - 1) * s >= in[d] + g.pads[d])
      --out;
    g.out[d] = out;
  }
  return g;
}

/// Writes a resolved window back as explicit attributes (the canonical form).
inline void storeWindow(Node &n, const kernels::WindowGeometry &g) {
  n.attrs["kernel_shape"] = g.kernel;
  n.attrs["strides"] = g.strides;
  n.attrs["dilations"] = g.dilations;
  n.attrs["pads"] = g.pads;
  n.attrs.erase("auto_pad");
}

} // namespace qcc
