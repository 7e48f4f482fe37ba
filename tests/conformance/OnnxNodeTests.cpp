// Runs the ONNX backend node tests (Debian libonnx-testdata) through the qcc
// frontend and float interpreter. A case is skipped when its model uses an op
// qcc does not register, an element type qcc does not model (float16,
// string, ...), or a zero-sized input (qcc compiles non-empty static tensors);
// every other case must match the expected outputs.
//
//   qcc_onnx_node_tests [--data DIR] [--filter SUBSTR] [--verbose]
//
// Binding: the first graph input stays a runtime input; the other inputs are
// bound as constants, as weights, shapes and axes are in real models.
#include "frontend/OnnxLoader.h"
#include "frontend/TensorProto.h"
#include "interp/Interpreter.h"
#include "ops/OpRegistry.h"

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace fs = std::filesystem;
using namespace qcc;

namespace {

struct Counts {
  int passed = 0, failed = 0, skipped = 0;
};

bool readModel(const fs::path &p, onnx::ModelProto &m) {
  std::ifstream f(p, std::ios::binary);
  return f && m.ParseFromIstream(&f);
}

// Compares with the ONNX backend test tolerances (rtol 1e-3, atol 1e-7), plus
// a small absolute floor for float32 rounding of values near zero.
std::string compare(const Tensor &got, const Tensor &want) {
  if (got.shape() != want.shape())
    return fmt::format("shape [{}] != expected [{}]", fmt::join(got.shape(), ","), fmt::join(want.shape(), ","));
  if (got.elem() != want.elem())
    return fmt::format("type {} != expected {}", got.elem().str(), want.elem().str());
  for (int64_t i = 0; i < got.size(); ++i) {
    double g = got.getDouble(i), w = want.getDouble(i);
    if (std::isnan(w) && std::isnan(g))
      continue;
    if (got.elem().isFloat() ? std::fabs(g - w) > 1e-3 * std::fabs(w) + 1e-5 : g != w)
      return fmt::format("element {}: got {} expected {}", i, g, w);
  }
  return "";
}

} // namespace

