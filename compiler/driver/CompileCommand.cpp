// qcc compile (work in progress).
#include "driver/Commands.h"

#include <llvm/Support/raw_ostream.h>

namespace qcc {

llvm::cl::SubCommand CompileCmd("compile", "(not implemented yet)");

int runCompile() {
  llvm::errs() << "qcc: error: 'compile' is not implemented yet\n";
  return 2;
}

} // namespace qcc
