#include "backends/cpp/WeightPacking.h"

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

} // namespace qcc::cpp
