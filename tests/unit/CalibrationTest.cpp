// Calibration: the mergeable histogram (exact re-gridding, merge == one run),
// the four methods against hand-derived values and independent brute-force
// references, the observer on a real interpreter run, and profile files
// (round trip, merge, model identity, corrupt input).
#include "OnnxBuilder.h"

#include "calib/Collect.h"
#include "calib/Methods.h"
#include "calib/Observer.h"
#include "calib/Profile.h"
#include "frontend/OnnxLoader.h"
#include "interp/Interpreter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>

using namespace qcc;
using qcc::test::OnnxBuilder;

namespace {

TensorStats statsOf(const std::vector<float> &x) {
  TensorStats s;
  EXPECT_TRUE(s.add(x.data(), int64_t(x.size())));
  return s;
}

std::vector<float> gaussian(size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> x(n);
  for (float &v : x)
    v = d(rng);
  return x;
}

std::string readFile(const std::string &path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void writeFile(const std::string &path, const std::string &text) { std::ofstream(path) << text; }

template <typename T> std::string errorOf(llvm::Expected<T> v) {
  if (v)
    return "";
  return llvm::toString(v.takeError());
}

} // namespace

// ---- the histogram ----

TEST(TensorStats, ExponentIsTheNextPowerOfTwoAboveMaxAbs) {
  EXPECT_EQ(TensorStats::exponentFor(1.0f), 1);  // 2^1 > 1, 2^0 is not
  EXPECT_EQ(TensorStats::exponentFor(0.75f), 0); // 2^0 = 1 > 0.75 >= 0.5
  EXPECT_EQ(TensorStats::exponentFor(3.0f), 2);
  EXPECT_EQ(TensorStats::exponentFor(4.0f), 3);
  EXPECT_EQ(TensorStats::exponentFor(0.0f), TensorStats::kMinExponent);
  EXPECT_EQ(TensorStats::exponentFor(1e-35f), TensorStats::kMinExponent);
  EXPECT_EQ(TensorStats::exponentFor(3.0e38f), 128);
}

TEST(TensorStats, MinMaxAndBinsByHand) {
  // max|x| = 2.9 -> grid top 4 (exponent 2), bin width 4/2048 = 1/512.
  TensorStats s = statsOf({1.0f, -2.9f, 0.5f, 0.0f, 0.001f, 2.5f});
  EXPECT_EQ(s.count(), 6u);
  EXPECT_EQ(s.min(), -2.9f);
  EXPECT_EQ(s.max(), 2.5f);
  EXPECT_EQ(s.absMax(), 2.9f);
  EXPECT_EQ(s.exponent(), 2);
  EXPECT_DOUBLE_EQ(s.binWidth(), 1.0 / 512);
  std::vector<uint64_t> want(TensorStats::kBins, 0);
  want[512] = 1;  // 1.0 * 512
  want[1484] = 1; // 2.9 * 512 = 1484.8
  want[256] = 1;  // 0.5
  want[0] = 2;    // 0 and 0.001 * 512 = 0.512
  want[1280] = 1; // 2.5
  EXPECT_EQ(s.hist(), want);
}

TEST(TensorStats, NonFiniteValuesAreRefused) {
  TensorStats s;
  std::vector<float> x = {1.0f, NAN};
  EXPECT_FALSE(s.add(x.data(), 2));
  TensorStats t;
  std::vector<float> y(5000, 1.0f);
  y[4321] = -INFINITY;
  EXPECT_FALSE(t.add(y.data(), int64_t(y.size())));
}

// Growing the grid while data streams in must give the histogram a single
// pass over all the data gives, whatever the order and the batch sizes.
TEST(TensorStats, BatchesInAnyOrderEqualOneRun) {
  std::vector<float> x;
  for (float scale : {0.01f, 1.0f, 300.0f, 0.2f}) { // ranges grow and shrink
    auto part = gaussian(40000, unsigned(scale * 100) + 1, scale);
    x.insert(x.end(), part.begin(), part.end());
  }
  TensorStats whole = statsOf(x);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<float> shuffled = x;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    TensorStats batched;
    size_t pos = 0;
    while (pos < shuffled.size()) {
      size_t n = std::min<size_t>(shuffled.size() - pos, 1 + rng() % 70000);
      ASSERT_TRUE(batched.add(shuffled.data() + pos, int64_t(n)));
      pos += n;
    }
    EXPECT_TRUE(batched == whole) << "trial " << trial;
  }
}

