// qcc bench OUT [--iters N]: builds the library `qcc compile` wrote into OUT
// with the host runner and times its float entry point on one thread (the
// library is single-threaded by construction): median and minimum latency,
// arena bytes and weight bytes.
#include "driver/BuildLibrary.h"
#include "driver/Commands.h"
#include "support/Error.h"

#include <llvm/Support/JSON.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>

#include <filesystem>
#include <fmt/format.h>
#include <optional>

namespace fs = std::filesystem;

namespace qcc {

llvm::cl::SubCommand BenchCmd("bench", "Build a compiled model's C++ library and time it on one thread");

namespace {
using llvm::cl::desc;
using llvm::cl::value_desc;
llvm::cl::opt<std::string> outDir(llvm::cl::Positional, desc("OUT"),
                                  llvm::cl::Required, llvm::cl::sub(BenchCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> iters("iters", desc("Timed runs (default 100)"), value_desc("N"), llvm::cl::init(100),
                         llvm::cl::sub(BenchCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> warmup("warmup", desc("Untimed runs first (default 10)"), value_desc("N"), llvm::cl::init(10),
                          llvm::cl::sub(BenchCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> asJson("json", desc("Print one JSON object"), llvm::cl::sub(BenchCmd),
                           llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> cxx("cxx", desc("C++ compiler for the library and runner (default: $CXX, else c++)"),
                               value_desc("CXX"), llvm::cl::sub(BenchCmd), llvm::cl::cat(qccCategory()));
llvm::cl::list<std::string> inputs("input", desc("Time on the first batch of this .npy (batch first, float32), one per "
                                                 "model input in order (default: zero inputs)"),
                                   value_desc("X.npy"), llvm::cl::sub(BenchCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> workDir("work-dir", desc("Build in DIR and keep it (default: a temporary folder)"),
                                   value_desc("DIR"), llvm::cl::sub(BenchCmd), llvm::cl::cat(qccCategory()));
} // namespace

int runBench() {
  if (iters < 1)
    return reportError(makeError("--iters {}: expected at least 1", int(iters)));
  if (warmup < 0)
    return reportError(makeError("--warmup {}: expected 0 or more", int(warmup)));
  auto manifest = readLibraryManifest(outDir);
  if (!manifest)
    return reportError(manifest.takeError());
  std::error_code ec;
  for (const std::string &in : inputs)
    if (!fs::is_regular_file(in, ec))
      return reportError(makeError("{}: no such file", in));
  std::optional<TempDir> tmp;
  auto folder = workFolder(workDir, "qcc-bench", tmp);
  if (!folder)
    return reportError(folder.takeError());
  const std::string work = *folder;
  BuildOptions bo;
  bo.cxx = cxx;
  bo.progress = llvm::errs().is_displayed();
  auto runner = buildRunner(outDir, manifest->name, work, bo);
  if (!runner)
    return reportError(runner.takeError());
  std::vector<std::string> argv = {*runner, "bench", "--iters", std::to_string(iters), "--warmup",
                                   std::to_string(warmup)};
  if (manifest->weightsExternal)
    argv.insert(argv.end(), {"--weights", manifest->weightsFile});
  for (const std::string &in : inputs)
    argv.push_back(fs::absolute(in).string());
  if (bo.progress)
    llvm::errs() << fmt::format("qcc: timing {} runs of {}_run...\n", int(iters), manifest->name);
  const std::string stdoutFile = (fs::path(work) / "bench.json").string();
  const std::string stderrFile = (fs::path(work) / "bench.log").string();
  auto rc = runProgram(argv, stdoutFile, stderrFile);
  if (!rc)
    return reportError(rc.takeError());
  if (*rc != 0)
    return reportError(makeError("{}: the generated code's runner failed (exit {}{}):\n{}", std::string(outDir), *rc,
                                 *rc == 2 ? "; bad --input?" : "", fileTail(stderrFile)));
  auto buf = llvm::MemoryBuffer::getFile(stdoutFile);
  if (!buf)
    return reportError(makeError("{}: cannot read the runner's output", stdoutFile));
  auto v = llvm::json::parse((*buf)->getBuffer());
  if (!v)
    return reportError(withContext(v.takeError(), "the runner's output"));
  llvm::json::Object *r = v->getAsObject();
  auto num = [&](const char *k) {
    if (r)
      if (auto x = r->getNumber(k))
        return *x;
    return 0.0;
  };
  const double median = num("median_ms"), minimum = num("min_ms"), mean = num("mean_ms");
  const int64_t arena = int64_t(num("arena_bytes")), weights = int64_t(num("weight_bytes"));
  if (asJson) {
    llvm::json::Object j{{"out", std::string(outDir)}, {"library", manifest->name},
                         {"iters", int64_t(iters)},    {"warmup", int64_t(warmup)},
                         {"threads", 1},               {"inputs", inputs.empty() ? "zeros" : "data"},
                         {"median_ms", median},
                         {"min_ms", minimum},          {"mean_ms", mean},
                         {"arena_bytes", arena},       {"weight_bytes", weights},
                         {"weights_external", manifest->weightsExternal}};
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(j))) << "\n";
  } else {
    auto &os = llvm::outs();
    os << fmt::format("qcc bench: {} (library {}), {} runs on one thread after {} warm-up runs\n\n",
                      std::string(outDir), manifest->name, int(iters), int(warmup));
    os << fmt::format("  {:<14} {:>14.4f} ms\n", "median", median);
    os << fmt::format("  {:<14} {:>14.4f} ms\n", "min", minimum);
    os << fmt::format("  {:<14} {:>14} bytes\n", "arena", arena);
    os << fmt::format("  {:<14} {:>14} bytes{}\n", "weights", weights,
                      manifest->weightsExternal ? " (external)" : "");
    os << fmt::format("  {:<14} {:>14} bytes\n", "arena+weights", arena + weights);
  }
  return 0;
}

} // namespace qcc
