// qcc calibrate (work in progress).
#include "driver/Commands.h"

#include <llvm/Support/raw_ostream.h>

namespace qcc {

llvm::cl::SubCommand CalibrateCmd("calibrate", "(not implemented yet)");

int runCalibrate() {
  llvm::errs() << "qcc: error: 'calibrate' is not implemented yet\n";
  return 2;
}

} // namespace qcc