TEST(TensorStats, MergedShardsEqualOneRun) {
  std::vector<float> a = gaussian(30000, 1, 0.5f), b = gaussian(50000, 2, 40.0f), c = gaussian(100, 3, 1e-3f);
  std::vector<float> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  TensorStats whole = statsOf(all);
  TensorStats sa = statsOf(a), sb = statsOf(b), sc = statsOf(c);
  TensorStats m1 = sa, m2 = sc;
  m1.merge(sb);
  m1.merge(sc);
  m2.merge(sb);
  m2.merge(sa);
  EXPECT_TRUE(m1 == whole);
  EXPECT_TRUE(m2 == whole);
  TensorStats empty;
  empty.merge(whole);
  EXPECT_TRUE(empty == whole);
}

TEST(TensorStats, FromPartsChecksConsistency) {
  TensorStats s = statsOf({0.25f, -3.0f, 1.5f}), t;
  EXPECT_TRUE(TensorStats::fromParts(s.min(), s.max(), s.exponent(), s.hist(), t));
  EXPECT_TRUE(t == s);
  EXPECT_FALSE(TensorStats::fromParts(s.min(), s.max(), s.exponent() + 1, s.hist(), t)); // wrong grid
  EXPECT_FALSE(TensorStats::fromParts(s.min(), 7.0f, s.exponent(), s.hist(), t));        // max off its bin
  EXPECT_FALSE(TensorStats::fromParts(2.0f, 1.0f, s.exponent(), s.hist(), t));           // min > max
  EXPECT_FALSE(TensorStats::fromParts(s.min(), s.max(), s.exponent(), std::vector<uint64_t>(7, 1), t));
}

// ---- methods ----

TEST(CalibMethods, MinMaxIsExact) {
  TensorStats s = statsOf({-0.3f, 2.75f, 1.0f, -0.0001f});
  auto r = calibratedRange(s, CalibMethod::MinMax, 99.9);
  EXPECT_EQ(r.first, -0.3f);
  EXPECT_EQ(r.second, 2.75f);
}

// The p-th percentile of 0, 1, ..., N-1 is p/100 * N up to one bin width.
TEST(CalibMethods, PercentileOfAKnownDistribution) {
  const int n = 100000;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i)
    x[size_t(i)] = float(i);
  TensorStats s = statsOf(x); // top 2^17, bin width 64
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    double t = percentileThreshold(s, p);
    EXPECT_NEAR(t, p / 100 * n, s.binWidth()) << "p=" << p;
  }
  EXPECT_EQ(percentileThreshold(s, 100.0), 99999.0);
  // Signed data: the percentile of |x|, applied to both tails. For x
  // symmetric in [-N, N], the 90th percentile of |x| is 0.9 N.
  std::vector<float> y;
  for (int i = 0; i < n; ++i) {
    y.push_back(float(i));
    y.push_back(-float(i));
  }
  TensorStats sy = statsOf(y);
  auto r = calibratedRange(sy, CalibMethod::Percentile, 90.0);
  EXPECT_NEAR(r.second, 0.9 * n, sy.binWidth());
  EXPECT_EQ(r.first, -r.second);
  // A tail shorter than the threshold keeps its own end.
  std::vector<float> z = x;
  z.push_back(-3.0f);
  auto rz = calibratedRange(statsOf(z), CalibMethod::Percentile, 90.0);
  EXPECT_EQ(rz.first, -3.0f);
}

