// qcc inspect MODEL [--ir] [--input-shape NAME=DIMS] [--passes LIST]
#include "driver/Commands.h"
#include "driver/Inspect.h"
#include "driver/ModelOptions.h"
#include "driver/ModelPath.h"
#include "ir/Printer.h"
#include "passes/Pass.h"
#include "support/Error.h"

#include <llvm/Support/raw_ostream.h>

namespace qcc {

llvm::cl::SubCommand InspectCmd("inspect", "Print a model's layers, shapes, parameter counts and MACs");

namespace {
llvm::cl::opt<std::string> model(llvm::cl::Positional, llvm::cl::desc("MODEL.onnx"), llvm::cl::Required,
                                 llvm::cl::sub(InspectCmd), llvm::cl::cat(qccCategory()));
llvm::cl::opt<bool> printIR("ir", llvm::cl::desc("Print the IR text form instead of the layer table"),
                            llvm::cl::sub(InspectCmd), llvm::cl::cat(qccCategory()));
llvm::cl::list<std::string> shapes("input-shape", llvm::cl::desc("Fix an input's shape: NAME=1x3x224x224"),
                                   llvm::cl::value_desc("NAME=DIMS"), llvm::cl::sub(InspectCmd),
                                   llvm::cl::cat(qccCategory()));
llvm::cl::opt<std::string> passes("passes",
                                  llvm::cl::desc("Passes to run after import: canonicalize, none (default), or a "
                                                 "comma-separated list of pass names"),
                                  llvm::cl::value_desc("LIST"), llvm::cl::init("none"), llvm::cl::sub(InspectCmd),
                                  llvm::cl::cat(qccCategory()));
} // namespace

int runInspect() {
  auto g = loadModelWithShapes(resolveModelPath(model), shapes);
  if (!g)
    return reportError(g.takeError());
  auto names = parsePassList(passes);
  if (!names)
    return reportError(names.takeError());
  PassStats stats;
  if (auto e = runPasses(**g, *names, /*verify=*/true, &stats))
    return reportError(withContext(std::move(e), model));
  if (!names->empty())
    llvm::errs() << "qcc: passes: " << stats.summary() << "\n";
  llvm::outs() << (printIR ? printGraph(**g) : inspectReport(**g));
  return 0;
}

} // namespace qcc
