#include "calib/Methods.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace qcc {

const char *methodName(CalibMethod m) {
  switch (m) {
  case CalibMethod::MinMax: return "minmax";
  case CalibMethod::Percentile: return "percentile";
  case CalibMethod::Entropy: return "entropy";
  case CalibMethod::Mse: return "mse";
  }
  return "?";
}

std::optional<CalibMethod> parseMethod(const std::string &name) {
  for (CalibMethod m : {CalibMethod::MinMax, CalibMethod::Percentile, CalibMethod::Entropy, CalibMethod::Mse})
    if (name == methodName(m))
      return m;
  return std::nullopt;
}

namespace {

/// Number of bins up to and including the last non-empty one.
int usedBins(const TensorStats &s) {
  int nb = TensorStats::kBins;
  while (nb > 0 && s.hist()[size_t(nb - 1)] == 0)
    --nb;
  return nb;
}

/// Integral of r(t)^2 from 0 to u, where r(t) = t - round(t) is the rounding
/// error on a unit grid: each whole step contributes 1/12, and the part from
/// the last grid point k = round(u) to u contributes f^3/3 with f = u - k
/// (negative f subtracts the overshoot).
double roundingErrorIntegral(double u) {
  double k = std::floor(u + 0.5), f = u - k;
  return k / 12.0 + f * f * f / 3.0;
}

} // namespace

double percentileThreshold(const TensorStats &s, double percentile) {
  if (!s.count())
    return 0;
  const auto &h = s.hist();
  const double w = s.binWidth(), target = percentile / 100.0 * double(s.count());
  double cum = 0;
  for (int b = 0; b < TensorStats::kBins; ++b) {
    double c = double(h[size_t(b)]);
    if (c > 0 && cum + c >= target)
      return std::min(w * (b + (target - cum) / c), double(s.absMax()));
    cum += c;
  }
  return s.absMax();
}

// Generalises TensorRT's bins[0] = bins[1] to every point mass: a bin holding
// more than kSpike times the mean of its kSpikeReach neighbours on each side
// is a value repeated verbatim (a ReLU of a constant image background gives
// one per channel), not part of the spread KL should model; it takes that
// mean. Without this, KL spends its levels on such spikes and clips the real
// tail (fashion-mnist CNN: first ReLU clipped at 2.3 of 6.9, -0.7 top-1).
void flattenPointMasses(std::vector<double> &h) {
  constexpr int kSpikeReach = 4;
  constexpr double kSpike = 4.0;
  const std::vector<double> orig = h;
  const int nb = int(h.size());
  for (int j = 1; j < nb; ++j) {
    double sum = 0;
    int n = 0;
    for (int d = -kSpikeReach; d <= kSpikeReach; ++d)
      if (d != 0 && j + d >= 1 && j + d < nb) {
        sum += orig[size_t(j + d)];
        ++n;
      }
    const double mean = n ? sum / n : 0;
    if (orig[size_t(j)] > kSpike * mean && mean > 0)
      h[size_t(j)] = mean;
  }
}

double entropyThreshold(const TensorStats &s, int levels) {
  if (usedBins(s) <= levels)
    return s.absMax(); // no more bins than levels: nothing to gain by clipping
  const int nb = TensorStats::kBins;
  // The histogram searched: bin 0 takes bin 1's count, so that exact zeros
  // (half of a ReLU output) do not decide the result.
  std::vector<double> h(s.hist().begin(), s.hist().end());
  h[0] = h[1];
  flattenPointMasses(h);
  // Prefix sums over bins: counts, non-empty bins, and c*log(c), so that each
  // candidate costs O(levels) instead of O(bins).
  std::vector<double> cnt(size_t(nb) + 1, 0), clogc(size_t(nb) + 1, 0);
  std::vector<int> nonEmpty(size_t(nb) + 1, 0);
  for (int j = 0; j < nb; ++j) {
    double c = h[size_t(j)];
    cnt[size_t(j) + 1] = cnt[size_t(j)] + c;
    clogc[size_t(j) + 1] = clogc[size_t(j)] + (c > 0 ? c * std::log(c) : 0);
    nonEmpty[size_t(j) + 1] = nonEmpty[size_t(j)] + (c > 0);
  }
  const double total = cnt[size_t(nb)], logTotal = std::log(total);
  double bestKl = std::numeric_limits<double>::infinity();
  int bestI = nb;
  for (int i = levels; i <= nb; ++i) {
    // P (in counts): h[0, i) with the outliers added to bin i-1; sums to total.
    const double outliers = total - cnt[size_t(i)];
    if (2 * outliers > total)
      continue; // see the header: never clip half of the values
    const double last = h[size_t(i) - 1];
    if (last == 0 && outliers > 0)
      continue; // Q is zero in bin i-1, P is not
    // sum P log P with P = count / total:  (sum c log c) / total - log total.
    const double lastP = last + outliers;
    const double plogp = (clogc[size_t(i) - 1] + (lastP > 0 ? lastP * std::log(lastP) : 0)) / total - logTotal;
    // Q: bin j belongs to level floor(j * levels / i), so level k covers
    // [ceil(k i / levels), ceil((k+1) i / levels)); its count is spread evenly
    // over its non-empty bins and normalised by the in-range count cnt[i].
    // P's mass in level k is the same count, plus the outliers in the last.
    double cross = 0; // sum P log Q, in counts
    int a = 0;
    for (int k = 0; k < levels; ++k) {
      const int b = int((int64_t(k + 1) * i + levels - 1) / levels);
      const double mass = cnt[size_t(b)] - cnt[size_t(a)];
      const int nz = nonEmpty[size_t(b)] - nonEmpty[size_t(a)];
      if (mass > 0)
        cross += (k == levels - 1 ? mass + outliers : mass) * std::log(mass / (double(nz) * cnt[size_t(i)]));
      a = b;
    }
    double kl = plogp - cross / total;
    if (kl < bestKl) {
      bestKl = kl;
      bestI = i;
    }
  }
  return std::min(double(bestI) * s.binWidth(), double(s.absMax()));
}

