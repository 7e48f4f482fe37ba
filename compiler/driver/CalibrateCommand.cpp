// qcc calibrate MODEL --calib DATA -o profile.json: runs the float interpreter
// over calibration data and writes the per-tensor statistics (calib/Profile.h).
// qcc calibrate --merge a.json b.json ... -o c.json: merges shards of one
// model; the result equals a single run over all their data.
#include "calib/Collect.h"
#include "calib/Profile.h"
#include "driver/Commands.h"
#include "driver/DataIO.h"
#include "driver/ModelOptions.h"
#include "passes/Pass.h"
#include "support/Error.h"

#include <llvm/Support/Path.h>
#include <llvm/Support/Process.h>
#include <llvm/Support/raw_ostream.h>

#include <chrono>
#include <fmt/format.h>

namespace qcc {

llvm::cl::SubCommand CalibrateCmd("calibrate", "Collect calibration statistics into a profile, or merge profiles");

namespace {
llvm::cl::list<std::string> inputs(llvm::cl::Positional, llvm::cl::desc("MODEL.onnx | PROFILE.json..."),
                                   llvm::cl::OneOrMore, llvm::cl::sub(CalibrateCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> merge("merge", llvm::cl::desc("Merge the given profiles (shards of one model) into one"),
                          llvm::cl::sub(CalibrateCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> calib("calib",
                                 llvm::cl::desc("Calibration data: .npy (batch first), .npz or a folder of .pb"),
                                 llvm::cl::value_desc("DATA"), llvm::cl::sub(CalibrateCmd),
                                 llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> calibSamples("calib-samples", llvm::cl::desc("Use the first N samples of DATA (default: all)"),
                                llvm::cl::value_desc("N"), llvm::cl::init(0), llvm::cl::sub(CalibrateCmd),
                                llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> method("method",
                                  llvm::cl::desc("Ranges written to the profile: minmax, percentile (default, as "
                                                 "in qcc compile), entropy or mse; the histograms serve every method"),
                                  llvm::cl::value_desc("METHOD"), llvm::cl::init("percentile"),
                                  llvm::cl::sub(CalibrateCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<double> percentile("percentile", llvm::cl::desc("Percentile of |x| for --method percentile"),
                                 llvm::cl::init(kDefaultPercentile), llvm::cl::sub(CalibrateCmd),
                                 llvm::cl::cat(qccCategory()));
llvm::cl::opt<unsigned> threads("threads",
                                llvm::cl::desc("Interpreter threads (default: one per hardware thread); the "
                                               "profile does not depend on it"),
                                llvm::cl::value_desc("N"), llvm::cl::init(0), llvm::cl::sub(CalibrateCmd),
                                llvm::cl::cat(qccCategory()));
llvm::cl::list<std::string> shapes("input-shape", llvm::cl::desc("Fix an input's shape: NAME=1x3x224x224"),
                                   llvm::cl::value_desc("NAME=DIMS"), llvm::cl::sub(CalibrateCmd),
                                   llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> output("o", llvm::cl::desc("Output profile (.json)"), llvm::cl::value_desc("PROFILE"),
                                  llvm::cl::Required, llvm::cl::sub(CalibrateCmd), llvm::cl::cat(qccCategory()));

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// A one-line progress bar on stderr, drawn only when stderr is a terminal and
/// at most ten times a second.
class ProgressBar {
public:
  explicit ProgressBar(int64_t total) : total_(total), on_(llvm::sys::Process::StandardErrIsDisplayed()) {}
  void update(int64_t done) {
    if (!on_ || (done < total_ && secondsSince(last_) < 0.1))
      return;
    last_ = Clock::now();
    constexpr int kWidth = 30;
    int filled = int(kWidth * done / std::max<int64_t>(total_, 1));
    llvm::errs() << fmt::format("\rcalibrating [{}{}] {}/{} samples, {:.1f} s", std::string(size_t(filled), '#'),
                                std::string(size_t(kWidth - filled), '.'), done, total_, secondsSince(start_));
  }
  void finish() {
    if (on_)
      llvm::errs() << "\r\033[K"; // erase the bar; the summary line follows
  }

private:
  int64_t total_;
  bool on_;
  Clock::time_point start_ = Clock::now(), last_ = Clock::time_point();
};

llvm::Expected<CalibMethod> methodOption() {
  auto m = parseMethod(method);
  if (!m)
    return makeError("--method '{}' is not one of minmax, percentile, entropy, mse", std::string(method));
  if (!(percentile > 0 && percentile <= 100))
    return makeError("--percentile {} is not in (0, 100]", double(percentile));
  return *m;
}

int runMerge() {
  if (inputs.size() < 2)
    return reportError(makeError("--merge needs at least two profiles"));
  std::optional<CalibMethod> m;
  if (method.getNumOccurrences()) {
    auto parsed = methodOption();
    if (!parsed)
      return reportError(parsed.takeError());
    m = *parsed;
  }
  std::optional<double> pct;
  if (percentile.getNumOccurrences())
    pct = double(percentile);
  std::vector<Profile> shards;
  for (const std::string &path : inputs) {
    auto p = readProfile(path);
    if (!p)
      return reportError(p.takeError());
    shards.push_back(std::move(*p));
  }
  auto merged = mergeProfiles(shards, inputs, m, pct);
  if (!merged)
    return reportError(merged.takeError());
  if (auto e = writeProfile(*merged, output))
    return reportError(std::move(e));
  llvm::errs() << fmt::format("qcc: merged {} profiles ({} samples, {} tensors, ranges by {}); wrote {}\n",
                              shards.size(), merged->samples, merged->tensors.size(), methodName(merged->method),
                              std::string(output));
  return 0;
}

int runCalibration() {
  if (inputs.size() != 1)
    return reportError(makeError("give one model to calibrate (or --merge with profiles)"));
  const std::string &model = inputs[0];
  if (calib.empty())
    return reportError(makeError("--calib DATA is required to calibrate {}", model));
  auto m = methodOption();
  if (!m)
    return reportError(m.takeError());
  auto g = loadModelWithShapes(model, shapes);
  if (!g)
    return reportError(g.takeError());
  // The pipeline `qcc compile` runs: profiles are keyed by value names.
  if (auto e = runPasses(**g, canonicalizePipeline(), /*verify=*/true))
    return reportError(withContext(std::move(e), model));
  const Graph &graph = **g;
  auto data = loadDataset(calib, graph);
  if (!data)
    return reportError(data.takeError());
  int64_t batch = graph.inputs.empty() || graph.inputs[0]->type.shape.empty() ? 1 : graph.inputs[0]->type.shape[0];
  int64_t samples = data->samples;
  if (calibSamples < 0)
    return reportError(makeError("--calib-samples {} must be positive", int(calibSamples)));
  if (calibSamples > 0) {
    if (calibSamples > samples)
      return reportError(makeError("{}: --calib-samples {} asks for more samples than the {} it holds",
                                   std::string(calib), int(calibSamples), samples));
    if (calibSamples % batch)
      return reportError(
          makeError("--calib-samples {} is not a multiple of the model's batch size {}", int(calibSamples), batch));
    samples = calibSamples;
  }
  auto start = Clock::now();
  ProgressBar bar(samples);
  CollectOptions opts;
  opts.threads = threads;
  opts.progress = [&](int64_t batchesDone) { bar.update(batchesDone * batch); };
  auto stats = collectStatistics(
      graph, samples / batch, [&](int64_t b) { return sliceBatch(*data, graph, b); }, opts);
  bar.finish();
  if (!stats)
    return reportError(withContext(stats.takeError(), model));

  Profile p;
  p.modelFile = llvm::sys::path::filename(model).str();
  p.graphHash = graphHash(graph);
  p.samples = samples;
  p.method = *m;
  p.percentile = percentile;
  p.tensors = std::move(*stats);
  if (auto e = writeProfile(p, output))
    return reportError(std::move(e));
  llvm::errs() << fmt::format("qcc: calibrated {} on {} samples in {:.1f} s ({} tensors, ranges by {}); wrote {}\n",
                              model, samples, secondsSince(start), p.tensors.size(), methodName(p.method),
                              std::string(output));
  return 0;
}

} // namespace

int runCalibrate() { return merge ? runMerge() : runCalibration(); }

} // namespace qcc
