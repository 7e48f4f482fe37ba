#include "backends/cpp/WeightPacking.h"

#include "qcc/binary.h"
#include "qcc/unpack.h"

namespace qcc::cpp {

int32_t packBitsFor(unsigned weightBits) {
  if (weightBits <= 1)
    return 1;
  if (weightBits == 2)
    return 2;
  if (weightBits <= 4)
    return 4;
  return 8;
}

PackedPanel packPanel(const std::vector<int8_t> &panel, unsigned weightBits) {
  PackedPanel p;
  p.panelBytes = int64_t(panel.size());
  const int32_t bits = packBitsFor(weightBits);
  // Longest run of values representable in `bits` signed bits.
  int64_t bestAt = 0, bestLen = 0;
  if (bits < 8) {
    const int32_t lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
    for (int64_t i = 0, n = int64_t(panel.size()); i < n;) {
      int64_t j = i;
      while (j < n && panel[size_t(j)] >= lo && panel[size_t(j)] <= hi)
        ++j;
      if (j - i > bestLen)
        bestAt = i, bestLen = j - i;
      i = j + 1;
    }
  }
  if (bits < 8 && bestLen > int64_t(qcc_rt::packed_run_bytes(bits, bestLen))) {
    p.bits = bits;
    p.head = bestAt;
    p.count = bestLen;
    p.tail = int64_t(panel.size()) - bestAt - bestLen;
    p.bytes.resize(qcc_rt::packed_panel_bytes(bits, p.head, p.count, p.tail));
    qcc_rt::pack_panel(bits, p.head, p.count, p.tail, panel.data(), p.bytes.data());
    std::vector<int8_t> back(panel.size());
    qcc_rt::ref::unpack_panel(bits, p.head, p.count, p.tail, p.bytes.data(), back.data());
    if (back == panel)
      return p;
    p = PackedPanel{}; // cannot happen; never store what does not round-trip
    p.panelBytes = int64_t(panel.size());
  }
  p.count = int64_t(panel.size());
  p.bytes.assign(reinterpret_cast<const uint8_t *>(panel.data()),
                 reinterpret_cast<const uint8_t *>(panel.data()) + panel.size());
  return p;
}

namespace {

/// Weight j of output channel o from the packed bits, as the scalar twin reads them.
int32_t binaryWeight(const BinaryPanel &p, int32_t og, int64_t k, int32_t o, int64_t j) {
  const int32_t g = o / og, kw = qcc_rt::detail::bin_words(k), ogp = qcc_rt::detail::bin_padded(og);
  const uint64_t word = p.bits[(size_t(g) * size_t(kw) + size_t(j >> 6)) * size_t(ogp) + size_t(o % og)];
  return (word >> (j & 63)) & 1 ? -p.magnitude[size_t(o)] : p.magnitude[size_t(o)];
}

} // namespace

std::optional<BinaryPanel> packBinaryConv(const qcc_rt::ConvShape &s, const std::vector<int8_t> &wOihw) {
  if (s.group < 1 || s.cin % s.group || s.cout % s.group)
    return std::nullopt;
  BinaryPanel p;
  p.bits.resize(qcc_rt::binary_conv_packed_words(s));
  p.magnitude.resize(size_t(s.cout));
  if (!qcc_rt::binary_conv_pack_weights(s, wOihw.data(), p.bits.data(), p.magnitude.data()))
    return std::nullopt;
  const int32_t cg = s.cin / s.group, og = s.cout / s.group, taps = s.kh * s.kw;
  for (int32_t o = 0; o < s.cout; ++o) // never emit what does not round-trip
    for (int32_t c = 0; c < cg; ++c)
      for (int32_t t = 0; t < taps; ++t)
        if (binaryWeight(p, og, int64_t(taps) * cg, o, int64_t(t) * cg + c) !=
            wOihw[(size_t(o) * size_t(cg) + size_t(c)) * size_t(taps) + size_t(t)])
          return std::nullopt;
  return p;
}

std::optional<BinaryPanel> packBinaryGemm(const qcc_rt::GemmShape &s, const std::vector<int8_t> &wNk) {
  BinaryPanel p;
  p.bits.resize(qcc_rt::binary_gemm_packed_words(s));
  p.magnitude.resize(size_t(s.n));
  if (!qcc_rt::binary_gemm_pack_weights(s, wNk.data(), p.bits.data(), p.magnitude.data()))
    return std::nullopt;
  for (int32_t o = 0; o < s.n; ++o)
    for (int64_t j = 0; j < s.k; ++j)
      if (binaryWeight(p, s.n, s.k, o, j) != wNk[size_t(o) * size_t(s.k) + size_t(j)])
        return std::nullopt;
  return p;
}

} // namespace qcc::cpp
