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

// Walks all but the innermost axis; the innermost run is a memcpy when both
// sides are contiguous along it.
template <typename T>
void strided_copy(int32_t rank, const int64_t *dims, const T *src, const int64_t *src_stride, T *dst,
                  const int64_t *dst_stride) {
  if (rank <= 0) {
    dst[0] = src[0];
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
