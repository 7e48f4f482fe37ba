// Host runner around one library written by `qcc compile`: a generic main()
// that `qcc compare` and `qcc bench` build (compiler/driver/BuildLibrary.cpp)
// with -DQCC_MODEL=NAME -DQCC_MODEL_HEADER="NAME.h" and link with libNAME.
//
//   runner run IN0.npy [IN1.npy ...] --out PREFIX [--weights FILE]
//       NAME_run once per model batch; inputs batch first (float32 or
//       float64, N = a multiple of the model's batch); writes PREFIX0.npy ...
//       as float32 [N, ...], the per-call outputs stacked along axis 0.
//   runner bench [--iters N] [--warmup W] [--weights FILE] [IN0.npy ...]
//       times NAME_run on one thread (zero inputs unless files are given,
//       then their first batch); prints one JSON object.
//   runner info
//       prints the header's constants as one JSON object.
//
// Weights (libraries compiled with --weights external only): --weights FILE,
// else $QCC_WEIGHTS, else NAME.weights.bin in the working directory.
// Exit status: 0 ok, 2 bad usage or input, 3 the library returned an error.
//
// This is host code: it allocates (the library itself does not). The arena is
// 64-byte aligned and, in `run`, filled with a non-zero pattern before every
// call, so a library that relied on zeroed or left-over arena memory would
// give wrong results rather than lucky ones.
#include QCC_MODEL_HEADER

#include "npy.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#define QCC_CAT_(a, b) a##b
#define QCC_CAT(a, b) QCC_CAT_(a, b)
#define QCC_SYM(suffix) QCC_CAT(QCC_MODEL, suffix)
#define QCC_STR_(x) #x
#define QCC_STR(x) QCC_STR_(x)

#if QCC_SYM(_NUM_INPUTS) > 8 || QCC_SYM(_NUM_OUTPUTS) > 8
#error "the qcc runner handles at most 8 inputs and 8 outputs"
#endif

namespace {

constexpr int kInputs = QCC_SYM(_NUM_INPUTS);
constexpr int kOutputs = QCC_SYM(_NUM_OUTPUTS);
const char *const kName = QCC_STR(QCC_MODEL);

// The header names each port's shape array separately; gather them by index.
const int64_t *const kInputShape[] = {
    QCC_SYM(_input0_shape),
#if QCC_SYM(_NUM_INPUTS) > 1
    QCC_SYM(_input1_shape),
#endif
#if QCC_SYM(_NUM_INPUTS) > 2
    QCC_SYM(_input2_shape),
#endif
#if QCC_SYM(_NUM_INPUTS) > 3
    QCC_SYM(_input3_shape),
#endif
#if QCC_SYM(_NUM_INPUTS) > 4
    QCC_SYM(_input4_shape),
#endif
#if QCC_SYM(_NUM_INPUTS) > 5
    QCC_SYM(_input5_shape),
#endif
#if QCC_SYM(_NUM_INPUTS) > 6
    QCC_SYM(_input6_shape),
#endif
#if QCC_SYM(_NUM_INPUTS) > 7
    QCC_SYM(_input7_shape),
#endif
};
const int64_t *const kOutputShape[] = {
    QCC_SYM(_output0_shape),
#if QCC_SYM(_NUM_OUTPUTS) > 1
    QCC_SYM(_output1_shape),
#endif
#if QCC_SYM(_NUM_OUTPUTS) > 2
    QCC_SYM(_output2_shape),
#endif
#if QCC_SYM(_NUM_OUTPUTS) > 3
    QCC_SYM(_output3_shape),
#endif
#if QCC_SYM(_NUM_OUTPUTS) > 4
    QCC_SYM(_output4_shape),
#endif
#if QCC_SYM(_NUM_OUTPUTS) > 5
    QCC_SYM(_output5_shape),
#endif
#if QCC_SYM(_NUM_OUTPUTS) > 6
    QCC_SYM(_output6_shape),
#endif
#if QCC_SYM(_NUM_OUTPUTS) > 7
    QCC_SYM(_output7_shape),
#endif
};

int64_t inputNumel(int i) { return QCC_SYM(_input_numel)[i]; }
int64_t outputNumel(int i) { return QCC_SYM(_output_numel)[i]; }

int fail(const std::string &msg) {
  std::fprintf(stderr, "runner: error: %s\n", msg.c_str());
  return 2;
}

// 64-byte aligned heap block (the alignment the library asks for).
class Aligned {
public:
  explicit Aligned(size_t bytes) : bytes_(bytes) {
    size_t n = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
    p_ = static_cast<unsigned char *>(::operator new(n, std::align_val_t(64)));
    std::memset(p_, 0, n);
  }
  ~Aligned() { ::operator delete(p_, std::align_val_t(64)); }
  Aligned(const Aligned &) = delete;
  Aligned &operator=(const Aligned &) = delete;
  unsigned char *data() { return p_; }
  size_t size() const { return bytes_; }

private:
  unsigned char *p_;
  size_t bytes_;
};

struct Args {
  std::string mode;
  std::vector<std::string> inputs;
  std::string out, weights;
  long iters = 100, warmup = 10;
};

bool parseCount(const char *s, long &v) {
  char *end = nullptr;
  v = std::strtol(s, &end, 10);
  return end && *end == 0 && v >= 0;
}

// Returns an error message, or "" on success.
std::string parseArgs(int argc, char **argv, Args &a) {
  if (argc < 2)
    return "usage: runner run IN.npy... --out PREFIX | runner bench [--iters N] [--warmup W] | runner info";
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&](std::string &dst) {
      if (i + 1 >= argc)
        return false;
      dst = argv[++i];
      return true;
    };
    std::string v;
    if (s == "--out") {
      if (!value(a.out))
        return "--out needs a value";
    } else if (s == "--weights") {
      if (!value(a.weights))
        return "--weights needs a value";
    } else if (s == "--iters" || s == "--warmup") {
      if (!value(v) || !parseCount(v.c_str(), s == "--iters" ? a.iters : a.warmup))
        return s + " needs a non-negative integer";
    } else if (!s.empty() && s[0] == '-') {
      return "unknown option " + s;
    } else {
      a.inputs.push_back(s);
    }
  }
  if (a.mode != "run" && a.mode != "bench" && a.mode != "info")
    return "unknown mode '" + a.mode + "' (run, bench or info)";
  if (a.mode == "run" && a.out.empty())
    return "run needs --out PREFIX";
  if (a.mode == "bench" && a.iters < 1)
    return "--iters must be at least 1";
  if (!a.inputs.empty() && int(a.inputs.size()) != kInputs)
    return "the model has " + std::to_string(kInputs) + " input(s), " + std::to_string(a.inputs.size()) +
           " file(s) given";
  if (a.mode == "run" && a.inputs.empty())
    return "run needs one .npy file per model input";
  return "";
}