int main(int argc, char **argv) {
  std::string dataDir = "/usr/share/libonnx-testdata/data/node";
  std::string filter;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--data" && i + 1 < argc)
      dataDir = argv[++i];
    else if (a == "--filter" && i + 1 < argc)
      filter = argv[++i];
    else if (a == "--verbose")
      verbose = true;
    else {
      fmt::print(stderr, "usage: {} [--data DIR] [--filter SUBSTR] [--verbose]\n", argv[0]);
      return 2;
    }
  }
  if (!fs::is_directory(dataDir)) {
    fmt::print(stderr, "error: {} not found (install Debian's libonnx-testdata)\n", dataDir);
    return 2;
  }
  std::vector<fs::path> cases;
  for (auto &e : fs::directory_iterator(dataDir))
    if (e.is_directory() && e.path().filename().string().find(filter) != std::string::npos)
      cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());

  const OpRegistry &reg = OpRegistry::get();
  std::map<std::string, Counts> perOp;
  Counts total;
  std::vector<std::string> failures;
  std::map<std::string, int> skipReasons;
  for (const fs::path &dir : cases) {
    std::string name = dir.filename().string();
    onnx::ModelProto m;
    if (!readModel(dir / "model.onnx", m)) {
      fmt::print(stderr, "error: {}: unreadable model\n", name);
      return 2;
    }
    std::string op, missing;
    for (const auto &n : m.graph().node()) {
      // Counted under the first op that is not a Constant (function-expanded
      // cases start with Constant nodes).
      if (op.empty() || op == "Constant")
        op = n.op_type();
      if (!reg.lookup(n.domain(), n.op_type()))
        missing = n.op_type();
    }
    if (!missing.empty()) {
      total.skipped++;
      perOp[op].skipped++;
      skipReasons["op " + missing + " not supported"]++;
      continue;
    }
    // Every test_data_set_N is one case.
    std::vector<fs::path> sets;
    for (auto &e : fs::directory_iterator(dir))
      if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
        sets.push_back(e.path());
    std::sort(sets.begin(), sets.end());
    std::string error;
    bool skippedType = false;
    for (const fs::path &set : sets) {
      LoadOptions opts;
      std::vector<Tensor> runtimeInputs;
      int k = 0;
      for (const auto &in : m.graph().input()) {
        if (!in.type().has_tensor_type()) {
          error = "non-tensor input";
          break;
        }
        bool isInit = false;
        for (const auto &init : m.graph().initializer())
          isInit |= init.name() == in.name();
        if (isInit)
          continue;
        fs::path pb = set / fmt::format("input_{}.pb", k++);
        auto t = readTensorPb(pb.string());
        if (!t) {
          error = llvm::toString(t.takeError());
          break;
        }
        bool runtime = runtimeInputs.empty() && opts.bindInputs.empty();
        if (runtime && t->size() == 0) {
          error = "zero-sized input";
          break;
        }
        if (runtime) {
          opts.inputShapes[in.name()] = t->shape();
          runtimeInputs.push_back(*t);
        } else {
          opts.bindInputs[in.name()] = *t;
        }
      }
      if (!error.empty())
        break;
      if (!runtimeInputs.empty() && runtimeInputs[0].shape().empty()) {
        // A 0-d runtime input: bind it too (qcc inputs carry a batch axis).
        opts.bindInputs[m.graph().input(0).name()] = runtimeInputs[0];
        opts.inputShapes.clear();
        runtimeInputs.clear();
      }
      auto g = loadOnnx((dir / "model.onnx").string(), opts);
      if (!g && !runtimeInputs.empty()) {
        // Ops whose first input must be constant in a static graph
        // (ConstantOfShape's shape, ...): bind every input and retry.
        std::string first = llvm::toString(g.takeError());
        if (first.find("must be a constant") == std::string::npos) {
          error = first;
          break;
        }
        opts.bindInputs[m.graph().input(0).name()] = runtimeInputs[0];
        opts.inputShapes.clear();
        runtimeInputs.clear();
        g = loadOnnx((dir / "model.onnx").string(), opts);
      }
      if (!g) {
        error = llvm::toString(g.takeError());
        break;
      }
      auto interp = Interpreter::create(**g);
      if (!interp) {
        error = llvm::toString(interp.takeError());
        break;
      }
      auto outs = interp->run(runtimeInputs);
      if (!outs) {
        error = llvm::toString(outs.takeError());
        break;
      }
      for (size_t i = 0; i < outs->size(); ++i) {
        auto want = readTensorPb((set / fmt::format("output_{}.pb", i)).string());
        if (!want) {
          error = llvm::toString(want.takeError());
          break;
        }
        std::string diff = compare((*outs)[i], *want);
        if (!diff.empty()) {
          error = fmt::format("output {}: {}", i, diff);
          break;
        }
      }
      if (!error.empty())
        break;
    }
    if (error.find("unsupported element type") != std::string::npos) {
      skippedType = true;
      skipReasons["element type not modelled (float16, string, ...)"]++;
    } else if (error == "non-tensor input") {
      skippedType = true;
      skipReasons["sequence / optional inputs (not modelled)"]++;
    } else if (error.find("training_mode") != std::string::npos || error.find("training-mode") != std::string::npos) {
      skippedType = true;
      skipReasons["training mode (qcc compiles inference graphs)"]++;
    } else if (error == "zero-sized input") {
      // qcc compiles fixed, non-empty tensors; an empty input is refused by design.
      skippedType = true;
      skipReasons["zero-sized input tensor (refused by design)"]++;
    }
    Counts &c = perOp[op];
    if (skippedType) {
      c.skipped++;
      total.skipped++;
    } else if (error.empty()) {
      c.passed++;
      total.passed++;
      if (verbose)
        fmt::print("PASS {}\n", name);
    } else {
      c.failed++;
      total.failed++;
      failures.push_back(fmt::format("FAIL {}: {}", name, error));
    }
  }
  fmt::print("ONNX backend node tests ({})\n", dataDir);
  fmt::print("{:<28} {:>6} {:>6} {:>7}\n", "op", "passed", "failed", "skipped");
  for (const auto &[op, c] : perOp)
    if (c.passed || c.failed)
      fmt::print("{:<28} {:>6} {:>6} {:>7}\n", op, c.passed, c.failed, c.skipped);
  fmt::print("\nskipped:\n");
  for (const auto &[why, n] : skipReasons)
    if (verbose || why.rfind("op ", 0) != 0)
      fmt::print("  {:>4}  {}\n", n, why);
  int unsupportedOps = 0;
  for (const auto &[why, n] : skipReasons)
    if (why.rfind("op ", 0) == 0)
      unsupportedOps += n;
  fmt::print("  {:>4}  cases of ops qcc does not support (--verbose lists them)\n", unsupportedOps);
  for (const auto &f : failures)
    fmt::print("{}\n", f);
  fmt::print("\n{} passed, {} failed, {} skipped\n", total.passed, total.failed, total.skipped);
  return total.failed ? 1 : 0;
}