// The KL search written out naively: P and Q built bin by bin, as NVIDIA's
// pytorch-quantization describes them (bin 0 takes bin 1's count; bin j in
// level floor(j * levels / i)).
double naiveKl(std::vector<double> h, int i, int levels, bool &finite) {
  std::vector<double> p(h.begin(), h.begin() + i), q(size_t(i), 0.0);
  for (size_t j = size_t(i); j < h.size(); ++j)
    p[size_t(i) - 1] += h[j];
  std::vector<double> mass(size_t(levels), 0.0), nonEmpty(size_t(levels), 0.0);
  for (int j = 0; j < i; ++j) {
    size_t level = size_t(j * levels / i);
    mass[level] += h[size_t(j)];
    nonEmpty[level] += h[size_t(j)] > 0;
  }
  for (int j = 0; j < i; ++j)
    if (h[size_t(j)] > 0)
      q[size_t(j)] = mass[size_t(j * levels / i)] / nonEmpty[size_t(j * levels / i)];
  double ps = 0, qs = 0;
  for (int j = 0; j < i; ++j) {
    ps += p[size_t(j)];
    qs += q[size_t(j)];
  }
  double kl = 0;
  finite = true;
  for (int j = 0; j < i; ++j) {
    if (p[size_t(j)] == 0)
      continue;
    if (q[size_t(j)] == 0) {
      finite = false;
      return 0;
    }
    kl += p[size_t(j)] / ps * std::log((p[size_t(j)] / ps) / (q[size_t(j)] / qs));
  }
  return kl;
}

// The histogram the KL search sees: bin 0 takes bin 1's count, and any
// other bin above 4x the mean of its 4 neighbours each side takes that mean.
std::vector<double> flattenedPointMasses(const TensorStats &s) {
  std::vector<double> h(s.hist().begin(), s.hist().end()), out;
  h[0] = h[1];
  out = h;
  for (int j = 1; j < TensorStats::kBins; ++j) {
    double sum = 0, n = 0;
    for (int k = std::max(1, j - 4); k <= std::min(TensorStats::kBins - 1, j + 4); ++k)
      if (k != j) {
        sum += h[size_t(k)];
        n += 1;
      }
    if (sum > 0 && h[size_t(j)] > 4 * (sum / n))
      out[size_t(j)] = sum / n;
  }
  return out;
}

TEST(CalibMethods, EntropyMatchesANaiveKlSearch) {
  int pastLastBin = 0;
  for (unsigned seed = 1; seed <= 40; ++seed) {
    // Heavy-tailed data (a Gaussian with a sprinkle of large values), as
    // activations with outliers look; odd seeds ReLU'd (a spike at 0). Seeds
    // from 5 on are small samples: sparse histograms, where the best candidate
    // may lie past the last occupied bin.
    const bool sparse = seed > 4;
    std::vector<float> x = gaussian(sparse ? 640 : 200000, seed);
    std::mt19937 rng(seed);
    for (int k = 0; k < (sparse ? 3 : 300); ++k)
      x[rng() % x.size()] *= 8.0f + float(rng() % 8);
    if (seed % 2)
      for (float &v : x)
        v = std::max(v, 0.0f);
    TensorStats s = statsOf(x);
    std::vector<double> h = flattenedPointMasses(s);
    double total = 0;
    for (double c : h)
      total += c;
    double best = INFINITY;
    int bestI = 0;
    for (int i = 128; i <= TensorStats::kBins; ++i) {
      double out = 0;
      for (int j = i; j < TensorStats::kBins; ++j)
        out += h[size_t(j)];
      if (2 * out > total)
        continue;
      bool finite;
      double kl = naiveKl(h, i, 128, finite);
      if (finite && kl < best) {
        best = kl;
        bestI = i;
      }
    }
    double want = std::min(bestI * s.binWidth(), double(s.absMax()));
    EXPECT_DOUBLE_EQ(entropyThreshold(s), want) << "seed " << seed;
    if (!sparse) {
      EXPECT_LT(want, s.absMax()) << "the outliers should be clipped";
    }
    pastLastBin += bestI * s.binWidth() > s.absMax() + s.binWidth();
  }
  EXPECT_GT(pastLastBin, 0) << "no case exercised candidates past the last occupied bin";
}