// Reads the external weights blob, or does nothing for embedded weights.
std::string loadWeights(const Args &a, std::unique_ptr<Aligned> &blob) {
#if QCC_SYM(_WEIGHTS_EXTERNAL)
  std::string path = a.weights;
  if (path.empty() && std::getenv("QCC_WEIGHTS"))
    path = std::getenv("QCC_WEIGHTS");
  if (path.empty())
    path = std::string(kName) + ".weights.bin";
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f)
    return path + ": cannot open the weights file";
  std::streamoff size = f.tellg();
  if (size < std::streamoff(QCC_SYM(_WEIGHT_BYTES)))
    return path + ": " + std::to_string(size) + " bytes, the library needs " +
           std::to_string(static_cast<long long>(QCC_SYM(_WEIGHT_BYTES)));
  blob.reset(new Aligned(size_t(size)));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char *>(blob->data()), size))
    return path + ": cannot read";
#else
  (void)a;
  (void)blob;
#endif
  return "";
}

// Reads the inputs as float32; `calls` = model batches they hold.
std::string loadInputs(const Args &a, std::vector<std::vector<float>> &data, int64_t &calls) {
  calls = -1;
  data.resize(size_t(kInputs));
  for (int i = 0; i < kInputs; ++i) {
    const std::string &path = a.inputs[size_t(i)];
    qcc_host::NpyArray arr;
    std::string err;
    if (!qcc_host::readNpy(path, arr, err))
      return path + ": " + err;
    int64_t count = arr.count();
    std::vector<float> &d = data[size_t(i)];
    d.resize(size_t(count));
    if (arr.dtype == "<f4") {
      std::memcpy(d.data(), arr.data.data(), size_t(count) * sizeof(float));
    } else if (arr.dtype == "<f8") {
      for (int64_t k = 0; k < count; ++k) {
        double x;
        std::memcpy(&x, arr.data.data() + k * 8, 8);
        d[size_t(k)] = float(x);
      }
    } else {
      return path + ": dtype " + arr.dtype + ", the float entry point takes float32 (or float64)";
    }
    int64_t numel = inputNumel(i);
    if (count == 0 || count % numel)
      return path + ": " + std::to_string(count) + " elements are not a whole number of model batches of " +
             std::to_string(numel) + " elements (input " + std::to_string(i) + ")";
    if (calls >= 0 && count / numel != calls)
      return path + ": holds " + std::to_string(count / numel) + " model batches, input 0 holds " +
             std::to_string(calls);
    calls = count / numel;
  }
  return "";
}

int checkStatus(int status, long call) {
  if (status == 0)
    return 0;
  std::fprintf(stderr, "runner: error: %s_run returned %d (%s) on call %ld\n", kName, status,
               QCC_SYM(_status_string)(status), call);
  return 3;
}