double mseThreshold(const TensorStats &s, int bits) {
  const int nb = usedBins(s);
  if (nb == 0)
    return 0;
  const auto &h = s.hist();
  const double w = s.binWidth(), steps = std::ldexp(1.0, bits) - 1, amax = s.absMax();
  // Suffix sums for the clipped part: a bin above T with centre c holds
  // values uniform in [c - w/2, c + w/2], whose mean squared distance to T is
  // (c - T)^2 + w^2/12 = (c^2 + w^2/12) - 2 T c + T^2.
  std::vector<double> n(size_t(nb) + 1, 0), nc(size_t(nb) + 1, 0), nc2(size_t(nb) + 1, 0);
  for (int j = nb - 1; j >= 0; --j) {
    double c = double(h[size_t(j)]), centre = (j + 0.5) * w;
    n[size_t(j)] = n[size_t(j) + 1] + c;
    nc[size_t(j)] = nc[size_t(j) + 1] + c * centre;
    nc2[size_t(j)] = nc2[size_t(j) + 1] + c * (centre * centre + w * w / 12);
  }
  std::vector<double> phi(size_t(nb) + 1);
  double bestErr = std::numeric_limits<double>::infinity(), bestT = amax;
  for (int i = 1; i <= nb; ++i) {
    const double t = std::min(i * w, amax);
    const double lo = std::min(0.0, std::max(double(s.min()), -t)), hi = std::max(0.0, std::min(double(s.max()), t));
    const double step = (hi - lo) / steps;
    if (!(step > 0))
      continue;
    // Rounding error of bins [0, i): a bin [a, b) contributes
    // count * step^2 * (R(b/step) - R(a/step)) / ((b - a)/step), R = roundingErrorIntegral.
    for (int j = 0; j <= i; ++j)
      phi[size_t(j)] = roundingErrorIntegral(j * w / step);
    double inRange = 0;
    for (int j = 0; j < i; ++j)
      inRange += double(h[size_t(j)]) * (phi[size_t(j) + 1] - phi[size_t(j)]);
    inRange *= step * step * step / w;
    const double clipped = nc2[size_t(i)] - 2 * t * nc[size_t(i)] + t * t * n[size_t(i)];
    const double err = inRange + clipped;
    if (err < bestErr) {
      bestErr = err;
      bestT = t;
    }
  }
  return bestT;
}

std::pair<float, float> calibratedRange(const TensorStats &s, CalibMethod m, double percentile) {
  if (!s.count())
    return {0.0f, 0.0f};
  double t = 0;
  switch (m) {
  case CalibMethod::MinMax: return {s.min(), s.max()};
  case CalibMethod::Percentile: t = percentileThreshold(s, percentile); break;
  // As pytorch-quantization: a non-negative tensor (a ReLU output) is
  // quantized unsigned, so its KL search models 2^8 levels, a signed one 2^7.
  case CalibMethod::Entropy: t = entropyThreshold(s, s.min() >= 0 ? 2 * kEntropyLevels : kEntropyLevels); break;
  case CalibMethod::Mse: t = mseThreshold(s); break;
  }
  float ft = float(t);
  return {std::max(s.min(), -ft), std::min(s.max(), ft)};
}

} // namespace qcc
