#include "calib/TensorStats.h"

#include "ops/Simd.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcc {

namespace {

constexpr int64_t kBlock = 1024;

/// min and max of a block in 16 independent lanes (so it vectorizes without
/// reassociating anything); `nan` is set when any element is NaN.
QCC_SIMD_CLONES void blockRange(const float *x, int64_t n, float &mn, float &mx, bool &nan) {
  float lmin[16], lmax[16];
  int lnan[16];
  for (int k = 0; k < 16; ++k) {
    lmin[k] = std::numeric_limits<float>::infinity();
    lmax[k] = -std::numeric_limits<float>::infinity();
    lnan[k] = 0;
  }
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) {
      float v = x[i + k];
      lmin[k] = v < lmin[k] ? v : lmin[k];
      lmax[k] = v > lmax[k] ? v : lmax[k];
      lnan[k] |= v != v;
    }
  for (; i < n; ++i) {
    float v = x[i];
    lmin[0] = v < lmin[0] ? v : lmin[0];
    lmax[0] = v > lmax[0] ? v : lmax[0];
    lnan[0] |= v != v;
  }
  for (int k = 0; k < 16; ++k) {
    mn = std::min(mn, lmin[k]);
    mx = std::max(mx, lmax[k]);
    nan = nan || lnan[k];
  }
}

/// Bin index of each element: |x| * scale truncated. scale is a power of two,
/// so the product is exact and the index does not depend on the ISA.
QCC_SIMD_CLONES void blockBins(const float *x, int64_t n, float scale, int32_t *idx) {
  for (int64_t i = 0; i < n; ++i)
    idx[i] = int32_t(std::fabs(x[i]) * scale);
}

} // namespace

int TensorStats::exponentFor(float a) {
  int e = 0;
  std::frexp(a, &e); // a = m * 2^e with m in [0.5, 1): 2^(e-1) <= a < 2^e
  return a == 0 ? kMinExponent : std::max(e, kMinExponent);
}

float TensorStats::absMax() const { return count_ ? std::max(std::fabs(min_), std::fabs(max_)) : 0.0f; }

double TensorStats::binWidth() const { return std::ldexp(1.0, exponent_ - kBinBits); }

void TensorStats::regrid(int e) {
  if (e <= exponent_)
    return;
  int shift = e - exponent_;
  std::vector<uint64_t> h(kBins, 0);
  if (shift < kBinBits + 1)
    for (int i = 0; i < kBins; ++i)
      h[size_t(i >> shift)] += hist_[size_t(i)];
  else
    for (int i = 0; i < kBins; ++i)
      h[0] += hist_[size_t(i)];
  hist_ = std::move(h);
  exponent_ = e;
}

bool TensorStats::add(const float *x, int64_t n) {
  // Large tensors count into four interleaved 32-bit copies of the histogram
  // so that runs of equal bins (the zeros after a ReLU) do not serialise on
  // one counter; small ones count directly.
  const int copies = n >= 16 * kBins ? 4 : 1;
  std::vector<uint32_t> sub(copies > 1 ? size_t(copies) * kBins : 0, 0);
  auto flush = [&] {
    for (size_t c = 0; c < sub.size(); ++c) {
      hist_[c % kBins] += sub[c];
      sub[c] = 0;
    }
  };
  int32_t idx[kBlock];
  for (int64_t start = 0; start < n; start += kBlock) {
    int64_t m = std::min(kBlock, n - start);
    const float *b = x + start;
    float mn = std::numeric_limits<float>::infinity(), mx = -mn;
    bool nan = false;
    blockRange(b, m, mn, mx, nan);
    const float amax = std::max(std::fabs(mn), std::fabs(mx));
    if (nan || std::isinf(amax)) {
      flush();
      return false;
    }
    if (exponentFor(amax) > exponent_) {
      flush();
      regrid(exponentFor(amax));
    }
    blockBins(b, m, std::ldexp(1.0f, kBinBits - exponent_), idx);
    if (copies == 1) {
      uint64_t *h = hist_.data();
      for (int64_t i = 0; i < m; ++i)
        ++h[idx[i]];
    } else {
      if (start % (int64_t(1) << 30) == 0) // no 32-bit copy can overflow
        flush();
      uint32_t *h0 = sub.data(), *h1 = h0 + kBins, *h2 = h1 + kBins, *h3 = h2 + kBins;
      int64_t i = 0;
      for (; i + 4 <= m; i += 4) {
        ++h0[idx[i]];
        ++h1[idx[i + 1]];
        ++h2[idx[i + 2]];
        ++h3[idx[i + 3]];
      }
      for (; i < m; ++i)
        ++h0[idx[i]];
    }
    min_ = count_ ? std::min(min_, mn) : mn;
    max_ = count_ ? std::max(max_, mx) : mx;
    count_ += uint64_t(m);
  }
  flush();
  return true;
}

void TensorStats::merge(const TensorStats &o) {
  if (!o.count_)
    return;
  if (!count_) {
    *this = o;
    return;
  }
  TensorStats other = o;
  int e = std::max(exponent_, other.exponent_);
  regrid(e);
  other.regrid(e);
  for (int i = 0; i < kBins; ++i)
    hist_[size_t(i)] += other.hist_[size_t(i)];
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
}

bool TensorStats::fromParts(float min, float max, int exponent, std::vector<uint64_t> hist, TensorStats &out) {
  if (hist.size() != size_t(kBins) || exponent < kMinExponent || exponent > kMaxExponent)
    return false;
  uint64_t count = 0;
  for (uint64_t c : hist)
    count += c;
  if (count == 0) {
    out = TensorStats();
    return true;
  }
  if (!std::isfinite(min) || !std::isfinite(max) || min > max)
    return false;
  float amax = std::max(std::fabs(min), std::fabs(max));
  // The grid must be the one add() would pick: its top above max|x|, and
  // max|x| landing in the last occupied bin.
  if (exponentFor(amax) != exponent)
    return false;
  int top = int(amax * std::ldexp(1.0f, kBinBits - exponent));
  int last = kBins - 1;
  while (hist[size_t(last)] == 0)
    --last;
  if (last != top)
    return false;
  out.count_ = count;
  out.min_ = min;
  out.max_ = max;
  out.exponent_ = exponent;
  out.hist_ = std::move(hist);
  return true;
}

} // namespace qcc
