// qcc kernel library: data movement (any element type T), with scalar twins in
// qcc_rt::ref.
#pragma once

#include <cstdint>
#include <cstring>

namespace qcc_rt {

namespace ref {

// dst[sum i_k * dst_stride_k] = src[sum i_k * src_stride_k] over dims (rank <= 6).
template <typename T>
void strided_copy(int32_t rank, const int64_t *dims, const T *src, const int64_t *src_stride, T *dst,
                  const int64_t *dst_stride) {
  int64_t total = 1;
  for (int32_t d = 0; d < rank; ++d)
    total *= dims[d];
  if (total <= 0)
    return;
  int64_t idx[6] = {0, 0, 0, 0, 0, 0}, is = 0, id = 0;
  for (int64_t i = 0; i < total; ++i) {
    dst[id] = src[is];
    for (int32_t d = rank - 1; d >= 0; --d) {
      is += src_stride[d];
      id += dst_stride[d];
      if (++idx[d] < dims[d])
        break;
      is -= src_stride[d] * idx[d];
      id -= dst_stride[d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <typename T> void fill(int64_t count, int32_t value, T *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = T(value);
}

template <typename T> void gather(int64_t count, const int32_t *index, const T *x, T *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = x[index[i]];
}

} // namespace ref

namespace detail {

// dst[i * C + c] = src[c * cs + i] for i < n, c < C (C = 2, 3 or 4): a
// planar-to-interleaved run (NCHW to NHWC with few channels) as one loop with
// a constant inner trip count, which compilers vectorize with interleaving
// stores (element by element it was a strided scalar loop).
template <int C, typename T> void interleave_run(const T *src, int64_t cs, int64_t n, T *dst) {
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c)
      dst[i * C + c] = src[c * cs + i];
}

} // namespace detail

// Walks all but the innermost axis; the innermost run is a memcpy when both
// sides are contiguous along it.
template <typename T>
void strided_copy(int32_t rank, const int64_t *dims, const T *src, const int64_t *src_stride, T *dst,
                  const int64_t *dst_stride) {
  if (rank <= 0) {
    dst[0] = src[0];
    return;
  }
  // Planar to interleaved: the innermost axis is contiguous in src and has dst
  // stride C, and the axis just before it in dst order has dst stride 1 and C
  // = 2..4 entries (a rank-4 NCHW -> NHWC copy: axes n, c, h, w).
  if (rank == 4 && src_stride[3] == 1 && dst_stride[1] == 1 && dims[1] >= 2 && dims[1] <= 4 &&
      dst_stride[3] == dims[1] && dst_stride[2] == dims[1] * dims[3] && src_stride[2] == dims[3] &&
      dims[0] >= 1 && dims[2] >= 1 && dims[3] >= 1) {
    const int64_t C = dims[1], run = dims[2] * dims[3]; // h and w together: contiguous on both sides
    for (int64_t b = 0; b < dims[0]; ++b) {
      const T *sp = src + b * src_stride[0];
      T *dp = dst + b * dst_stride[0];
      if (C == 2)
        detail::interleave_run<2>(sp, src_stride[1], run, dp);
      else if (C == 3)
        detail::interleave_run<3>(sp, src_stride[1], run, dp);
      else
        detail::interleave_run<4>(sp, src_stride[1], run, dp);
    }
    return;
  }
  int64_t outer = 1;
  for (int32_t d = 0; d < rank; ++d) {
    if (dims[d] <= 0)
      return;
    if (d < rank - 1)
      outer *= dims[d];
  }
  const int32_t last = rank - 1;
  const int64_t inner = dims[last], ss = src_stride[last], ds = dst_stride[last];
  int64_t idx[6] = {0, 0, 0, 0, 0, 0}, is = 0, id = 0;
  for (int64_t o = 0; o < outer; ++o) {
    if (ss == 1 && ds == 1) {
      std::memcpy(dst + id, src + is, size_t(inner) * sizeof(T));
    } else {
      for (int64_t i = 0; i < inner; ++i)
        dst[id + i * ds] = src[is + i * ss];
    }
    for (int32_t d = last - 1; d >= 0; --d) {
      is += src_stride[d];
      id += dst_stride[d];
      if (++idx[d] < dims[d])
        break;
      is -= src_stride[d] * idx[d];
      id -= dst_stride[d] * idx[d];
      idx[d] = 0;
    }
  }
}

template <typename T> void fill(int64_t count, int32_t value, T *y) {
  const T v = T(value);
  for (int64_t i = 0; i < count; ++i)
    y[i] = v;
}

template <typename T> void gather(int64_t count, const int32_t *index, const T *x, T *y) {
  for (int64_t i = 0; i < count; ++i)
    y[i] = x[index[i]];
}

} // namespace qcc_rt
