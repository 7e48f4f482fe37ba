// qcc compile MODEL --calib DATA -o OUT: calibrate, quantize (int8 unless
// --weight-bits / --act-bits / --precision ask for other widths) and write
// OUT/ with the integer graph (model.qcc.onnx, readable by `qcc run OUT`), its
// text form (model.qir), the calibration profile, report.json and, for
// --target cpu (the default), the generated C++ library (backends/cpp).
#include "backends/cpp/CppEmitter.h"
#include "backends/cpp/LibraryReport.h"
#include "calib/Collect.h"
#include "calib/Profile.h"
#include "driver/BuildLibrary.h"
#include "driver/Commands.h"
#include "driver/CompileReport.h"
#include "driver/DataIO.h"
#include "driver/ModelOptions.h"
#include "frontend/OnnxWriter.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "passes/Pass.h"
#include "quant/QuantizeGraph.h"
#include "quant/RequantAttrs.h"
#include "support/Error.h"

#include <llvm/Support/Path.h>
#include <llvm/Support/raw_ostream.h>

#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace qcc {

llvm::cl::SubCommand CompileCmd("compile", "Calibrate and quantize a model to integer arithmetic");

namespace {
llvm::cl::opt<std::string> model(llvm::cl::Positional, llvm::cl::desc("MODEL.onnx"), llvm::cl::Required,
                                 llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> output("o", llvm::cl::desc("Output folder"), llvm::cl::value_desc("OUT"),
                                  llvm::cl::Required, llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> calib("calib", llvm::cl::desc("Calibration data: .npy (batch first), .npz or a folder of .pb"),
                                 llvm::cl::value_desc("DATA"), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> profilePath("profile", llvm::cl::desc("Use a profile from `qcc calibrate` instead of --calib"),
                                       llvm::cl::value_desc("PROFILE.json"), llvm::cl::sub(CompileCmd),
                                       llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> calibSamples("calib-samples", llvm::cl::desc("Use the first N samples of DATA (default: all)"),
                                llvm::cl::value_desc("N"), llvm::cl::init(0), llvm::cl::sub(CompileCmd),
                                llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> method("calib-method", llvm::cl::desc("minmax, percentile (default), entropy or mse"),
                                  llvm::cl::value_desc("METHOD"), llvm::cl::init("percentile"),
                                  llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<double> percentile("percentile", llvm::cl::desc("Percentile of |x| for --calib-method percentile"),
                                 llvm::cl::init(kDefaultPercentile), llvm::cl::sub(CompileCmd),
                                 llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> rounding("rounding", llvm::cl::desc("Requantization rounding: tflite (default), single, onnx"),
                                    llvm::cl::init("tflite"), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> perTensor("per-tensor-weights", llvm::cl::desc("One weight scale per tensor (default: per output channel)"),
                              llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> actUint8("act-uint8", llvm::cl::desc("uint8 activations (default: int8)"),
                             llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> actSymmetric("act-symmetric", llvm::cl::desc("Symmetric activations (zero point 0 / 128)"),
                                 llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> weightBits("weight-bits", llvm::cl::desc("Weight bits, 2..16 (default 8): symmetric per channel"),
                              llvm::cl::value_desc("N"), llvm::cl::init(8), llvm::cl::sub(CompileCmd),
                              llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> actBits("act-bits", llvm::cl::desc("Activation bits, 2..16 (default 8)"), llvm::cl::value_desc("N"),
                           llvm::cl::init(8), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::list<std::string> precision("precision",
                                      llvm::cl::desc("Widths of one ONNX node: NODE=W4A8, NODE=W4 or NODE=A16 "
                                                     "(A: the node's output activation); repeatable"),
                                      llvm::cl::value_desc("NODE=WnAm"), llvm::cl::sub(CompileCmd),
                                      llvm::cl::cat(qccCategory()));
llvm::cl::opt<int> reportSamples("report-samples", llvm::cl::desc("Calibration samples used for per-layer SQNR (default 16)"),
                                 llvm::cl::init(16), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::list<std::string> shapes("input-shape", llvm::cl::desc("Fix an input's shape: NAME=1x3x224x224"),
                                   llvm::cl::value_desc("NAME=DIMS"), llvm::cl::sub(CompileCmd),
                                   llvm::cl::cat(qccCategory()));

llvm::cl::opt<std::string> target("target", llvm::cl::desc("cpu (default: a portable C++ library) or none (integer graph only)"),
                                  llvm::cl::init("cpu"), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> libName("name", llvm::cl::desc("Library name and C prefix (default: from the model file)"),
                                   llvm::cl::value_desc("NAME"), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> weightsMode("weights", llvm::cl::desc("embedded (default: const arrays) or external (NAME.weights.bin)"),
                                       llvm::cl::init("embedded"), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> build("build", llvm::cl::desc("Build the library with CMake and leave libNAME.a in OUT"),
                          llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> cxx("cxx", llvm::cl::desc("C++ compiler for --build (default: $CXX or c++)"),
                               llvm::cl::value_desc("CXX"), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> toolchain("toolchain", llvm::cl::desc("CMake toolchain file for --build (cross compiling)"),
                                     llvm::cl::value_desc("FILE"), llvm::cl::sub(CompileCmd), llvm::cl::cat(qccCategory()));

bool isCIdentifier(const std::string &s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

int64_t batchOf(const Graph &g) {
  return g.inputs.empty() || g.inputs[0]->type.shape.empty() ? 1 : g.inputs[0]->type.shape[0];
}

/// Float-interpreter statistics of `samples` samples of `data`, on all cores.
llvm::Expected<Profile> calibrateOn(const Graph &g, const Dataset &data, int64_t samples) {
  auto stats =
      collectStatistics(g, samples / batchOf(g), [&](int64_t b) { return sliceBatch(data, g, b); });
  if (!stats)
    return stats.takeError();
  Profile p;
  p.modelFile = llvm::sys::path::filename(model).str();
  p.graphHash = graphHash(g);
  p.samples = samples;
  p.tensors = std::move(*stats);
  return p;
}

/// What backends/cpp and the runtime_stub kernels can emit: conv / fully
/// connected kernels take 8-bit inputs (runtime_stub/qcc/gemm_core.h) but
/// backends/cpp does not check it. A wider input is refused here, naming the
/// node, rather than emitted wrongly.
/// The name to give --precision to change the grid of integer value x: the
/// node computing it (through data movement), or the graph input it quantizes.
std::string gridOwner(const Value *x) {
  while (x->producer && x->producer->domain.empty() && x->producer->op != "QuantizeLinear" && x->producer->input(0))
    x = x->producer->input(0);
  if (!x->producer)
    return x->name;
  if (x->producer->op == "QuantizeLinear") {
    const Value *f = x->producer->input(0); // a graph input or a float island's output
    return f->producer ? f->producer->name : f->name;
  }
  return x->producer->name;
}

llvm::Error checkCpuWidths(const Graph &g) {
  for (const auto &n : g.nodes()) {
    if (n->domain != "qcc" || (n->op != "QConv" && n->op != "QGemm"))
      continue;
    const Value *x = n->input(0);
    if (x && x->type.elem.storageBytes() != 1)
      return nodeError(*n, "--target cpu: the kernel library's {} kernel takes 8-bit inputs, this input is {} "
                       "(give it at most 8 bits with --precision {}=A8, or use --target none)",
                       n->op == "QConv" ? "convolution" : "fully connected", x->type.elem.str(), gridOwner(x));
  } // wider weights: backends/cpp refuses them itself
  return llvm::Error::success();
}

llvm::Error writeText(const fs::path &path, const std::string &text) {
  std::ofstream f(path);
  f << text;
  if (!f)
    return makeError("{}: cannot write", path.string());
  return llvm::Error::success();
}

/// Writes into a fresh sibling folder and renames it over OUT at the end, so
/// a failure leaves nothing half written. An existing OUT is replaced only if
/// it holds a previous qcc output.
llvm::Error checkOutputFolder(const fs::path &out) {
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && (fs::is_empty(out, ec) || fs::exists(out / "model.qcc.onnx", ec))))
    return makeError("{}: exists and is not a qcc output folder; choose another -o", out.string());
  return llvm::Error::success();
}

} // namespace

int runCompile() {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  const fs::path out = output.getValue();
  if (auto e = checkOutputFolder(out))
    return reportError(std::move(e));
  auto m = parseMethod(method);
  if (!m)
    return reportError(makeError("--calib-method '{}': expected minmax, percentile, entropy or mse", std::string(method)));
  auto r = parseRounding(rounding);
  if (!r)
    return reportError(withContext(r.takeError(), "--rounding"));
  if (calib.empty() && profilePath.empty())
    return reportError(makeError("give calibration data with --calib DATA (or a profile with --profile)"));
  if (target != "cpu" && target != "none")
    return reportError(makeError("--target '{}': expected cpu or none", std::string(target)));
  if (weightsMode != "embedded" && weightsMode != "external")
    return reportError(makeError("--weights '{}': expected embedded or external", std::string(weightsMode)));
  if (build && target == "none")
    return reportError(makeError("--build needs a library: drop --target none"));
  if (auto e = checkBits(weightBits, "--weight-bits"))
    return reportError(std::move(e));
  if (auto e = checkBits(actBits, "--act-bits"))
    return reportError(std::move(e));
  auto overrides = parsePrecisionOptions(precision);
  if (!overrides)
    return reportError(overrides.takeError());
  const std::string name = libName.empty() ? cpp::libraryNameFor(model) : std::string(libName);
  if (!isCIdentifier(name))
    return reportError(makeError("--name '{}': must be a C identifier", name));
  auto g = loadModelWithShapes(model, shapes);
  if (!g)
    return reportError(g.takeError());
  const auto loadedNodes = nodeOrigins(**g);
  // `qcc calibrate` runs the same pipeline: profiles are keyed by value names.
  if (auto e = runPasses(**g, canonicalizePipeline(), /*verify=*/true))
    return reportError(withContext(std::move(e), std::string(model)));
  const Graph &graph = **g;
  std::vector<std::string> precisionNotes;
  auto nodePrecision = resolvePrecisionNodes(*overrides, loadedNodes, graph, precisionNotes);
  if (!nodePrecision)
    return reportError(withContext(nodePrecision.takeError(), std::string(model)));
  for (const std::string &note : precisionNotes)
    llvm::errs() << "qcc: " << note << "\n";

  std::optional<Dataset> data;
  int64_t samples = 0;
  if (!calib.empty()) {
    auto d = loadDataset(calib, graph);
    if (!d)
      return reportError(d.takeError());
    data = std::move(*d);
    samples = data->samples;
    if (calibSamples < 0 || calibSamples > samples || (calibSamples && calibSamples % batchOf(graph)))
      return reportError(makeError("--calib-samples {}: {} holds {} samples (batch {})", int(calibSamples),
                                   std::string(calib), samples, batchOf(graph)));
    if (calibSamples)
      samples = calibSamples;
  }
  Profile profile;
  if (!profilePath.empty()) {
    auto p = readProfile(profilePath);
    if (!p)
      return reportError(p.takeError());
    if (auto e = checkProfileMatches(*p, graph, profilePath))
      return reportError(std::move(e));
    profile = std::move(*p);
  } else {
    llvm::errs() << fmt::format("qcc: calibrating on {} samples...\n", samples);
    auto p = calibrateOn(graph, *data, samples);
    if (!p)
      return reportError(withContext(p.takeError(), std::string(model)));
    profile = std::move(*p);
  }
  profile.method = *m;
  profile.percentile = percentile;
  // QONNX models: Quant nodes become the model's own integer grids (the
  // profile, keyed to the graph as loaded, still covers any float rest).
  // What the model leaves float (an unquantized input or weights) gets qcc's
  // own 8-bit grid from these ranges, listed as such.
  auto ranges = rangesFor(profile, *m, percentile);
  if (!ranges)
    return reportError(ranges.takeError());
  std::vector<std::string> qccQuantized;
  if (auto e = lowerQonnxModel(**g, model, &*ranges, &qccQuantized))
    return reportError(std::move(e));

  QuantizeOptions qo;
  qo.rounding = *r;
  qo.perChannelWeights = !perTensor;
  qo.actUnsigned = actUint8;
  qo.actSymmetric = actSymmetric;
  qo.weightBits = unsigned(weightBits);
  qo.actBits = unsigned(actBits);
  qo.nodePrecision = *nodePrecision;
  auto q = quantizeGraph(graph, *ranges, qo);
  if (!q)
    return reportError(withContext(q.takeError(), std::string(model)));
  if (target == "cpu")
    if (auto e = checkCpuWidths(*q->graph))
      return reportError(withContext(std::move(e), std::string(model)));

  std::map<std::string, LayerAccuracy> acc;
  if (data) {
    int64_t n = std::min<int64_t>(samples, std::max(int(reportSamples), 0));
    n -= n % batchOf(graph);
    auto a = measureLayers(graph, *q, *data, n);
    if (!a)
      return reportError(withContext(a.takeError(), "per-layer comparison"));
    acc = std::move(*a);
  }
  llvm::json::Object settings{{"rounding", std::string(rounding)},
                              {"calib_method", std::string(method)},
                              {"percentile", double(percentile)},
                              {"calib_samples", samples}};
  writePrecisionSettings(qo, settings); // weights, activations, their widths, per-node overrides
  llvm::json::Object report = buildReport(graph, *q, acc, settings);
  if (!qccQuantized.empty()) {
    llvm::json::Array a;
    for (const std::string &s : qccQuantized)
      a.push_back(s);
    report["quantized_by_qcc"] = std::move(a);
  }

  fs::path tmp = out.string() + fmt::format(".tmp-{}", ::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec)
    return reportError(makeError("{}: cannot create ({})", tmp.string(), ec.message()));
  auto fail = [&](llvm::Error e) {
    fs::remove_all(tmp, ec);
    return reportError(std::move(e));
  };
  std::optional<cpp::LibraryInfo> lib;
  if (target == "cpu") {
    cpp::EmitOptions eo;
    eo.name = name;
    eo.externalWeights = weightsMode == "external";
    auto l = cpp::emitCppLibrary(*q->graph, eo, tmp.string());
    if (!l)
      return fail(withContext(l.takeError(), fmt::format("{} (--target cpu; --target none writes the integer graph only)",
                                                         std::string(model))));
    lib = std::move(*l);
    report["library"] = cpp::libraryReportJson(*lib);
  }
  if (auto e = writeOnnx(*q->graph, (tmp / "model.qcc.onnx").string()))
    return fail(std::move(e));
  if (auto e = writeText(tmp / "model.qir", printGraph(*q->graph)))
    return fail(std::move(e));
  if (auto e = writeProfile(profile, (tmp / "profile.json").string()))
    return fail(std::move(e));
  std::string json;
  llvm::raw_string_ostream js(json);
  js << llvm::formatv("{0:2}", llvm::json::Value(std::move(report)));
  js.flush();
  if (auto e = writeText(tmp / "report.json", json + "\n"))
    return fail(std::move(e));
  if (build && lib) {
    // Built in the staging folder too, so a failed build leaves no OUT.
    BuildOptions bo;
    bo.cxx = cxx;
    bo.toolchainFile = toolchain;
    bo.progress = true;
    auto a = buildLibrary(tmp.string(), lib->name, bo);
    if (!a)
      return fail(withContext(a.takeError(), "--build"));
    fs::remove_all(tmp / "build", ec); // CMake's cache names the staging path
  }
  fs::remove_all(out, ec);
  fs::rename(tmp, out, ec);
  if (ec)
    return fail(makeError("{}: cannot move the output into place ({})", out.string(), ec.message()));

  // A readable per-layer summary; report.json has every field.
  llvm::errs() << fmt::format("{:<40} {:<22} {:>8} {:>10}\n", "layer", "op", "out", "SQNR dB");
  for (const auto &n : q->graph->nodes()) {
    const Value *y = n->outputs.empty() ? nullptr : n->outputs[0];
    if (!y || !y->quant || n->op == "QuantizeLinear")
      continue;
    auto f = std::find_if(q->quantizedName.begin(), q->quantizedName.end(),
                          [&](const auto &kv) { return kv.second == y->name; });
    auto a = f == q->quantizedName.end() ? acc.end() : acc.find(f->first);
    std::string name = n->name.size() > 40 ? "..." + n->name.substr(n->name.size() - 37) : n->name;
    // The grid's width; a narrower grid in wider storage shows both (i4(i8)).
    std::string type = y->type.elem.str();
    if (y->type.elem.isInt() && y->quant->bits != y->type.elem.bits())
      type = fmt::format("{}{}({})", y->quant->isSigned ? 'i' : 'u', y->quant->bits, type);
    llvm::errs() << fmt::format("{:<40} {:<22} {:>8} {:>10}\n", name, n->domain.empty() ? n->op : n->domain + "::" + n->op,
                                type, a == acc.end() ? "-" : fmt::format("{:.1f}", a->second.sqnrDb()));
  }
  double worst = INFINITY;
  std::string worstName;
  for (const auto &[name, a] : acc)
    if (a.sqnrDb() < worst) {
      worst = a.sqnrDb();
      worstName = name;
    }
  llvm::errs() << fmt::format("qcc: compiled {} in {:.1f} s: {} integer nodes, {} float islands{}; wrote {}/\n",
                              std::string(model),
                              std::chrono::duration<double>(Clock::now() - start).count(), q->graph->nodes().size(),
                              q->floatIslands.size(),
                              worstName.empty() ? "" : fmt::format(", lowest layer SQNR {:.1f} dB ({})", worst, worstName),
                              out.string());
  for (const auto &s : q->floatIslands)
    llvm::errs() << "  float island: " << s << "\n";
  if (lib)
    llvm::errs() << fmt::format("qcc: library {}: {}.h, {}.cpp; arena {} bytes (activations side by side {}, largest live "
                                "set {}), {}{}\n",
                                lib->name, lib->name, lib->name, lib->arena.arenaBytes, lib->arena.sumBytes,
                                lib->arena.maxLiveBytes, cpp::weightSummary(*lib),
                                weightsMode == "external" ? fmt::format(" in {}.weights.bin", lib->name) : "");
  if (build && lib)
    llvm::errs() << fmt::format("qcc: built {}/lib{}.a\n", out.string(), lib->name);
  return 0;
}

} // namespace qcc
