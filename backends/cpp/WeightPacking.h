// Sub-byte weights in the constants blob: a QConv / QGemm weight panel (the
// int8 bytes conv_pack_weights / gemm_pack_weights produce) stored at the
// weights' bit width, unpacked into the arena before the layer runs. Format and
// bit order: runtime_stub/qcc/unpack.h.
#pragma once

#include <cstdint>
#include <vector>

namespace qcc::cpp {

struct PackedPanel {
  int32_t bits = 8;                      ///< storage bits per value: 1, 2, 4, or 8 (not packed)
  int64_t head = 0, count = 0, tail = 0; ///< raw bytes, packed values, raw bytes
  int64_t panelBytes = 0;                ///< the int8 panel the kernel reads
  std::vector<uint8_t> bytes;            ///< as stored in the blob
  bool packed() const { return bits < 8; }
};

/// Storage width for weights of `weightBits` bits: 1, 2, 4 (3-bit weights
/// too) or 8 (no packing).
int32_t packBitsFor(unsigned weightBits);

/// The panel as stored: the longest run of bytes that fit in packBitsFor(
/// weightBits) signed bits is packed (the weights and their zero padding; bytes
/// of other panel data, such as weight sums, may or may not fit and stay raw
/// when they do not); the rest is kept byte for byte. Unpacking is checked to
/// give the panel back; when packing would save nothing the panel is stored as is.
PackedPanel packPanel(const std::vector<int8_t> &panel, unsigned weightBits);

} // namespace qcc::cpp
