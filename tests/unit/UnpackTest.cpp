// Sub-byte weights: the packed format of runtime_stub/qcc/unpack.h (bytes
// written out by hand from its header comment), the optimized unpack against
// its scalar twin, the compiler's panel packing (backends/cpp/WeightPacking)
// and the accumulator bound (backends/cpp/AccumulatorBound) on hand-worked cases.
#include "backends/cpp/AccumulatorBound.h"
#include "backends/cpp/WeightPacking.h"

#include "qcc/unpack.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace qcc::cpp;

namespace {

std::vector<uint8_t> pack(int32_t bits, const std::vector<int8_t> &v) {
  std::vector<uint8_t> out(qcc_rt::packed_run_bytes(bits, int64_t(v.size())));
  qcc_rt::pack_int(bits, int64_t(v.size()), v.data(), out.data());
  return out;
}

} // namespace

TEST(Unpack, FormatByHand) {
  // 4 bits: low nibble first.
  EXPECT_EQ(pack(4, {1, -1, -8, 7, 3}), (std::vector<uint8_t>{0xF1, 0x78, 0x03}));
  // 2 bits: v0 in bits 0-1 ... v3 in bits 6-7; 1 = 01, -2 = 10, -1 = 11.
  EXPECT_EQ(pack(2, {1, -2, -1, 0, 1}), (std::vector<uint8_t>{0x39, 0x01}));
  // 1 bit: bit j of the byte is value j (-1 set, 0 clear).
  EXPECT_EQ(pack(1, {-1, 0, 0, -1, -1, 0, 0, 0, -1}), (std::vector<uint8_t>{0x19, 0x01}));
  EXPECT_EQ(qcc_rt::packed_run_bytes(4, 0), 0u);
  EXPECT_EQ(qcc_rt::packed_run_bytes(2, 5), 2u);
  EXPECT_EQ(qcc_rt::packed_run_bytes(1, 17), 3u);
}

TEST(Unpack, EveryByteSignExtends) {
  for (int b = 0; b < 256; ++b) {
    const uint8_t byte = uint8_t(b);
    int8_t v4[2], v2[4], v1[8], r4[2], r2[4], r1[8];
    qcc_rt::unpack_int(4, 2, &byte, v4);
    qcc_rt::unpack_int(2, 4, &byte, v2);
    qcc_rt::unpack_int(1, 8, &byte, v1);
    qcc_rt::ref::unpack_int(4, 2, &byte, r4);
    qcc_rt::ref::unpack_int(2, 4, &byte, r2);
    qcc_rt::ref::unpack_int(1, 8, &byte, r1);
    for (int j = 0; j < 2; ++j) {
      const int field = (b >> (4 * j)) & 15;
      EXPECT_EQ(v4[j], field >= 8 ? field - 16 : field) << b;
      EXPECT_EQ(r4[j], v4[j]);
    }
    for (int j = 0; j < 4; ++j) {
      const int field = (b >> (2 * j)) & 3;
      EXPECT_EQ(v2[j], field >= 2 ? field - 4 : field) << b;
      EXPECT_EQ(r2[j], v2[j]);
    }
    for (int j = 0; j < 8; ++j) {
      EXPECT_EQ(v1[j], (b >> j) & 1 ? -1 : 0) << b;
      EXPECT_EQ(r1[j], v1[j]);
    }
  }
}

