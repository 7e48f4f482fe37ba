#include "driver/Commands.h"

#include <llvm/Support/raw_ostream.h>

namespace qcc {

llvm::cl::OptionCategory &qccCategory() {
  static llvm::cl::OptionCategory cat("qcc options");
  return cat;
}

int reportError(llvm::Error e) {
  llvm::errs() << "qcc: error: " << llvm::toString(std::move(e)) << "\n";
  return 2;
}

int dispatchCommand() {
  if (InspectCmd)
    return runInspect();
  if (RunCmd)
    return runRun();
  if (CalibrateCmd)
    return runCalibrate();
  if (CompileCmd)
    return runCompile();
  if (CompareCmd)
    return runCompare();
  if (BenchCmd)
    return runBench();
  llvm::errs() << "qcc: error: no command given; try 'qcc --help'\n";
  return 2;
}

} // namespace qcc