TEST(CalibMethods, EntropyIsNotDecidedByPointMasses) {
  // A ReLU'd Gaussian, then the same with 12 values repeated verbatim (2% of
  // the data each), as a constant image background gives after a first conv:
  // the threshold must barely move.
  std::vector<float> x = gaussian(200000, 7);
  for (float &v : x)
    v = std::max(v, 0.0f);
  const double plain = entropyThreshold(statsOf(x), 256);
  std::vector<float> spiked = x;
  for (int k = 0; k < 12; ++k)
    spiked.insert(spiked.end(), 4000, 0.1f + 0.13f * float(k));
  const double withSpikes = entropyThreshold(statsOf(spiked), 256);
  EXPECT_NEAR(withSpikes, plain, 0.05 * plain);
}

TEST(CalibMethods, EntropyKeepsTheFullRangeOfUniformData) {
  // Uniform data: Q reproduces P exactly without clipping (KL = 0), and any
  // clipping piles mass into one bin.
  std::vector<float> x;
  for (int i = 0; i < 2048 * 50; ++i)
    x.push_back((float(i % 2048) + 0.5f) / 2048.0f);
  TensorStats s = statsOf(x);
  EXPECT_EQ(entropyThreshold(s), double(s.absMax()));
  // Fewer occupied bins than levels: nothing to search.
  std::vector<float> f;
  for (int i = 0; i < 1000; ++i)
    f.push_back(float(i % 100)); // occupies 100 bins of grid 128
  EXPECT_EQ(entropyThreshold(statsOf(f)), 99.0);
}

TEST(CalibMethods, EntropyNeverClipsHalfTheData) {
  // Everything in [0.5, 1): without the guard KL is 0 where all mass sits in
  // the last bin.
  std::vector<float> x;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.5f, 1.0f);
  for (int i = 0; i < 100000; ++i)
    x.push_back(u(rng));
  TensorStats s = statsOf(x);
  EXPECT_GE(entropyThreshold(s), percentileThreshold(s, 50.0) - s.binWidth());
}

// MSE against brute force on the raw samples: quantize every sample to the
// 8-bit grid of [lo, hi] (0 on the grid) and measure.
double quantMse(const std::vector<float> &x, double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  double step = (hi - lo) / 255, err = 0;
  for (float v : x) {
    double c = std::clamp(double(v), lo, hi);
    double q = std::nearbyint(c / step) * step;
    err += (v - q) * (v - q);
  }
  return err / double(x.size());
}

TEST(CalibMethods, MseIsNearTheBruteForceOptimum) {
  std::mt19937 rng(11);
  std::exponential_distribution<float> e(1.0f);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> laplace, relu;
  for (int i = 0; i < 200000; ++i) {
    float v = e(rng);
    laplace.push_back(rng() % 2 ? v : -v);
    relu.push_back(std::max(0.0f, n(rng)));
  }
  for (const auto *x : {&laplace, &relu}) {
    TensorStats s = statsOf(*x);
    double best = INFINITY, bestT = 0;
    for (int k = 1; k <= 400; ++k) {
      double t = s.absMax() * k / 400.0;
      double err = quantMse(*x, std::max(double(s.min()), -t), std::min(double(s.max()), t));
      if (err < best) {
        best = err;
        bestT = t;
      }
    }
    auto r = calibratedRange(s, CalibMethod::Mse, 0);
    double got = quantMse(*x, r.first, r.second);
    EXPECT_LE(got, best * 1.02) << "qcc T=" << r.second << " brute force T=" << bestT;
    EXPECT_LT(r.second, s.absMax()) << "long tails should be clipped";
  }
  // Uniform on [0, 1): E(T) = T (T/255)^2 / 12 + (1 - T)^3 / 3 (rounding noise
  // in range, clipping above), minimal where (1 - T)^2 = T^2 / (4 * 255^2),
  // i.e. T = 510/511.
  std::vector<float> u;
  for (int i = 0; i < 100000; ++i)
    u.push_back(float(i) / 100000.0f);
  TensorStats su = statsOf(u);
  EXPECT_NEAR(mseThreshold(su), 510.0 / 511.0, su.binWidth());
}

// ---- observer ----

