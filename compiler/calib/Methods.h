// Calibration methods: from a tensor's statistics (calib/TensorStats.h) to the
// range [lo, hi] the quantizer maps onto the integer grid.
//
// minmax uses [min, max]. The other three pick a clipping threshold T on |x|
// from the magnitude histogram and clip [min, max] to [-T, T]. Signed tensors
// are handled symmetrically, as TensorRT does and as onnxruntime does for
// symmetric ranges: one threshold for both tails, taken from the histogram of
// |x| (a tail that ends before T keeps its own end). Non-negative tensors (after
// ReLU) have |x| == x, so the threshold is simply the upper clip.
//
//   percentile  T is the p-th percentile of |x| (default 99.999), linearly
//               interpolated inside its bin.
//   entropy     KL-divergence search as TensorRT describes it and NVIDIA's
//               pytorch-quantization implements it: the histogram's bin 0 takes
//               bin 1's count (exact zeros, half of a ReLU output, would
//               otherwise decide the result); for each candidate i in
//               [128, 2048] the reference P is the histogram cut at bin i with
//               the cut-off mass added to bin i-1; the candidate Q maps bin j
//               to level floor(j * L / i) (L = 128 levels for a signed
//               tensor, 256 for a non-negative one, which int8 holds
//               unsigned, as pytorch-quantization does) and spreads each level's count
//               evenly over its non-empty bins; T = i * binWidth for the i of
//               least KL(P || Q). Candidates where Q is zero and P is not (bin
//               i-1 empty, outliers beyond it) are skipped, as their KL is
//               infinite. One guard of ours: candidates that clip more than
//               half of the values are skipped too. A second guard: every
//               other point mass is flattened as bin 0 is (a bin with more
//               than 4x the mean of its 4 neighbours on each side takes that
//               mean). A constant image background makes one such spike per
//               channel after the first ReLU; pytorch-quantization's search
//               clips the fashion-mnist CNN's first ReLU at 0.79 of 6.9 (10%
//               of values), ours without the guard at 2.3 (-0.7 top-1), with
//               it within 0.1 top-1 of float. KL only compares shapes,
//               so a tensor with no mass near 0 (all x in [0.08, 0.93], say)
//               otherwise scores KL = 0 where everything piles into the last
//               bin. onnxruntime's entropy calibrator uses the same idea, but
//               its defaults (128 bins, 128 quantized bins) leave a single
//               candidate, so it always returns the full range; we follow
//               TensorRT.
//   mse         T minimising the expected squared error of 8-bit quantization
//               over the histogram: values in bins above T are clipped to T,
//               values below are rounded to a grid of step (hi - lo) / 255 with
//               0 on the grid; each bin's values are taken as uniform within
//               the bin, so the rounding error is integrated exactly.
#pragma once

#include "calib/TensorStats.h"

#include <optional>
#include <string>
#include <utility>

namespace qcc {

enum class CalibMethod { MinMax, Percentile, Entropy, Mse };

/// "minmax", "percentile", "entropy", "mse".
const char *methodName(CalibMethod m);
std::optional<CalibMethod> parseMethod(const std::string &name);

constexpr double kDefaultPercentile = 99.999;
constexpr int kEntropyLevels = 128;
constexpr int kMseBits = 8;

/// Clipping thresholds on |x|, in [0, absMax]; 0 for a tensor never observed.
double percentileThreshold(const TensorStats &s, double percentile);
double entropyThreshold(const TensorStats &s, int levels = kEntropyLevels);
double mseThreshold(const TensorStats &s, int bits = kMseBits);

/// The calibrated [lo, hi] of a tensor. `percentile` must be in (0, 100]
/// (only read by CalibMethod::Percentile).
std::pair<float, float> calibratedRange(const TensorStats &s, CalibMethod m, double percentile);

} // namespace qcc
