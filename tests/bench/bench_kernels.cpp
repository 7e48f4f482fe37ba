// Timing of the qcc_rt kernels on the layer shapes of ResNet-18 and
// MobileNetV2 (224x224, batch 1, one thread). Not part of CI; build by hand:
//   g++ -std=c++17 -O3 -march=native -I runtime_stub tests/bench/bench_kernels.cpp -o bench_kernels
//   ./bench_kernels [--rounding tflite|single|onnx] [--uint8]
// Prints GMAC/s per shape and the summed conv + FC time of each network.
#include "qcc/qcc_kernels.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

int32_t g_rounding = qcc_rt::kRoundTflite;
bool g_uint8 = false;

struct Layer {
  const char *name;
  int32_t h, w, cin, cout, k, stride, group; // square kernel, "same" padding (k / 2)
  int32_t repeat;
};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Requantizer arrays for `channels` channels: multipliers around 2^-10.
struct Rq {
  std::vector<int32_t> m, s;
  std::vector<float> sc;
  qcc_rt::Requant rq;
  explicit Rq(int32_t channels, int32_t zp, int32_t lo, int32_t hi) : m(size_t(channels)), s(size_t(channels)), sc(size_t(channels)) {
    for (int32_t c = 0; c < channels; ++c) {
      m[size_t(c)] = (1 << 30) + c * 1000;
      s[size_t(c)] = 9;
      sc[size_t(c)] = 1.f / 1024.f;
    }
    rq = {m.data(), s.data(), sc.data(), channels, g_rounding, zp, lo, hi};
  }
};

template <typename TX> double time_conv(const Layer &l, double min_seconds = 0.15) {
  qcc_rt::ConvShape s{};
  const int32_t pad = l.k / 2;
  s.n = 1;
  s.h = l.h;
  s.w = l.w;
  s.cin = l.cin;
  s.cout = l.cout;
  s.kh = s.kw = l.k;
  s.sh = s.sw = l.stride;
  s.dh = s.dw = 1;
  s.pt = s.pl = pad;
  s.group = l.group;
  s.oh = (l.h + 2 * pad - l.k) / l.stride + 1;
  s.ow = (l.w + 2 * pad - l.k) / l.stride + 1;
  s.x_zero_point = g_uint8 ? 128 : -3;
  std::mt19937 rng(1);
  std::vector<TX> x(size_t(s.h) * s.w * s.cin);
  for (auto &v : x)
    v = TX(rng());
  std::vector<int8_t> w(size_t(s.cout) * (s.cin / s.group) * s.kh * s.kw);
  for (auto &v : w)
    v = int8_t(rng());
  std::vector<int32_t> bias(size_t(s.cout), 100);
  std::vector<int8_t> packed(qcc_rt::conv_packed_weight_bytes(s));
  qcc_rt::conv_pack_weights(s, w.data(), packed.data());
  std::vector<unsigned char> scratch(qcc_rt::conv_scratch_bytes(s) + 1);
  std::vector<TX> y(size_t(s.oh) * s.ow * s.cout);
  Rq rq(s.cout, 0, -128, 127);
  int iters = 0;
  double t0 = now(), best = 1e9;
  while (now() - t0 < min_seconds || iters < 3) {
    double a = now();
    qcc_rt::conv_nhwc<TX, TX>(s, x.data(), packed.data(), bias.data(), rq.rq, y.data(), scratch.data());
    double b = now() - a;
    best = b < best ? b : best;
    ++iters;
  }
  return best;
}