TEST(Unpack, RoundTripsPanelsWithRawHeadAndTail) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> any(-128, 127);
  for (int32_t bits : {1, 2, 4})
    for (int64_t count : {0, 1, 2, 3, 7, 8, 9, 31, 64, 65, 1001})
      for (int64_t head : {0, 3})
        for (int64_t tail : {0, 5}) {
          std::uniform_int_distribution<int> in(-(1 << (bits - 1)), (1 << (bits - 1)) - 1);
          std::vector<int8_t> panel(size_t(head + count + tail));
          for (size_t i = 0; i < panel.size(); ++i)
            panel[i] = int8_t(int64_t(i) >= head && int64_t(i) < head + count ? in(rng) : any(rng));
          std::vector<uint8_t> packed(qcc_rt::packed_panel_bytes(bits, head, count, tail));
          qcc_rt::pack_panel(bits, head, count, tail, panel.data(), packed.data());
          std::vector<int8_t> fast(panel.size(), 99), ref(panel.size(), 99);
          qcc_rt::unpack_panel(bits, head, count, tail, packed.data(), fast.data());
          qcc_rt::ref::unpack_panel(bits, head, count, tail, packed.data(), ref.data());
          EXPECT_EQ(fast, panel) << bits << " bits, " << count << " values";
          EXPECT_EQ(ref, panel) << bits << " bits, " << count << " values";
        }
}

TEST(WeightPacking, PacksTheWeightRunAndKeepsTheRest) {
  // 4-bit weights then two little-endian int32 sums (0x00000064, 0xFFFFFF9C):
  // 0x64 = 100 and 0x9C = -100 do not fit 4 bits.
  std::vector<int8_t> panel = {3, -8, 7, 0, 0, 0, 100, 0, 0, 0, -100, -1, -1, -1};
  PackedPanel p = packPanel(panel, 4);
  EXPECT_EQ(p.bits, 4);
  EXPECT_EQ(p.head, 0);
  EXPECT_EQ(p.count, 6); // the weights and the zero padding
  EXPECT_EQ(p.tail, 8);
  EXPECT_EQ(p.bytes.size(), 3u + 8u);
  std::vector<int8_t> back(panel.size());
  qcc_rt::unpack_panel(p.bits, p.head, p.count, p.tail, p.bytes.data(), back.data());
  EXPECT_EQ(back, panel);
  // 3-bit weights use the 4-bit format; 8-bit ones are stored as they are.
  EXPECT_EQ(packBitsFor(3), 4);
  EXPECT_EQ(packBitsFor(2), 2);
  EXPECT_EQ(packBitsFor(1), 1);
  PackedPanel q = packPanel(panel, 8);
  EXPECT_FALSE(q.packed());
  EXPECT_EQ(q.bytes.size(), panel.size());
  // 2 bits: the longest in-range run is packed even when it does not start the panel.
  std::vector<int8_t> mid = {50, 1, -2, 0, 1, -1, 0, 1, -2, 60};
  PackedPanel m = packPanel(mid, 2);
  EXPECT_EQ(m.head, 1);
  EXPECT_EQ(m.count, 8);
  EXPECT_EQ(m.tail, 1);
  EXPECT_EQ(m.bytes.size(), 4u);
}

TEST(AccumulatorBound, HandWorkedChannels) {
  // Channel 0: w = {3, -2}, bias 10, x in [-8, 7]: min 10 + (-24) + (-14) = -28, max 10 + 21 + 16 = 47.
  // Channel 1: w = {-7, -7}, bias -5: min -5 - 49 - 49 = -103, max -5 + 56 + 56 = 107.
  AccumulatorBound b = accumulatorBound({3, -2, -7, -7}, 2, {10, -5}, -8, 7, 255);
  EXPECT_EQ(b.lo, -103);
  EXPECT_EQ(b.hi, 107);
  EXPECT_EQ(b.bits, 8); // [-128, 127]
  EXPECT_EQ(b.partialBound, 5 + 14 * 255);
  // Unsigned input [0, 15], no bias.
  AccumulatorBound u = accumulatorBound({1, 1, 1, 1}, 1, {}, 0, 15, 255);
  EXPECT_EQ(u.lo, 0);
  EXPECT_EQ(u.hi, 60);
  EXPECT_EQ(u.bits, 7);
  EXPECT_EQ(signedBitsFor(-128, 127), 8);
  EXPECT_EQ(signedBitsFor(-129, 0), 9);
  EXPECT_EQ(signedBitsFor(0, 128), 9);
  EXPECT_EQ(signedBitsFor(-1, 0), 1);
  EXPECT_EQ(signedBitsFor(int64_t(INT32_MIN), int64_t(INT32_MAX)), 32);
}
