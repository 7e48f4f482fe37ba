// Sub-byte weights in the constants blob: a QConv / QGemm weight panel (the
// int8 bytes conv_pack_weights / gemm_pack_weights produce) stored at the
// weights' bit width, unpacked into the arena before the layer runs. Format and
// bit order: runtime_stub/qcc/unpack.h.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace qcc_rt {
struct ConvShape;
struct GemmShape;
} // namespace qcc_rt

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

/// A binary layer's weights for the XNOR-popcount kernels
/// (runtime_stub/qcc/binary.h): every output channel's weights are +-m_o.
struct BinaryPanel {
  std::vector<uint64_t> bits;     ///< sign bits (1 = negative), word-major per group
  std::vector<int32_t> magnitude; ///< m_o per output channel
  int64_t storedBytes() const { return int64_t(bits.size() * 8 + magnitude.size() * 4); }
};

/// The packed sign bits and magnitudes of IR conv weights (OIHW) or GEMM
/// weights ([n][k]); empty unless every output channel's weights are all
/// +-m with m > 0 (the unpacked weights are checked to equal the originals).
std::optional<BinaryPanel> packBinaryConv(const qcc_rt::ConvShape &s, const std::vector<int8_t> &wOihw);
std::optional<BinaryPanel> packBinaryGemm(const qcc_rt::GemmShape &s, const std::vector<int8_t> &wNk);

} // namespace qcc::cpp