template <typename TX> double time_gemm(int32_t m, int32_t n, int32_t k) {
  qcc_rt::GemmShape s{m, n, k};
  std::mt19937 rng(2);
  std::vector<TX> x(size_t(m) * k);
  for (auto &v : x)
    v = TX(rng());
  std::vector<int8_t> w(size_t(n) * k);
  for (auto &v : w)
    v = int8_t(rng());
  std::vector<int32_t> bias(size_t(n), 7);
  std::vector<int8_t> packed(qcc_rt::gemm_packed_weight_bytes(s));
  qcc_rt::gemm_pack_weights(s, w.data(), packed.data());
  std::vector<unsigned char> scratch(qcc_rt::gemm_scratch_bytes(s));
  std::vector<TX> y(size_t(m) * n);
  Rq rq(n, 0, -128, 127);
  int iters = 0;
  double t0 = now(), best = 1e9;
  while (now() - t0 < 0.15 || iters < 3) {
    double a = now();
    qcc_rt::gemm<TX, TX>(s, x.data(), packed.data(), bias.data(), rq.rq, y.data(), scratch.data());
    double b = now() - a;
    best = b < best ? b : best;
    ++iters;
  }
  return best;
}

template <typename F> double best_of(F &&f) {
  int iters = 0;
  double t0 = now(), best = 1e9;
  while (now() - t0 < 0.15 || iters < 3) {
    double a = now();
    f();
    double b = now() - a;
    best = b < best ? b : best;
    ++iters;
  }
  return best;
}

// Residual add, max pool and requantize at ResNet-18 sizes.
void time_others() {
  const int64_t n = 56 * 56 * 64;
  std::vector<int8_t> a(static_cast<size_t>(n), 3), b(static_cast<size_t>(n), -7), y(static_cast<size_t>(n), 0);
  Rq ra(1, 0, 0, 0), rb(1, 0, 0, 0), ro(1, 5, -128, 127);
  qcc_rt::Broadcast s{1, {n, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0}};
  qcc_rt::AddParams p{-3, 4, ra.rq, rb.rq, ro.rq};
  double t = best_of([&] { qcc_rt::add<int8_t, int8_t, int8_t>(s, a.data(), b.data(), p, y.data()); });
  std::printf("%-28s %8.3f ms %7.2f ns/element\n", "add 56x56x64", t * 1e3, t / double(n) * 1e9);
  t = best_of([&] { qcc_rt::requantize_tensor<int8_t, int8_t>(n, a.data(), 3, ro.rq, y.data()); });
  std::printf("%-28s %8.3f ms %7.2f ns/element\n", "requantize 56x56x64", t * 1e3, t / double(n) * 1e9);
  std::vector<int8_t> x(size_t(112) * 112 * 64, 1);
  qcc_rt::PoolShape ps{1, 112, 112, 64, 56, 56, 3, 3, 2, 2, 1, 1, 1, 1};
  t = best_of([&] { qcc_rt::maxpool_nhwc<int8_t>(ps, x.data(), y.data()); });
  std::printf("%-28s %8.3f ms %7.2f ns/output\n", "maxpool 3x3 s2 112x112x64", t * 1e3, t / double(n) * 1e9);
}

double macs(const Layer &l) {
  const int32_t pad = l.k / 2;
  const double oh = (l.h + 2 * pad - l.k) / l.stride + 1, ow = (l.w + 2 * pad - l.k) / l.stride + 1;
  return oh * ow * l.cout * (l.cin / l.group) * l.k * l.k;
}

template <typename TX> void report(const char *title, const std::vector<Layer> &layers, bool verbose) {
  double total = 0, total_macs = 0;
  if (verbose)
    std::printf("%s\n", title);
  for (const Layer &l : layers) {
    double t = l.k == 0 ? time_gemm<TX>(1, l.cout, l.cin) : time_conv<TX>(l);
    double mc = l.k == 0 ? double(l.cin) * l.cout : macs(l);
    total += t * l.repeat;
    total_macs += mc * l.repeat;
    if (verbose)
      std::printf("  %-28s %4dx%-4d %4d->%-4d k%d s%d g%-4d x%d: %8.3f ms %7.1f GMAC/s\n", l.name, l.h, l.w, l.cin,
                  l.cout, l.k, l.stride, l.group, l.repeat, t * 1e3, mc / t * 1e-9);
  }
  std::printf("%s: conv+fc %.2f ms for %.3f GMAC (%.1f GMAC/s)\n", title, total * 1e3, total_macs * 1e-9,
              total_macs / total * 1e-9);
}

