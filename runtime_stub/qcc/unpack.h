// qcc kernel library: sub-byte weights, unpacked to int8 right before a layer.
//
// Weights of 1, 2 or 4 bits (3-bit weights use the 4-bit format) are stored
// packed in the weight blob and unpacked into an arena region just before the
// QConv / QGemm that reads them; the kernels see the same int8 panel as for
// 8-bit weights (conv_pack_weights / gemm_pack_weights), so results are
// identical.
//
// Packed run of `count` values of `bits` bits (two's complement):
//   value i lives in byte i / (8 / bits), at bit (i % (8 / bits)) * bits,
//   least significant bits first; the last byte is zero past the run.
//     4 bits: byte = (v0 & 0xF) | (v1 & 0xF) << 4
//     2 bits: byte = (v0 & 3) | (v1 & 3) << 2 | (v2 & 3) << 4 | (v3 & 3) << 6
//     1 bit:  bit j of byte = v_j & 1 (bit set: -1, clear: 0)
// Unpacking sign-extends: a 4-bit 0xF is -1, 0x7 is 7, 0x8 is -8.
// A packed panel is `head` raw int8 bytes, then a run of `count` packed values,
// then `tail` raw int8 bytes, back to back with no alignment: the panel's parts
// that are not sub-byte weight values (e.g. the int32 weight sums of the GEMM
// layout) stay as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qcc_rt {

namespace detail {
// memcpy / memset of n bytes; n == 0 passes no (possibly null) pointer on.
inline void copy_bytes(void *dst, const void *src, int64_t n) {
  if (n > 0)
    std::memcpy(dst, src, size_t(n));
}
} // namespace detail

/// Bytes of a packed run of `count` values of `bits` bits.
inline size_t packed_run_bytes(int32_t bits, int64_t count) { return size_t((count * bits + 7) / 8); }

/// Bytes of a packed panel (see above).
inline size_t packed_panel_bytes(int32_t bits, int64_t head, int64_t count, int64_t tail) {
  return size_t(head) + packed_run_bytes(bits, count) + size_t(tail);
}

/// Packs `count` values (each in [-2^(bits-1), 2^(bits-1) - 1]) into
/// packed_run_bytes(bits, count) bytes. Run by qcc at compile time.
inline void pack_int(int32_t bits, int64_t count, const int8_t *src, uint8_t *dst) {
  const int32_t per = 8 / bits;
  const uint32_t mask = (1u << bits) - 1u;
  for (size_t i = 0; i < packed_run_bytes(bits, count); ++i)
    dst[i] = 0;
  for (int64_t i = 0; i < count; ++i)
    dst[i / per] = uint8_t(dst[i / per] | ((uint32_t(uint8_t(src[i])) & mask) << ((i % per) * bits)));
}

inline void pack_panel(int32_t bits, int64_t head, int64_t count, int64_t tail, const int8_t *panel, uint8_t *dst) {
  detail::copy_bytes(dst, panel, head);
  pack_int(bits, count, panel + head, dst + head);
  detail::copy_bytes(dst + head + packed_run_bytes(bits, count), panel + head + count, tail);
}

namespace detail {

// Field j of byte b, sign-extended (plain arithmetic: no implementation-defined shifts).
template <int B> inline int8_t field(uint32_t b, int j) {
  const int32_t v = int32_t((b >> (j * B)) & ((1u << B) - 1u));
  return int8_t(v - ((v & (1 << (B - 1))) << 1));
}

template <int B> inline void unpack_run(int64_t count, const uint8_t *src, int8_t *dst) {
  constexpr int per = 8 / B;
  const int64_t full = count / per;
  // Whole bytes: a fixed number of fields each, which compilers vectorize.
  for (int64_t i = 0; i < full; ++i) {
    const uint32_t b = src[i];
    for (int j = 0; j < per; ++j)
      dst[i * per + j] = field<B>(b, j);
  }
  for (int64_t i = full * per; i < count; ++i)
    dst[i] = field<B>(src[full], int(i - full * per));
}

} // namespace detail

/// dst[i] = value i of the packed run (bits 1, 2 or 4; 8: a plain copy).
inline void unpack_int(int32_t bits, int64_t count, const uint8_t *src, int8_t *dst) {
  switch (bits) {
  case 1: detail::unpack_run<1>(count, src, dst); break;
  case 2: detail::unpack_run<2>(count, src, dst); break;
  case 4: detail::unpack_run<4>(count, src, dst); break;
  default: detail::copy_bytes(dst, src, count); break;
  }
}

/// The int8 panel (head + count + tail bytes) from its packed form.
inline void unpack_panel(int32_t bits, int64_t head, int64_t count, int64_t tail, const uint8_t *src, int8_t *dst) {
  detail::copy_bytes(dst, src, head);
  unpack_int(bits, count, src + head, dst + head);
  detail::copy_bytes(dst + head + count, src + head + packed_run_bytes(bits, count), tail);
}

namespace ref {

/// Scalar twin of unpack_int: one value at a time, straight from the format.
inline void unpack_int(int32_t bits, int64_t count, const uint8_t *src, int8_t *dst) {
  for (int64_t i = 0; i < count; ++i) {
    const int64_t bit = i * bits;
    int32_t v = (src[bit / 8] >> (bit % 8)) & ((1 << bits) - 1);
    if (v >= (1 << (bits - 1)))
      v -= 1 << bits;
    dst[i] = int8_t(v);
  }
}

inline void unpack_panel(int32_t bits, int64_t head, int64_t count, int64_t tail, const uint8_t *src, int8_t *dst) {
  for (int64_t i = 0; i < head; ++i)
    dst[i] = int8_t(src[i]);
  ref::unpack_int(bits, count, src + head, dst + head);
  const uint8_t *t = src + head + packed_run_bytes(bits, count);
  for (int64_t i = 0; i < tail; ++i)
    dst[head + count + i] = int8_t(t[i]);
}

} // namespace ref
} // namespace qcc_rt
