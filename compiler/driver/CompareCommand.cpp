// qcc compare MODEL OUT --data X [--labels Y]: builds the library `qcc compile`
// wrote into OUT with the host runner, runs it on X, runs the float reference
// interpreter on MODEL and the integer reference interpreter on
// OUT/model.qcc.onnx, and reports top-1 (with labels), top-1 agreement, output
// SQNR and max abs error of the generated code against float, whether the
// generated code is bit-exact with the integer reference on every sample, and
// the SQNR of every layer. Exit 1 when a check fails (bit-exactness,
// --min-sqnr, --max-top1-drop), 2 on bad input.
#include "calib/Profile.h"
#include "driver/BuildLibrary.h"
#include "driver/Commands.h"
#include "driver/CompileReport.h"
#include "driver/DataIO.h"
#include "driver/ModelOptions.h"
#include "interp/Interpreter.h"
#include "quant/Precision.h"
#include "ir/Printer.h"
#include "passes/Pass.h"
#include "quant/QuantizeGraph.h"
#include "quant/RequantAttrs.h"
#include "support/Error.h"

#include <llvm/Support/JSON.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <optional>

namespace fs = std::filesystem;

namespace qcc {

llvm::cl::SubCommand CompareCmd("compare", "Build a compiled model's C++ library and compare it with float and the "
                                           "integer reference");

namespace {
using llvm::cl::desc;
using llvm::cl::value_desc;
llvm::cl::opt<std::string> model(llvm::cl::Positional, desc("MODEL.onnx"), llvm::cl::Required,
                                 llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> outDir(llvm::cl::Positional, desc("OUT"),
                                  llvm::cl::Required, llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> dataPath("data", desc("Test data: .npy (batch first), .npz or a folder of .pb"),
                                    value_desc("X"), llvm::cl::Required, llvm::cl::sub(CompareCmd),
                                    llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> labelsPath("labels", desc("Integer class labels .npy, one per sample (for top-1)"),
                                      value_desc("Y.npy"), llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> asJson("json", desc("Print one JSON object instead of the table"), llvm::cl::sub(CompareCmd),
                           llvm::cl::cat(qccCategory()));
llvm::cl::opt<double> minSqnr("min-sqnr", desc("Fail (exit 1) when the output SQNR against float is below DB"),
                              value_desc("DB"), llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<double> maxTop1Drop("max-top1-drop",
                                  desc("Fail (exit 1) when top-1 drops more than POINTS percentage points below "
                                       "float (needs --labels)"),
                                  value_desc("POINTS"), llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> junitPath("junit", desc("Write a JUnit XML file with one test case per check"),
                                     value_desc("FILE"), llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> samplesOpt("samples", desc("Use the first N samples of the data (default: all)"),
                              value_desc("N"), llvm::cl::init(0), llvm::cl::sub(CompareCmd),
                              llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> layerSamples("layer-samples",
                                desc("Samples used for per-layer SQNR (default: all compared samples; 0: skip)"),
                                value_desc("N"), llvm::cl::init(-1), llvm::cl::sub(CompareCmd),
                                llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> cxx("cxx", desc("C++ compiler for the library and runner (default: $CXX, else c++)"),
                               value_desc("CXX"), llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> sanitize("sanitize", desc("Build the library and runner with AddressSanitizer and UBSan"),
                             llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> workDir("work-dir", desc("Build and run in DIR and keep it (default: a temporary folder)"),
                                   value_desc("DIR"), llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));
llvm::cl::list<std::string> shapes("input-shape", desc("Fix an input's shape of MODEL, as given to `qcc compile`"),
                                   value_desc("NAME=DIMS"), llvm::cl::sub(CompareCmd), llvm::cl::cat(qccCategory()));

bool progress() { return llvm::errs().is_displayed(); }

void say(const std::string &msg) {
  if (progress())
    llvm::errs() << "qcc: " << msg << "\n";
}

int64_t batchOf(const Graph &g) {
  return g.inputs.empty() || g.inputs[0]->type.shape.empty() ? 1 : g.inputs[0]->type.shape[0];
}

/// The first n samples of every array.
void truncateSamples(Dataset &d, int64_t n) {
  for (Tensor &t : d.arrays) {
    Shape s = t.shape();
    size_t per = t.bytes() / size_t(s[0]);
    s[0] = n;
    Tensor u(t.elem(), s);
    std::memcpy(u.raw(), t.raw(), per * size_t(n));
    t = std::move(u);
  }
  d.samples = n;
}

/// Runs an interpreter over the dataset batch by batch; one stacked tensor per
/// graph output (as `qcc run` writes them).
llvm::Expected<std::vector<Tensor>> runAll(const Graph &g, const Dataset &d) {
  auto interp = Interpreter::create(g);
  if (!interp)
    return interp.takeError();
  std::vector<std::vector<Tensor>> parts(g.outputs.size());
  for (int64_t b = 0; b < d.samples / batchOf(g); ++b) {
    auto outs = interp->run(sliceBatch(d, g, b));
    if (!outs)
      return outs.takeError();
    for (size_t i = 0; i < outs->size(); ++i)
      parts[i].push_back(std::move((*outs)[i]));
  }
  std::vector<Tensor> stacked;
  for (auto &p : parts)
    stacked.push_back(stackBatches(p));
  return stacked;
}

std::vector<float> asFloats(const Tensor &t) {
  if (t.elem().storage() == Storage::F32)
    return std::vector<float>(t.data<float>(), t.data<float>() + t.size());
  std::vector<float> v(size_t(t.size()));
  for (int64_t i = 0; i < t.size(); ++i)
    v[size_t(i)] = float(t.getDouble(i));
  return v;
}

/// Checks that OUT's integer graph takes and gives what MODEL does.
llvm::Error checkSameInterface(const Graph &f, const Graph &q, const std::string &qPath) {
  auto describe = [](const std::vector<Value *> &vs) {
    std::string s;
    for (const Value *v : vs)
      s += (s.empty() ? "" : ", ") + v->name + " " + v->type.str();
    return s;
  };
  bool same = f.inputs.size() == q.inputs.size() && f.outputs.size() == q.outputs.size();
  for (size_t i = 0; same && i < f.inputs.size(); ++i)
    same = f.inputs[i]->type.shape == q.inputs[i]->type.shape && f.inputs[i]->type.elem == q.inputs[i]->type.elem;
  for (size_t i = 0; same && i < f.outputs.size(); ++i)
    same = f.outputs[i]->type.shape == q.outputs[i]->type.shape;
  if (!same)
    return makeError("{}: inputs ({}) and outputs ({}) differ from {}'s ({}; {}): was OUT compiled from this model?",
                     qPath, describe(q.inputs), describe(q.outputs), f.sourcePath, describe(f.inputs),
                     describe(f.outputs));
  for (const Value *v : f.inputs)
    if (v->type.elem != ElemType::f32())
      return makeError("{}: input '{}' is {}; compare feeds the library's float entry point (float32 inputs only)",
                       f.sourcePath, v->name, v->type.str());
  return llvm::Error::success();
}

/// Reads integer labels, one per sample.
llvm::Expected<std::vector<int64_t>> readLabels(const std::string &path, int64_t samples) {
  auto t = readNpyTensor(path);
  if (!t)
    return t.takeError();
  if (t->elem().isFloat() || t->elem().storage() == Storage::Bool)
    return makeError("{}: labels are {}; expected integer class indices", path, t->type().str());
  const Shape &s = t->shape();
  if (s.empty() || s.size() > 2 || (s.size() == 2 && s[1] != 1))
    return makeError("{}: labels have shape [{}]; expected [N] (one class index per sample)", path,
                     fmt::join(s, ","));
  if (s[0] != samples)
    return makeError("{}: {} labels for {} samples of {}", path, s[0], samples, std::string(dataPath));
  return t->toInts();
}

struct OutputStats {
  std::string name;
  double signal = 0, noise = 0, maxAbs = 0;
  int64_t mismatched = 0; ///< samples whose bytes differ from the integer reference
  double sqnrDb() const { return noise > 0 ? 10.0 * std::log10(signal / noise) : INFINITY; }
};

struct Check {
  std::string name, message;
  bool passed = true;
};

struct LayerRow {
  std::string value, node, op;
  double sqnrDb;
};

struct PerLayer {
  std::vector<LayerRow> rows;
  std::string note; ///< why there are none, or on what they were measured
  int64_t samples = 0;
};

llvm::Expected<std::string> readText(const fs::path &p) {
  auto buf = llvm::MemoryBuffer::getFile(p.string());
  if (!buf)
    return makeError("{}: cannot read ({})", p.string(), buf.getError().message());
  return (*buf)->getBuffer().str();
}

/// MODEL as `qcc compile` quantized it (canonicalized) and OUT's calibration
/// profile, which must have been made for it: a mismatch means OUT was
/// compiled from another model (or with another --input-shape).
struct Quantizable {
  std::unique_ptr<Graph> graph;
  Profile profile;
};

llvm::Expected<Quantizable> loadQuantizable(const fs::path &out) {
  std::string profilePath = (out / "profile.json").string();
  auto profile = readProfile(profilePath);
  if (!profile)
    return profile.takeError();
  auto g = loadModelWithShapes(model, shapes);
  if (!g)
    return g.takeError();
  if (auto e = runPasses(**g, canonicalizePipeline(), /*verify=*/true))
    return withContext(std::move(e), std::string(model));
  if (auto e = checkProfileMatches(*profile, **g, profilePath))
    return makeError("{}; OUT was not compiled from {} (or was compiled with other --input-shape options)",
                     llvm::toString(std::move(e)), std::string(model));
  return Quantizable{std::move(*g), std::move(*profile)};
}

/// Per-layer SQNR of the integer reference against float. The compile report
/// keeps the quantizer's inputs (profile.json and the settings in
/// report.json), so the quantizer runs again; the result is used only when its
/// text form equals OUT/model.qir, i.e. when it is OUT's integer graph.
llvm::Expected<PerLayer> measurePerLayer(const fs::path &out, const Quantizable &m, const Dataset &data,
                                         int64_t samples) {
  PerLayer pl;
  auto reportText = readText(out / "report.json");
  if (!reportText)
    return reportText.takeError();
  auto report = llvm::json::parse(*reportText);
  if (!report)
    return withContext(report.takeError(), (out / "report.json").string());
  const llvm::json::Object *settings =
      report->getAsObject() ? report->getAsObject()->getObject("settings") : nullptr;
  if (!settings)
    return makeError("{}: no \"settings\"", (out / "report.json").string());
  auto setting = [&](const char *k) {
    auto v = settings->getString(k);
    return v ? v->str() : std::string();
  };
  QuantizeOptions qo;
  auto r = parseRounding(setting("rounding"));
  if (!r)
    return withContext(r.takeError(), (out / "report.json").string());
  qo.rounding = *r;
  if (auto e = readPrecisionSettings(*settings, qo))
    return withContext(std::move(e), (out / "report.json").string());
  auto ranges = rangesFor(m.profile, m.profile.method, m.profile.percentile);
  if (!ranges)
    return withContext(ranges.takeError(), (out / "profile.json").string());
  auto q = quantizeGraph(*m.graph, *ranges, qo);
  if (!q)
    return withContext(q.takeError(), std::string(model));
  auto qir = readText(out / "model.qir");
  if (!qir || *qir != printGraph(*q->graph)) {
    if (!qir)
      llvm::consumeError(qir.takeError());
    pl.note = fmt::format("{}/profile.json with the settings in report.json does not reproduce {}/model.qir "
                          "(compiled with other options?); per-layer SQNR skipped",
                          out.string(), out.string());
    return pl;
  }
  auto acc = measureLayers(*m.graph, *q, data, samples);
  if (!acc)
    return acc.takeError();
  std::map<std::string, std::string> floatOf;
  for (const auto &[f, i] : q->quantizedName)
    floatOf[i] = f;
  for (const auto &n : q->graph->nodes()) {
    const Value *y = n->outputs.empty() ? nullptr : n->outputs[0];
    if (!y || !y->quant || !floatOf.count(y->name))
      continue;
    auto a = acc->find(floatOf[y->name]);
    if (a == acc->end())
      continue;
    pl.rows.push_back({floatOf[y->name], n->name, n->domain.empty() ? n->op : n->domain + "::" + n->op,
                       a->second.sqnrDb()});
  }
  pl.samples = samples;
  return pl;
}

llvm::json::Value number(double v) { return std::isfinite(v) ? llvm::json::Value(v) : llvm::json::Value(nullptr); }

std::string xmlEscape(const std::string &s) {
  std::string o;
  for (char c : s) {
    switch (c) {
    case '&': o += "&amp;"; break;
    case '<': o += "&lt;"; break;
    case '>': o += "&gt;"; break;
    case '"': o += "&quot;"; break;
    case '\'': o += "&apos;"; break;
    default:
      // Control characters other than tab/newline are not allowed in XML 1.0.
      if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n')
        o += c;
    }
  }
  return o;
}

llvm::Error writeJunit(const std::string &path, const std::string &suite, const std::vector<Check> &checks,
                       const std::vector<std::pair<std::string, std::string>> &props, double seconds) {
  int failures = 0;
  for (const Check &c : checks)
    failures += !c.passed;
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += fmt::format("<testsuites tests=\"{}\" failures=\"{}\" errors=\"0\">\n", checks.size(), failures);
  x += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{:.3f}\">\n",
                   xmlEscape(suite), checks.size(), failures, seconds);
  x += "    <properties>\n";
  for (const auto &[k, v] : props)
    x += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", xmlEscape(k), xmlEscape(v));
  x += "    </properties>\n";
  for (const Check &c : checks) {
    x += fmt::format("    <testcase classname=\"{}\" name=\"{}\"", xmlEscape(suite), xmlEscape(c.name));
    if (c.passed)
      x += fmt::format(">\n      <system-out>{}</system-out>\n    </testcase>\n", xmlEscape(c.message));
    else
      x += fmt::format(">\n      <failure message=\"{}\" type=\"{}\"/>\n    </testcase>\n", xmlEscape(c.message),
                       xmlEscape(c.name));
  }
  x += "  </testsuite>\n</testsuites>\n";
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << x;
    if (!f) {
      std::remove(tmp.c_str());
      return makeError("{}: cannot write", path);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return makeError("{}: cannot write", path);
  }
  return llvm::Error::success();
}

std::string fmtNum(double v, const char *spec = "{:.2f}") {
  return std::isfinite(v) ? fmt::format(fmt::runtime(spec), v) : std::string(v > 0 ? "inf" : "-");
}

} // namespace

int runCompare() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const fs::path out = outDir.getValue();
  const bool haveMinSqnr = minSqnr.getNumOccurrences() > 0, haveMaxDrop = maxTop1Drop.getNumOccurrences() > 0;
  if (haveMaxDrop && labelsPath.empty())
    return reportError(makeError("--max-top1-drop needs --labels Y.npy"));
  if (haveMinSqnr && !std::isfinite(double(minSqnr)))
    return reportError(makeError("--min-sqnr: not a finite number"));
  if (haveMaxDrop && !(double(maxTop1Drop) >= 0))
    return reportError(makeError("--max-top1-drop: expected a non-negative number of percentage points"));
  if (samplesOpt < 0)
    return reportError(makeError("--samples {}: expected a positive count", int(samplesOpt)));

  // Everything that can be wrong with the input is checked before building.
  auto manifest = readLibraryManifest(out.string());
  if (!manifest)
    return reportError(manifest.takeError());
  const std::string qPath = (out / "model.qcc.onnx").string();
  std::error_code ec;
  if (!fs::is_regular_file(qPath, ec))
    return reportError(makeError("{}: missing (OUT must be a folder written by `qcc compile`)", qPath));
  auto fg = loadModelWithShapes(model, shapes);
  if (!fg)
    return reportError(fg.takeError());
  auto qg = loadModelWithShapes(qPath, {});
  if (!qg)
    return reportError(qg.takeError());
  if (auto e = checkSameInterface(**fg, **qg, qPath))
    return reportError(std::move(e));
  auto quantizable = loadQuantizable(out);
  if (!quantizable)
    return reportError(quantizable.takeError());
  auto data = loadDataset(dataPath, **fg);
  if (!data)
    return reportError(data.takeError());
  const int64_t available = data->samples;
  std::optional<std::vector<int64_t>> labels;
  if (!labelsPath.empty()) {
    auto l = readLabels(labelsPath, available);
    if (!l)
      return reportError(l.takeError());
    labels = std::move(*l);
  }
  // Top-1 is the argmax over each sample's elements of the first output.
  const Shape &out0 = (*qg)->outputs[0]->type.shape;
  int64_t out0Numel = 1;
  for (int64_t d : out0)
    out0Numel *= d;
  const int64_t classes = out0Numel / (out0.empty() ? 1 : batchOf(**fg));
  if (labels)
    for (size_t k = 0; k < labels->size(); ++k)
      if ((*labels)[k] < 0 || (*labels)[k] >= classes)
        return reportError(makeError("{}: label {} of sample {} is not a class of the model's {}-way output '{}'",
                                     std::string(labelsPath), (*labels)[k], k, classes,
                                     (*qg)->outputs[0]->name));
  if (samplesOpt > 0) {
    if (samplesOpt > available || samplesOpt % batchOf(**fg))
      return reportError(makeError("--samples {}: {} holds {} samples (model batch {})", int(samplesOpt),
                                   std::string(dataPath), available, batchOf(**fg)));
    truncateSamples(*data, samplesOpt);
    if (labels)
      labels->resize(size_t(int64_t(samplesOpt)));
  }
  const int64_t samples = data->samples;

  // The generated code, through the runner.
  std::optional<TempDir> tmp;
  auto folder = workFolder(workDir, "qcc-compare", tmp);
  if (!folder)
    return reportError(folder.takeError());
  const std::string work = *folder;
  BuildOptions bo;
  bo.cxx = cxx;
  bo.sanitize = sanitize;
  bo.progress = progress();
  auto runner = buildRunner(out.string(), manifest->name, work, bo);
  if (!runner)
    return reportError(runner.takeError());
  std::vector<std::string> argv = {*runner, "run"};
  for (size_t i = 0; i < data->arrays.size(); ++i) {
    std::string p = (fs::path(work) / fmt::format("input{}.npy", i)).string();
    if (auto e = writeTensors(p, {(*fg)->inputs[i]->name}, {data->arrays[i]}))
      return reportError(std::move(e));
    argv.push_back(p);
  }
  const std::string prefix = (fs::path(work) / "generated_output").string();
  argv.insert(argv.end(), {"--out", prefix});
  if (manifest->weightsExternal)
    argv.insert(argv.end(), {"--weights", manifest->weightsFile});
  say(fmt::format("running the generated code on {} samples...", samples));
  const std::string runLog = (fs::path(work) / "runner.log").string();
  auto rc = runProgram(argv, runLog, runLog);
  if (!rc)
    return reportError(rc.takeError());
  if (*rc != 0)
    return reportError(makeError("{}: the generated code's runner failed (exit {}{}):\n{}", out.string(), *rc,
                                 *rc > 128 ? fmt::format(", signal {}", *rc - 128) : "", fileTail(runLog)));
  std::vector<Tensor> generated;
  for (size_t o = 0; o < (*qg)->outputs.size(); ++o) {
    auto t = readNpyTensor(fmt::format("{}{}.npy", prefix, o));
    if (!t)
      return reportError(t.takeError());
    generated.push_back(std::move(*t));
  }

  // The reference interpreters.
  say(fmt::format("running the float and integer reference interpreters on {} samples...", samples));
  auto floatOut = runAll(**fg, *data);
  if (!floatOut)
    return reportError(withContext(floatOut.takeError(), std::string(model)));
  auto refOut = runAll(**qg, *data);
  if (!refOut)
    return reportError(withContext(refOut.takeError(), qPath));

  // Metrics over all outputs; top-1 on the first.
  std::vector<OutputStats> stats;
  std::vector<bool> sampleDiffers(size_t(samples), false);
  std::string firstMismatch;
  for (size_t o = 0; o < generated.size(); ++o) {
    std::vector<float> f = asFloats((*floatOut)[o]), r = asFloats((*refOut)[o]);
    const Tensor &g = generated[o];
    if (g.elem() != ElemType::f32() || size_t(g.size()) != r.size() || f.size() != r.size() ||
        r.size() % size_t(samples))
      return reportError(makeError("{}/{}.h: output {} of the generated code holds {} elements, the integer "
                                   "reference {} ({} samples)",
                                   out.string(), manifest->name, o, g.size(), r.size(), samples));
    const float *gv = g.data<float>();
    OutputStats s;
    s.name = (*qg)->outputs[o]->name;
    size_t per = r.size() / size_t(samples);
    for (size_t i = 0; i < r.size(); ++i) {
      double e = double(gv[i]) - double(f[i]);
      s.signal += double(f[i]) * double(f[i]);
      s.noise += e * e;
      s.maxAbs = std::max(s.maxAbs, std::fabs(e));
    }
    for (int64_t k = 0; k < samples; ++k) {
      size_t off = size_t(k) * per;
      if (std::memcmp(gv + off, r.data() + off, per * sizeof(float)) == 0)
        continue;
      ++s.mismatched;
      if (firstMismatch.empty())
        for (size_t i = off; i < off + per; ++i)
          if (std::memcmp(gv + i, r.data() + i, sizeof(float)) != 0) {
            firstMismatch = fmt::format("sample {}, output '{}', element {}: generated {}, reference {}", k,
                                        s.name, i - off, gv[i], r[i]);
            break;
          }
      sampleDiffers[size_t(k)] = true;
    }
    stats.push_back(s);
  }
  double signal = 0, noise = 0, maxAbs = 0;
  for (const auto &s : stats) {
    signal += s.signal;
    noise += s.noise;
    maxAbs = std::max(maxAbs, s.maxAbs);
  }
  const double sqnr = noise > 0 ? 10.0 * std::log10(signal / noise) : INFINITY;
  const int64_t mismatched = std::count(sampleDiffers.begin(), sampleDiffers.end(), true);
  const bool bitExact = mismatched == 0;

  // Top-1 on output 0: argmax of each sample's elements.
  std::vector<float> f0 = asFloats((*floatOut)[0]), r0 = asFloats((*refOut)[0]);
  const float *g0 = generated[0].data<float>();
  const size_t per0 = f0.size() / size_t(samples);
  auto argmax = [&](const float *v, int64_t k) {
    const float *b = v + size_t(k) * per0;
    return int64_t(std::max_element(b, b + per0) - b);
  };
  int64_t agree = 0, hitF = 0, hitQ = 0, hitR = 0;
  for (int64_t k = 0; k < samples; ++k) {
    int64_t af = argmax(f0.data(), k), aq = argmax(g0, k), ar = argmax(r0.data(), k);
    agree += af == aq;
    if (labels) {
      int64_t y = (*labels)[size_t(k)];
      hitF += af == y;
      hitQ += aq == y;
      hitR += ar == y;
    }
  }
  auto pct = [&](int64_t n) { return 100.0 * double(n) / double(samples); };
  const double top1Agree = pct(agree);
  std::optional<double> top1F, top1Q, top1R;
  if (labels) {
    top1F = pct(hitF);
    top1Q = pct(hitQ);
    top1R = pct(hitR);
  }

  // Per-layer SQNR (integer reference against float).
  PerLayer perLayer;
  int64_t ls = layerSamples < 0 ? samples : std::min<int64_t>(layerSamples, samples);
  ls -= ls % batchOf(**fg);
  if (ls > 0) {
    say(fmt::format("measuring per-layer SQNR on {} samples...", ls));
    auto pl = measurePerLayer(out, *quantizable, *data, ls);
    if (!pl)
      return reportError(pl.takeError());
    perLayer = std::move(*pl);
  } else {
    perLayer.note = "per-layer SQNR skipped (--layer-samples 0)";
  }

  // Checks.
  std::vector<Check> checks;
  {
    Check c{"bit_exact", "", bitExact};
    c.message = bitExact ? fmt::format("generated code equals the integer reference on all {} samples", samples)
                         : fmt::format("generated code differs from the integer reference on {} of {} samples "
                                       "(first: {})",
                                       mismatched, samples, firstMismatch);
    checks.push_back(c);
  }
  if (haveMinSqnr) {
    bool ok = sqnr >= minSqnr;
    checks.push_back({"min_sqnr",
                      fmt::format("output SQNR {} dB {} --min-sqnr {} dB", fmtNum(sqnr), ok ? ">=" : "<",
                                  double(minSqnr)),
                      ok});
  }
  if (haveMaxDrop) {
    double drop = *top1F - *top1Q;
    bool ok = drop <= maxTop1Drop;
    checks.push_back({"max_top1_drop",
                      fmt::format("top-1 {:.2f} % against float {:.2f} %: drop {:.2f} points {} --max-top1-drop {}",
                                  *top1Q, *top1F, drop, ok ? "<=" : ">", double(maxTop1Drop)),
                      ok});
  }
  bool passed = std::all_of(checks.begin(), checks.end(), [](const Check &c) { return c.passed; });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  auto opt = [](const std::optional<double> &v) { return v ? llvm::json::Value(*v) : llvm::json::Value(nullptr); };
  if (!junitPath.empty()) {
    std::vector<std::pair<std::string, std::string>> props = {
        {"model", std::string(model)}, {"out", out.string()}, {"data", std::string(dataPath)},
        {"samples", std::to_string(samples)}, {"sqnr_db", fmtNum(sqnr)}, {"max_abs_err", fmt::format("{}", maxAbs)},
        {"top1_agreement", fmtNum(top1Agree)}, {"bit_exact", bitExact ? "true" : "false"}};
    if (labels) {
      props.push_back({"top1_float", fmtNum(*top1F)});
      props.push_back({"top1_quant", fmtNum(*top1Q)});
    }
    if (auto e = writeJunit(junitPath, "qcc.compare." + manifest->name, checks, props, seconds))
      return reportError(std::move(e));
  }

  if (asJson) {
    llvm::json::Array outputs, layers, jchecks;
    for (const auto &s : stats)
      outputs.push_back(llvm::json::Object{{"name", s.name},
                                           {"sqnr_db", number(s.sqnrDb())},
                                           {"max_abs_err", s.maxAbs},
                                           {"mismatched_samples", s.mismatched}});
    for (const auto &l : perLayer.rows)
      layers.push_back(
          llvm::json::Object{{"value", l.value}, {"node", l.node}, {"op", l.op}, {"sqnr_db", number(l.sqnrDb)}});
    for (const auto &c : checks)
      jchecks.push_back(llvm::json::Object{{"name", c.name}, {"passed", c.passed}, {"message", c.message}});
    llvm::json::Object j{{"model", std::string(model)},
                         {"out", out.string()},
                         {"library", manifest->name},
                         {"data", std::string(dataPath)},
                         {"labels", labelsPath.empty() ? llvm::json::Value(nullptr) : llvm::json::Value(labelsPath)},
                         {"samples", samples},
                         {"top1_float", opt(top1F)},
                         {"top1_quant", opt(top1Q)},
                         {"top1_reference", opt(top1R)},
                         {"top1_agreement", top1Agree},
                         {"sqnr_db", number(sqnr)},
                         {"max_abs_err", maxAbs},
                         {"bit_exact", bitExact},
                         {"mismatched_samples", mismatched},
                         {"outputs", std::move(outputs)},
                         {"per_layer", perLayer.rows.empty() && !perLayer.note.empty() ? llvm::json::Value(nullptr)
                                                                                       : llvm::json::Value(std::move(layers))},
                         {"per_layer_samples", perLayer.samples},
                         {"checks", std::move(jchecks)},
                         {"passed", passed},
                         {"seconds", seconds}};
    if (!perLayer.note.empty())
      j["per_layer_note"] = perLayer.note;
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(j))) << "\n";
  } else {
    auto &os = llvm::outs();
    os << fmt::format("qcc compare: {} against {} (library {}), {} samples of {}\n\n", std::string(model),
                      out.string(), manifest->name, samples, std::string(dataPath));
    if (labels) {
      os << fmt::format("  {:<34} {:>8} %\n", "top-1 float", fmtNum(*top1F));
      os << fmt::format("  {:<34} {:>8} %   (drop {:.2f} points)\n", "top-1 quantized (generated code)",
                        fmtNum(*top1Q), *top1F - *top1Q);
    } else {
      os << fmt::format("  {:<34} {:>8}     (no --labels)\n", "top-1", "-");
    }
    os << fmt::format("  {:<34} {:>8} %\n", "top-1 agreement with float", fmtNum(top1Agree));
    os << fmt::format("  {:<34} {:>8} dB\n", "output SQNR against float", fmtNum(sqnr, "{:.1f}"));
    os << fmt::format("  {:<34} {:>8}\n", "max abs error against float", fmtNum(maxAbs, "{:.4g}"));
    os << fmt::format("  {:<34} {:>8}     ({} of {} samples identical)\n", "bit-exact with integer reference",
                      bitExact ? "yes" : "NO", samples - mismatched, samples);
    if (!perLayer.rows.empty()) {
      os << fmt::format("\n  per-layer SQNR, integer reference against float ({} samples):\n", perLayer.samples);
      os << fmt::format("  {:<44} {:<20} {:>8}\n", "layer (float value)", "op", "SQNR dB");
      for (const auto &l : perLayer.rows) {
        std::string name = l.value.size() > 44 ? "..." + l.value.substr(l.value.size() - 41) : l.value;
        os << fmt::format("  {:<44} {:<20} {:>8}\n", name, l.op, fmtNum(l.sqnrDb, "{:.1f}"));
      }
    } else if (!perLayer.note.empty()) {
      os << "\n  " << perLayer.note << "\n";
    }
    os << "\n";
    for (const auto &c : checks)
      os << fmt::format("  {} {:<14} {}\n", c.passed ? "PASS" : "FAIL", c.name, c.message);
    os.flush();
  }
  if (!passed) {
    for (const auto &c : checks)
      if (!c.passed)
        llvm::errs() << "qcc: compare failed: " << c.name << ": " << c.message << "\n";
    return 1;
  }
  return 0;
}

} // namespace qcc