std::vector<Layer> resnet18() {
  return {{"conv1 7x7 s2", 224, 224, 3, 64, 7, 2, 1, 1},
          {"layer1 3x3", 56, 56, 64, 64, 3, 1, 1, 4},
          {"layer2 3x3 s2", 56, 56, 64, 128, 3, 2, 1, 1},
          {"layer2 3x3", 28, 28, 128, 128, 3, 1, 1, 3},
          {"layer2 down 1x1 s2", 56, 56, 64, 128, 1, 2, 1, 1},
          {"layer3 3x3 s2", 28, 28, 128, 256, 3, 2, 1, 1},
          {"layer3 3x3", 14, 14, 256, 256, 3, 1, 1, 3},
          {"layer3 down 1x1 s2", 28, 28, 128, 256, 1, 2, 1, 1},
          {"layer4 3x3 s2", 14, 14, 256, 512, 3, 2, 1, 1},
          {"layer4 3x3", 7, 7, 512, 512, 3, 1, 1, 3},
          {"layer4 down 1x1 s2", 14, 14, 256, 512, 1, 2, 1, 1},
          {"fc", 1, 1, 512, 1000, 0, 1, 1, 1}};
}

std::vector<Layer> mobilenetv2() {
  std::vector<Layer> l;
  l.push_back({"conv 3x3 s2", 224, 224, 3, 32, 3, 2, 1, 1});
  const int32_t cfg[][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                            {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int32_t res = 112, cin = 32;
  for (auto &c : cfg)
    for (int32_t i = 0; i < c[2]; ++i) {
      const int32_t stride = i == 0 ? c[3] : 1, hidden = cin * c[0];
      if (c[0] != 1)
        l.push_back({"expand 1x1", res, res, cin, hidden, 1, 1, 1, 1});
      l.push_back({"depthwise 3x3", res, res, hidden, hidden, 3, stride, hidden, 1});
      res = (res + 2 - 3) / stride + 1;
      l.push_back({"project 1x1", res, res, hidden, c[1], 1, 1, 1, 1});
      cin = c[1];
    }
  l.push_back({"conv 1x1 last", 7, 7, 320, 1280, 1, 1, 1, 1});
  l.push_back({"fc", 1, 1, 1280, 1000, 0, 1, 1, 1});
  return l;
}

} // namespace

int main(int argc, char **argv) {
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounding" && i + 1 < argc) {
      std::string r = argv[++i];
      g_rounding = r == "single" ? qcc_rt::kRoundSingle : r == "onnx" ? qcc_rt::kRoundOnnx : qcc_rt::kRoundTflite;
    } else if (a == "--uint8") {
      g_uint8 = true;
    } else if (a == "-v") {
      verbose = true;
    }
  }
  const Layer shapes[] = {{"3x3 64->64 56x56", 56, 56, 64, 64, 3, 1, 1, 1},
                          {"1x1 96->576 14x14", 14, 14, 96, 576, 1, 1, 1, 1},
                          {"depthwise 3x3 144ch 56x56", 56, 56, 144, 144, 3, 1, 144, 1}};
  for (const Layer &l : shapes) {
    double t = g_uint8 ? time_conv<uint8_t>(l, 0.5) : time_conv<int8_t>(l, 0.5);
    std::printf("%-28s %8.3f ms %7.1f GMAC/s\n", l.name, t * 1e3, macs(l) / t * 1e-9);
  }
  double t = g_uint8 ? time_gemm<uint8_t>(1, 1000, 512) : time_gemm<int8_t>(1, 1000, 512);
  std::printf("%-28s %8.3f ms %7.1f GMAC/s\n", "fc 512->1000 (m=1)", t * 1e3, 512000.0 / t * 1e-9);
  time_others();
  if (g_uint8) {
    report<uint8_t>("resnet18", resnet18(), verbose);
    report<uint8_t>("mobilenetv2", mobilenetv2(), verbose);
  } else {
    report<int8_t>("resnet18", resnet18(), verbose);
    report<int8_t>("mobilenetv2", mobilenetv2(), verbose);
  }
  return 0;
}