int modeRun(const Args &a, const void *weights) {
  std::vector<std::vector<float>> in;
  int64_t calls = 0;
  std::string err = loadInputs(a, in, calls);
  if (!err.empty())
    return fail(err);
  std::vector<std::vector<float>> out(static_cast<size_t>(kOutputs));
  for (int o = 0; o < kOutputs; ++o)
    out[size_t(o)].assign(size_t(calls * outputNumel(o)), 0.f);
  Aligned arena(size_t(QCC_SYM(_ARENA_BYTES)));
  const float *inPtr[kInputs];
  float *outPtr[kOutputs];
  for (int64_t c = 0; c < calls; ++c) {
    for (int i = 0; i < kInputs; ++i)
      inPtr[i] = in[size_t(i)].data() + c * inputNumel(i);
    for (int o = 0; o < kOutputs; ++o)
      outPtr[o] = out[size_t(o)].data() + c * outputNumel(o);
    std::memset(arena.data(), 0xA5, arena.size());
    if (int rc = checkStatus(QCC_SYM(_run)(inPtr, outPtr, arena.data(), weights), long(c)))
      return rc;
  }
  for (int o = 0; o < kOutputs; ++o) {
    qcc_host::NpyArray arr;
    arr.dtype = "<f4";
    int rank = QCC_SYM(_output_rank)[o];
    if (rank == 0) {
      arr.shape = {calls};
    } else {
      arr.shape.assign(kOutputShape[o], kOutputShape[o] + rank);
      arr.shape[0] *= calls;
    }
    const char *bytes = reinterpret_cast<const char *>(out[size_t(o)].data());
    arr.data.assign(bytes, bytes + out[size_t(o)].size() * sizeof(float));
    std::string path = a.out + std::to_string(o) + ".npy";
    if (!qcc_host::writeNpy(path, arr, err))
      return fail(path + ": " + err);
  }
  return 0;
}

int modeBench(const Args &a, const void *weights) {
  std::vector<std::vector<float>> in(static_cast<size_t>(kInputs));
  if (!a.inputs.empty()) {
    int64_t calls = 0;
    std::string err = loadInputs(a, in, calls);
    if (!err.empty())
      return fail(err);
  } else {
    for (int i = 0; i < kInputs; ++i)
      in[size_t(i)].assign(size_t(inputNumel(i)), 0.f);
  }
  std::vector<std::vector<float>> out(static_cast<size_t>(kOutputs));
  const float *inPtr[kInputs];
  float *outPtr[kOutputs];
  for (int i = 0; i < kInputs; ++i)
    inPtr[i] = in[size_t(i)].data();
  for (int o = 0; o < kOutputs; ++o) {
    out[size_t(o)].assign(size_t(outputNumel(o)), 0.f);
    outPtr[o] = out[size_t(o)].data();
  }
  Aligned arena(size_t(QCC_SYM(_ARENA_BYTES)));
  using Clock = std::chrono::steady_clock;
  std::vector<double> ms;
  for (long k = 0; k < a.warmup + a.iters; ++k) {
    auto t0 = Clock::now();
    int status = QCC_SYM(_run)(inPtr, outPtr, arena.data(), weights);
    auto t1 = Clock::now();
    if (int rc = checkStatus(status, k))
      return rc;
    if (k >= a.warmup)
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  double mean = 0;
  for (double v : ms)
    mean += v / double(n);
  std::printf("{\"name\": \"%s\", \"iters\": %ld, \"warmup\": %ld, \"median_ms\": %.6f, \"min_ms\": %.6f, "
              "\"mean_ms\": %.6f, \"max_ms\": %.6f, \"arena_bytes\": %lld, \"weight_bytes\": %lld, "
              "\"weights_external\": %s}\n",
              kName, a.iters, a.warmup, median, sorted.front(), mean, sorted.back(),
              static_cast<long long>(QCC_SYM(_ARENA_BYTES)), static_cast<long long>(QCC_SYM(_WEIGHT_BYTES)),
              QCC_SYM(_WEIGHTS_EXTERNAL) ? "true" : "false");
  return 0;
}

void printPorts(const char *key, int count, const int *rank, const int64_t *const *shape, int64_t (*numel)(int)) {
  std::printf("\"%s\": [", key);
  for (int i = 0; i < count; ++i) {
    std::printf("%s{\"numel\": %lld, \"shape\": [", i ? ", " : "", static_cast<long long>(numel(i)));
    for (int d = 0; d < rank[i]; ++d)
      std::printf("%s%lld", d ? ", " : "", static_cast<long long>(shape[i][d]));
    std::printf("]}");
  }
  std::printf("]");
}

int modeInfo() {
  std::printf("{\"name\": \"%s\", \"arena_bytes\": %lld, \"weight_bytes\": %lld, \"weights_external\": %s, ", kName,
              static_cast<long long>(QCC_SYM(_ARENA_BYTES)), static_cast<long long>(QCC_SYM(_WEIGHT_BYTES)),
              QCC_SYM(_WEIGHTS_EXTERNAL) ? "true" : "false");
  printPorts("inputs", kInputs, QCC_SYM(_input_rank), kInputShape, inputNumel);
  std::printf(", ");
  printPorts("outputs", kOutputs, QCC_SYM(_output_rank), kOutputShape, outputNumel);
  std::printf("}\n");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Args a;
  std::string err = parseArgs(argc, argv, a);
  if (!err.empty())
    return fail(err);
  if (a.mode == "info")
    return modeInfo();
  std::unique_ptr<Aligned> blob;
  err = loadWeights(a, blob);
  if (!err.empty())
    return fail(err);
  const void *weights = blob ? blob->data() : nullptr;
  return a.mode == "run" ? modeRun(a, weights) : modeBench(a, weights);
}
