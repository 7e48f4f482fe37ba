// Float32 GEMM and the im2col / col2im helpers the float interpreter's Conv,
// ConvTranspose, Gemm and MatMul kernels share.
//
// The interpreter is single-threaded by design (calibration parallelises over
// samples, and benchmarks compare with onnxruntime on one thread), so OpenBLAS
// is pinned to one thread the first time a GEMM runs.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace qcc::kernels {

/// Row-major C[M,N] = alpha * op(A) * op(B) + beta * C, where op(A) is M x K
/// and op(B) is K x N. Leading dimensions are in elements.
inline void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc) {
  static const bool singleThreaded = (openblas_set_num_threads(1), true);
  (void)singleThreaded;
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
/// rowFn(colRowPtrOffset, inputOffset or -1 when the row lies in padding,
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

/// col[(c, taps...), (outs...)] = x[c, in...] (zero where the window is in padding).
inline void im2col(const WindowGeometry &g, int64_t channels, const float *x, float *col) {
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
    std::fill(dst, dst + lo, 0.f);
    if (lo < hi) {
      const float *src = x + inOffset + innerOffset + lo * stride; // input of output lo
      if (stride == 1)
        std::memcpy(dst + lo, src, size_t(hi - lo) * sizeof(float));
      else
        for (int64_t o = lo; o < hi; ++o)
          dst[o] = src[(o - lo) * stride];
    }
    std::fill(dst + hi, dst + outInner, 0.f);
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