TEST(CalibrationObserver, SeesInputsAndEveryFloatOutput) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Relu", {"x"}, {"r"});
  b.node("Neg", {"r"}, {"n"});
  auto &cast = b.node("Cast", {"n"}, {"ints"}); // an integer output: not observed
  OnnxBuilder::attrInt(cast, "to", onnx::TensorProto::INT32);
  b.output("n");
  b.output("ints");
  auto g = loadOnnx(b.save(test::tempDir("calib_obs")));
  ASSERT_TRUE(bool(g)) << llvm::toString(g.takeError());
  auto it = Interpreter::create(**g);
  ASSERT_TRUE(bool(it)) << llvm::toString(it.takeError());
  CalibrationObserver obs(**g);
  obs.attach(*it);
  for (std::vector<float> v : {std::vector<float>{-1, 2, 0.5f, -3}, std::vector<float>{4, -5, 0, 1}}) {
    Tensor t(ElemType::f32(), {1, 4});
    std::copy(v.begin(), v.end(), t.data<float>());
    ASSERT_FALSE(bool(obs.observeInputs({t})));
    ASSERT_TRUE(bool(it->run({t})));
    ASSERT_FALSE(bool(obs.takeError()));
  }
  auto stats = obs.release();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats["x"].min(), -5.0f);
  EXPECT_EQ(stats["x"].max(), 4.0f);
  EXPECT_EQ(stats["r"].min(), 0.0f);
  EXPECT_EQ(stats["r"].max(), 4.0f);
  EXPECT_EQ(stats["n"].min(), -4.0f);
  EXPECT_EQ(stats["n"].max(), 0.0f);
  EXPECT_EQ(stats["n"].count(), 8u);
}

