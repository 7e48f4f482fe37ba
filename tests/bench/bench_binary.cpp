// Binary layers (+-1 inputs, +-1 weights): the XNOR-popcount kernels
// (runtime_stub/qcc/binary.h) against the int8 kernels the same layers ran on
// before (conv_nhwc / gemm with +-1 values), batch 1, one thread. Not part of
// CI; build by hand:
//   g++ -std=c++17 -O3 -march=native -I runtime_stub tests/bench/bench_binary.cpp -o bench_binary
//   ./bench_binary [--int32-out]
// Checks that both give the same outputs, prints microseconds per call and the speedup;
// the sum covers the layers qcc puts on the popcount kernel (binary_conv_worthwhile).
#include "qcc/qcc_kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best of 5 averages over as many calls as ran in 20 ms.
template <typename F> double usPerCall(F &&f) {
  int64_t iters = 0;
  for (double t0 = now(); now() - t0 < 0.02; ++iters)
    f();
  iters = std::max<int64_t>(iters, 1);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const double t0 = now();
    for (int64_t i = 0; i < iters; ++i)
      f();
    best = std::min(best, (now() - t0) / iters);
  }
  return best * 1e6;
}

struct Rq {
  std::vector<int32_t> m, s;
  std::vector<float> sc;
  qcc_rt::Requant rq;
  Rq(int32_t channels, bool int32Out) : m(size_t(channels)), s(size_t(channels)), sc(size_t(channels)) {
    for (int32_t c = 0; c < channels; ++c) {
      m[size_t(c)] = (1 << 30) + c * 1000;
      s[size_t(c)] = int32Out ? -1 : 3;
      sc[size_t(c)] = int32Out ? 1.f : 1.f / 16.f;
    }
    // int32 out: the brevitas binary models' accumulator (scale 1, onnx rounding) before a threshold.
    rq = {m.data(), s.data(), sc.data(), channels, int32Out ? qcc_rt::kRoundOnnx : qcc_rt::kRoundTflite, 0,
          int32Out ? INT32_MIN : -128, int32Out ? INT32_MAX : 127};
  }
};

std::mt19937 rng(1);
std::vector<int8_t> pm1(size_t n) {
  std::vector<int8_t> v(n);
  for (auto &e : v)
    e = int8_t(rng() % 2 ? 1 : -1);
  return v;
}

template <typename TY> bool same(const std::vector<TY> &a, const std::vector<TY> &b) { return a == b; }

template <typename TY> void conv(const char *name, int32_t hw, int32_t cin, int32_t cout, int32_t k, int32_t stride,
                                 bool int32Out, double &sumBin, double &sumInt8, int32_t group = 1) {
  const int32_t pad = k / 2, o = (hw + 2 * pad - k) / stride + 1;
  qcc_rt::ConvShape s{1, hw, hw, cin, o, o, cout, k, k, stride, stride, 1, 1, pad, pad, group, 0};
  const auto x = pm1(size_t(hw) * hw * cin), w = pm1(size_t(cout) * (cin / group) * k * k);
  std::vector<int32_t> bias(static_cast<size_t>(cout), 3);
  Rq rq(cout, int32Out);
  std::vector<int8_t> packed(qcc_rt::conv_packed_weight_bytes(s));
  qcc_rt::conv_pack_weights(s, w.data(), packed.data());
  std::vector<unsigned char> scratch(std::max(qcc_rt::conv_scratch_bytes(s), qcc_rt::binary_conv_scratch_bytes(s)));
  std::vector<uint64_t> bits(qcc_rt::binary_conv_packed_words(s));
  std::vector<int32_t> mag(static_cast<size_t>(cout));
  qcc_rt::binary_conv_pack_weights(s, w.data(), bits.data(), mag.data());
  std::vector<TY> y1(size_t(o) * o * cout), y2(y1.size());
  const double tInt8 = usPerCall([&] {
    qcc_rt::conv_nhwc(s, x.data(), packed.data(), bias.data(), rq.rq, y1.data(), scratch.data());
  });
  const double tBin = usPerCall([&] {
    qcc_rt::binary_conv_nhwc(s, x.data(), bits.data(), mag.data(), bias.data(), rq.rq, y2.data(), scratch.data());
  });
  const double macs = double(o) * o * cout * (cin / group) * k * k;
  const bool chosen = qcc_rt::binary_conv_worthwhile(s); // what qcc emits for such a layer
  std::printf("%-28s %9.1f %9.1f %7.2fx  %7.1f GMAC/s  %s%s\n", name, tInt8, tBin, tInt8 / tBin, macs / tBin * 1e-3,
              same(y1, y2) ? "equal" : "DIFFERENT", chosen ? "" : "  (qcc keeps the int8 kernel: not in the sum)");
  if (chosen) {
    sumBin += tBin;
    sumInt8 += tInt8;
  }
}

