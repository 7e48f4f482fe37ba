// qcc command line: inspect, run, calibrate, compile, compare, bench.
// Exit codes: 0 success, 1 a compare threshold failed,
// 2 bad input or usage.
#include "driver/Commands.h"

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/raw_ostream.h>

#include <cstring>
#include <exception>
#include <new>

int main(int argc, char **argv) {
  using namespace llvm;
  cl::OptionCategory &cat = qcc::qccCategory();
  cl::HideUnrelatedOptions(cat);
  for (cl::SubCommand *sub : cl::getRegisteredSubcommands())
    cl::HideUnrelatedOptions(cat, *sub);
  cl::SetVersionPrinter([](raw_ostream &os) { os << "qcc " << QCC_VERSION << "\n"; });
  std::string parseErrors;
  raw_string_ostream errs(parseErrors);
  if (!cl::ParseCommandLineOptions(argc, argv,
                                   "qcc: an ahead-of-time quantizing model compiler\n\n"
                                   "  qcc inspect MODEL|OUT            print layers, shapes, parameters, MACs\n"
                                   "  qcc run MODEL|OUT --input X -o Y run the float model or a compiled one\n"
                                   "  qcc calibrate MODEL --calib X -o P.json   collect calibration statistics\n"
                                   "  qcc compile MODEL --calib X -o OUT        quantize; write the integer graph and a C++ library\n"
                                   "  qcc compare MODEL OUT --data X [--labels Y] build OUT, compare with float and the integer reference\n"
                                   "  qcc bench OUT [--iters N]                 time the generated library on one thread\n\n"
                                   "Run 'qcc <command> --help' for a command's options.\n",
                                   &errs)) {
    errs.flush();
    llvm::errs() << parseErrors;
    return 2;
  }
  // Library code returns errors; this only catches what the C++ runtime throws
  // (allocation failure on absurd sizes) so that it still exits 2 with a message.
  try {
    return qcc::dispatchCommand();
  } catch (const std::bad_alloc &) {
    llvm::errs() << "qcc: error: out of memory (the model or data asks for more memory than is available)\n";
  } catch (const std::exception &e) {
    llvm::errs() << "qcc: error: " << e.what() << "\n";
  }
  return 2;
}