TEST(CalibrationObserver, NonFiniteActivationNamesTheNode) {
  OnnxBuilder b;
  b.input("x", {1, 2});
  b.node("Log", {"x"}, {"y"}, "the_log");
  b.output("y");
  auto g = loadOnnx(b.save(test::tempDir("calib_nan")));
  ASSERT_TRUE(bool(g));
  auto it = Interpreter::create(**g);
  ASSERT_TRUE(bool(it));
  CalibrationObserver obs(**g);
  obs.attach(*it);
  Tensor t(ElemType::f32(), {1, 2});
  t.data<float>()[0] = 1.0f;
  t.data<float>()[1] = -1.0f; // log(-1) = NaN
  ASSERT_FALSE(bool(obs.observeInputs({t})));
  ASSERT_TRUE(bool(it->run({t})));
  llvm::Error e = obs.takeError();
  ASSERT_TRUE(bool(e));
  std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("the_log"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NaN or Inf"), std::string::npos) << msg;
}

// Threads split the batches; the merged statistics must not depend on how.
TEST(CollectStatistics, ThreadCountDoesNotChangeTheResult) {
  OnnxBuilder b;
  b.input("x", {1, 256});
  b.node("Sigmoid", {"x"}, {"s"});
  b.node("Mul", {"s", "x"}, {"swish"});
  b.output("swish");
  auto g = loadOnnx(b.save(test::tempDir("calib_threads")));
  ASSERT_TRUE(bool(g));
  auto batch = [](int64_t i) {
    Tensor t(ElemType::f32(), {1, 256});
    std::vector<float> v = gaussian(256, unsigned(i) + 1, float(1 + i % 7));
    std::copy(v.begin(), v.end(), t.data<float>());
    return std::vector<Tensor>{t};
  };
  CollectOptions one;
  one.threads = 1;
  int64_t lastProgress = 0;
  one.progress = [&](int64_t done) { lastProgress = done; };
  auto ref = collectStatistics(**g, 40, batch, one);
  ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
  EXPECT_EQ(lastProgress, 40);
  EXPECT_EQ(ref->size(), 3u);
  EXPECT_EQ(ref->at("x").count(), 40u * 256);
  for (unsigned threads : {2u, 3u, 8u}) {
    CollectOptions opts;
    opts.threads = threads;
    auto got = collectStatistics(**g, 40, batch, opts);
    ASSERT_TRUE(bool(got));
    for (const auto &[name, st] : *ref)
      EXPECT_TRUE(got->at(name) == st) << name << " with " << threads << " threads";
  }
}

TEST(CollectStatistics, ReportsTheFirstFailingBatch) {
  OnnxBuilder b;
  b.input("x", {1, 2});
  b.node("Log", {"x"}, {"y"}, "the_log");
  b.output("y");
  auto g = loadOnnx(b.save(test::tempDir("calib_fail")));
  ASSERT_TRUE(bool(g));
  auto batch = [](int64_t i) {
    Tensor t(ElemType::f32(), {1, 2});
    t.data<float>()[0] = 1.0f;
    t.data<float>()[1] = i == 13 || i == 17 ? -1.0f : 2.0f;
    return std::vector<Tensor>{t};
  };
  for (unsigned threads : {1u, 2u, 4u}) {
    CollectOptions opts;
    opts.threads = threads;
    std::string msg = errorOf(collectStatistics(**g, 30, batch, opts));
    EXPECT_NE(msg.find("calibration batch 13: node 'the_log'"), std::string::npos) << msg;
  }
}

// ---- profiles ----

namespace {
Profile sampleProfile(unsigned seed, const std::string &hash = "00000000000000aa") {
  Profile p;
  p.modelFile = "m.onnx";
  p.graphHash = hash;
  p.samples = 10;
  p.method = CalibMethod::Entropy;
  p.tensors["a"] = statsOf(gaussian(5000, seed, 2.0f));
  p.tensors["b \"quoted\""] = statsOf(gaussian(3000, seed + 100, 0.01f));
  p.tensors["never_seen"] = TensorStats();
  return p;
}
} // namespace

TEST(Profile, WriteReadRoundTrip) {
  auto dir = test::tempDir("calib_rt");
  Profile p = sampleProfile(1);
  std::string path = (dir / "p.json").string();
  ASSERT_FALSE(bool(writeProfile(p, path)));
  auto q = readProfile(path);
  ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
  EXPECT_EQ(q->graphHash, p.graphHash);
  EXPECT_EQ(q->modelFile, "m.onnx");
  EXPECT_EQ(q->samples, 10);
  EXPECT_EQ(q->method, CalibMethod::Entropy);
  ASSERT_EQ(q->tensors.size(), 3u);
  for (const auto &[name, s] : p.tensors)
    EXPECT_TRUE(q->tensors.at(name) == s) << name;
  // Written again, byte for byte the same file.
  std::string again = (dir / "q.json").string();
  ASSERT_FALSE(bool(writeProfile(*q, again)));
  EXPECT_EQ(readFile(path), readFile(again));
  // No temporary left behind.
  int files = 0;
  for (auto &e : std::filesystem::directory_iterator(dir))
    files += e.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST(Profile, MergeEqualsOneRunForEveryMethod) {
  std::vector<float> x1 = gaussian(20000, 5, 1.0f), x2 = gaussian(30000, 6, 3.0f);
  std::vector<float> all = x1;
  all.insert(all.end(), x2.begin(), x2.end());
  Profile p1, p2, whole;
  for (Profile *p : {&p1, &p2, &whole}) {
    p->graphHash = "1234";
    p->method = CalibMethod::Mse;
  }
  p1.samples = 2;
  p2.samples = 3;
  whole.samples = 5;
  p1.tensors["t"] = statsOf(x1);
  p2.tensors["t"] = statsOf(x2);
  whole.tensors["t"] = statsOf(all);
  auto merged = mergeProfiles({p1, p2}, {"p1.json", "p2.json"});
  ASSERT_TRUE(bool(merged)) << llvm::toString(merged.takeError());
  EXPECT_EQ(merged->samples, 5);
  EXPECT_TRUE(merged->tensors["t"] == whole.tensors["t"]);
  for (CalibMethod m : {CalibMethod::MinMax, CalibMethod::Percentile, CalibMethod::Entropy, CalibMethod::Mse}) {
    auto a = rangesFor(*merged, m, 99.99), b = rangesFor(whole, m, 99.99);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b) << methodName(m);
  }
}

TEST(Profile, MergeRefusesAnotherModelAndMixedMethods) {
  Profile a = sampleProfile(1, "aaaa"), b = sampleProfile(2, "bbbb");
  std::string msg = errorOf(mergeProfiles({a, b}, {"a.json", "b.json"}));
  EXPECT_NE(msg.find("b.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("different model"), std::string::npos) << msg;
  Profile c = sampleProfile(3, "aaaa");
  c.method = CalibMethod::Mse;
  msg = errorOf(mergeProfiles({a, c}, {"a.json", "c.json"}));
  EXPECT_NE(msg.find("--method"), std::string::npos) << msg;
  auto ok = mergeProfiles({a, c}, {"a.json", "c.json"}, CalibMethod::Percentile, 99.0);
  ASSERT_TRUE(bool(ok));
  EXPECT_EQ(ok->method, CalibMethod::Percentile);
  EXPECT_EQ(ok->percentile, 99.0);
}

TEST(Profile, CorruptFilesAreRefusedWithTheFileName) {
  auto dir = test::tempDir("calib_bad");
  std::string good = (dir / "good.json").string();
  ASSERT_FALSE(bool(writeProfile(sampleProfile(1), good)));
  std::string text = readFile(good);
  auto check = [&](const std::string &name, const std::string &content, const std::string &expect) {
    std::string path = (dir / name).string();
    writeFile(path, content);
    std::string msg = errorOf(readProfile(path));
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(expect), std::string::npos) << name << ": " << msg;
  };
  check("truncated.json", text.substr(0, text.size() / 2), "invalid JSON");
  check("other.json", "{\"hello\": 1}", "not a calibration profile");
  auto replaceFirst = [&](std::string s, const std::string &from, const std::string &to) {
    size_t pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return pos == std::string::npos ? s : s.replace(pos, from.size(), to);
  };
  check("count.json", replaceFirst(text, "\"count\": 5000", "\"count\": 5001"), "'count' says 5001");
  check("method.json", replaceFirst(text, "\"method\": \"entropy\"", "\"method\": \"magic\""), "unknown method");
  std::string e = std::to_string(sampleProfile(1).tensors["a"].exponent());
  check("exponent.json", replaceFirst(text, "\"exponent\": " + e, "\"exponent\": 1" + e), "do not agree");
  check("version.json", replaceFirst(text, "\"version\": 1", "\"version\": 9"), "version 9");
  check("empty.json", "", "invalid JSON");
  std::string missing = (dir / "missing.json").string();
  std::string msg = errorOf(readProfile(missing));
  EXPECT_NE(msg.find(missing + ": cannot read"), std::string::npos) << msg;
}

TEST(Profile, ModelIdentity) {
  OnnxBuilder b1;
  b1.input("x", {1, 4});
  b1.node("Relu", {"x"}, {"y"});
  b1.output("y");
  OnnxBuilder b2;
  b2.input("x", {1, 4});
  b2.node("Sigmoid", {"x"}, {"y"});
  b2.output("y");
  auto dir = test::tempDir("calib_id");
  auto g1 = loadOnnx(b1.save(dir, "one.onnx")), g1again = loadOnnx(b1.save(dir, "copy.onnx")),
       g2 = loadOnnx(b2.save(dir, "two.onnx"));
  ASSERT_TRUE(g1 && g1again && g2);
  EXPECT_EQ(graphHash(**g1), graphHash(**g1again)); // the path is not part of it
  EXPECT_NE(graphHash(**g1), graphHash(**g2));
  Profile p;
  p.modelFile = "one.onnx";
  p.graphHash = graphHash(**g1);
  EXPECT_FALSE(bool(checkProfileMatches(p, **g1again, "p.json")));
  llvm::Error e = checkProfileMatches(p, **g2, "p.json");
  ASSERT_TRUE(bool(e));
  std::string msg = llvm::toString(std::move(e));
  EXPECT_NE(msg.find("p.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("another model"), std::string::npos) << msg;
}

TEST(Profile, RangesForChecksThePercentile) {
  Profile p = sampleProfile(1);
  EXPECT_NE(errorOf(rangesFor(p, CalibMethod::Percentile, 0.0)).find("not in (0, 100]"), std::string::npos);
  auto r = rangesFor(p, CalibMethod::MinMax);
  ASSERT_TRUE(bool(r));
  EXPECT_EQ(r->at("a").first, p.tensors["a"].min());
  EXPECT_EQ(r->at("never_seen"), std::make_pair(0.0f, 0.0f));
}