template <typename TY> void gemm(const char *name, int32_t m, int32_t n, int32_t k, bool int32Out, double &sumBin,
                                 double &sumInt8) {
  qcc_rt::GemmShape s{m, n, k};
  const auto x = pm1(size_t(m) * k), w = pm1(size_t(n) * k);
  std::vector<int32_t> bias(static_cast<size_t>(n), -1);
  Rq rq(n, int32Out);
  std::vector<int8_t> packed(qcc_rt::gemm_packed_weight_bytes(s));
  qcc_rt::gemm_pack_weights(s, w.data(), packed.data());
  std::vector<unsigned char> scratch(std::max(qcc_rt::gemm_scratch_bytes(s), qcc_rt::binary_gemm_scratch_bytes(s)) + 1);
  std::vector<uint64_t> bits(qcc_rt::binary_gemm_packed_words(s));
  std::vector<int32_t> mag(static_cast<size_t>(n));
  qcc_rt::binary_gemm_pack_weights(s, w.data(), bits.data(), mag.data());
  std::vector<TY> y1(size_t(m) * n), y2(y1.size());
  const double tInt8 = usPerCall([&] { qcc_rt::gemm(s, x.data(), packed.data(), bias.data(), rq.rq, y1.data(), scratch.data()); });
  const double tBin = usPerCall([&] {
    qcc_rt::binary_gemm(s, x.data(), bits.data(), mag.data(), bias.data(), rq.rq, y2.data(), scratch.data());
  });
  const double macs = double(m) * n * k;
  std::printf("%-28s %9.1f %9.1f %7.2fx  %7.1f GMAC/s  %s\n", name, tInt8, tBin, tInt8 / tBin, macs / tBin * 1e-3,
              same(y1, y2) ? "equal" : "DIFFERENT");
  sumBin += tBin;
  sumInt8 += tInt8;
}

template <typename TY> void all(bool int32Out) {
  double b = 0, i = 0;
  std::printf("%-28s %9s %9s %8s\n", "layer (batch 1)", "int8 us", "xnor us", "speedup");
  conv<TY>("conv3x3 8->8 8x8 (cnn_w1a1)", 8, 8, 8, 3, 1, int32Out, b, i);
  conv<TY>("conv1x1 8->8 8x8 (cnn_w1a1)", 8, 8, 8, 1, 1, int32Out, b, i);
  gemm<TY>("fc 32->32 (mlp_w1a1)", 1, 32, 32, int32Out, b, i);
  conv<TY>("conv3x3 64->64 32x32", 32, 64, 64, 3, 1, int32Out, b, i);
  conv<TY>("conv3x3 128->128 16x16", 16, 128, 128, 3, 1, int32Out, b, i);
  conv<TY>("conv3x3 256->256 8x8", 8, 256, 256, 3, 1, int32Out, b, i);
  conv<TY>("conv3x3 128->256 16x16 s2", 16, 128, 256, 3, 2, int32Out, b, i);
  conv<TY>("conv1x1 256->256 14x14", 14, 256, 256, 1, 1, int32Out, b, i);
  conv<TY>("conv3x3 100->70 20x20", 20, 100, 70, 3, 1, int32Out, b, i);
  conv<TY>("conv3x3 128->128 16x16 g4", 16, 128, 128, 3, 1, int32Out, b, i, 4);
  conv<TY>("depthwise3x3 64 32x32", 32, 64, 64, 3, 1, int32Out, b, i, 64);
  gemm<TY>("fc 1024->1024", 1, 1024, 1024, int32Out, b, i);
  gemm<TY>("fc 4096->1000", 1, 1000, 4096, int32Out, b, i);
  gemm<TY>("fc 1000->500 m=16", 16, 500, 1000, int32Out, b, i);
  std::printf("%-28s %9.1f %9.1f %7.2fx\n", "sum", i, b, i / b);
}

} // namespace

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const bool int32Out = argc > 1 && std::string(argv[1]) == "--int32-out";
  std::printf("outputs: %s\n", int32Out ? "int32 accumulators (scale 1, onnx rounding)" : "int8 (tflite requantization)");
  if (int32Out)
    all<int32_t>(true);
  else
    all<int8_t>(false);
  return 0;
}
