// Per-tensor calibration statistics that merge exactly.
//
// What is stored: min, max, the element count, and a histogram of |x| with
// kBins = 2048 equal bins over [0, 2^exponent), where 2^exponent is the
// smallest power of two strictly greater than max|x| (never below
// 2^kMinExponent). Bin i holds the x with floor(|x| * 2^(11 - exponent)) == i.
//
// Why a power-of-two top: it makes merging exact. Scaling by a power of two is
// exact in floating point, and floor(floor(v) / 2^k) == floor(v / 2^k), so a
// histogram built on grid 2^e re-bins into grid 2^(e+k) by adding groups of
// 2^k neighbouring bins: bin i goes to bin i >> k with no rounding anywhere.
// Whether the data arrived in one run, in batches whose range grew, or in
// shards whose histograms are merged later, every element ends in the bin it
// would have reached on the final grid directly. Counts are integers, min and
// max are order-independent, so a merged profile is bit-identical to a single
// run over the same data, and so is every threshold computed from it.
//
// The price: TensorRT spans its 2048 bins over [0, max|x|]; here max|x| lies
// in the upper half of the grid, so the data fills 1024 to 2048 bins.
#pragma once

#include <cstdint>
#include <vector>

namespace qcc {

class TensorStats {
public:
  static constexpr int kBins = 2048;
  static constexpr int kBinBits = 11; // kBins == 1 << kBinBits
  /// Lowest grid top: |x| below 2^-100 all land in bin 0 (and scales stay normal floats).
  static constexpr int kMinExponent = -100;
  static constexpr int kMaxExponent = 128; // FLT_MAX < 2^128

  /// Adds n values. Returns false if any is NaN or infinite; the stats are
  /// then incomplete and the caller abandons them.
  bool add(const float *x, int64_t n);
  /// Adds another tensor's statistics (the grids are re-binned exactly).
  void merge(const TensorStats &o);

  /// Builds stats from stored fields (a profile file); false if inconsistent.
  static bool fromParts(float min, float max, int exponent, std::vector<uint64_t> hist, TensorStats &out);

  uint64_t count() const { return count_; }
  float min() const { return min_; }
  float max() const { return max_; }
  float absMax() const;
  /// Grid top is 2^exponent(); bin width is 2^(exponent - 11).
  int exponent() const { return exponent_; }
  double binWidth() const;
  /// kBins counts (all zero when nothing was added).
  const std::vector<uint64_t> &hist() const { return hist_; }

  bool operator==(const TensorStats &o) const {
    return count_ == o.count_ && min_ == o.min_ && max_ == o.max_ && exponent_ == o.exponent_ && hist_ == o.hist_;
  }

  /// Smallest exponent e >= kMinExponent with 2^e > a (a finite, >= 0).
  static int exponentFor(float a);

private:
  /// Moves the histogram onto the grid 2^e (e >= exponent_), exactly.
  void regrid(int e);

  uint64_t count_ = 0;
  float min_ = 0, max_ = 0; // meaningful once count_ > 0
  int exponent_ = kMinExponent;
  std::vector<uint64_t> hist_ = std::vector<uint64_t>(kBins, 0);
};

} // namespace qcc
