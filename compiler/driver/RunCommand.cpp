// qcc run MODEL --input DATA -o OUT.npy: the float reference interpreter over
// every sample of DATA, batch by batch; outputs are stacked along axis 0.
#include "driver/Commands.h"
#include "driver/DataIO.h"
#include "driver/ModelOptions.h"
#include "driver/ModelPath.h"
#include "interp/Interpreter.h"
#include "passes/Pass.h"
#include "support/Error.h"

#include <llvm/Support/raw_ostream.h>

#include <chrono>
#include <fmt/format.h>

namespace qcc {

llvm::cl::SubCommand RunCmd("run", "Run the float reference interpreter on data");

namespace {
llvm::cl::opt<std::string> model(llvm::cl::Positional, llvm::cl::desc("MODEL.onnx"), llvm::cl::Required,
                                 llvm::cl::sub(RunCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> input("input", llvm::cl::desc("Input data: .npy (batch first), .npz or a folder of .pb"),
                                 llvm::cl::value_desc("DATA"), llvm::cl::Required, llvm::cl::sub(RunCmd),
                                 llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> output("o", llvm::cl::desc("Output file: .npy (first output) or .npz (all outputs)"),
                                  llvm::cl::value_desc("OUT"), llvm::cl::Required, llvm::cl::sub(RunCmd),
                                  llvm::cl::cat(qccCategory()));
llvm::cl::list<std::string> shapes("input-shape", llvm::cl::desc("Fix an input's shape: NAME=1x3x224x224"),
                                   llvm::cl::value_desc("NAME=DIMS"), llvm::cl::sub(RunCmd),
                                   llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> passes("passes",
                                  llvm::cl::desc("Passes to run after import: canonicalize, none (default), or a "
                                                 "comma-separated list of pass names"),
                                  llvm::cl::value_desc("LIST"), llvm::cl::init("none"), llvm::cl::sub(RunCmd),
                                  llvm::cl::cat(qccCategory()));
} // namespace

int runRun() {
  auto g = loadModelWithShapes(resolveModelPath(model), shapes);
  if (!g)
    return reportError(g.takeError());
  auto passNames = parsePassList(passes);
  if (!passNames)
    return reportError(passNames.takeError());
  if (auto e = runPasses(**g, *passNames, /*verify=*/true))
    return reportError(withContext(std::move(e), model));
  const Graph &graph = **g;
  auto data = loadDataset(input, graph);
  if (!data)
    return reportError(data.takeError());
  auto interp = Interpreter::create(graph);
  if (!interp)
    return reportError(withContext(interp.takeError(), model));
  int64_t batch = graph.inputs.empty() || graph.inputs[0]->type.shape.empty() ? 1 : graph.inputs[0]->type.shape[0];
  int64_t batches = data->samples / batch;
  std::vector<std::vector<Tensor>> perOutput(graph.outputs.size());
  auto start = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < batches; ++b) {
    auto outs = interp->run(sliceBatch(*data, graph, b));
    if (!outs)
      return reportError(withContext(outs.takeError(), model));
    for (size_t i = 0; i < outs->size(); ++i)
      perOutput[i].push_back(std::move((*outs)[i]));
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::vector<Tensor> stacked;
  std::vector<std::string> names;
  for (size_t i = 0; i < perOutput.size(); ++i) {
    stacked.push_back(stackBatches(perOutput[i]));
    names.push_back(graph.outputs[i]->name);
  }
  if (auto e = writeTensors(output, names, stacked))
    return reportError(std::move(e));
  llvm::errs() << fmt::format("qcc: ran {} samples in {:.1f} ms ({:.2f} ms/sample); wrote {} ({})\n", data->samples,
                              ms, ms / double(data->samples), std::string(output), stacked[0].type().str());
  return 0;
}

} // namespace qcc
