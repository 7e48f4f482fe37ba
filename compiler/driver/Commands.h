// Subcommands of the qcc CLI. Each lives in its own file and declares its
// llvm::cl options in its own llvm::cl::SubCommand.
#pragma once

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/Error.h>

namespace qcc {

llvm::cl::OptionCategory &qccCategory();

/// Runs whichever subcommand the command line selected; returns the exit code.
int dispatchCommand();

int runInspect();
int runRun();
int runCalibrate();
int runCompile();
int runCompare();
int runBench();
extern llvm::cl::SubCommand InspectCmd;
extern llvm::cl::SubCommand RunCmd;
extern llvm::cl::SubCommand CalibrateCmd;
extern llvm::cl::SubCommand CompileCmd;
extern llvm::cl::SubCommand CompareCmd;
extern llvm::cl::SubCommand BenchCmd;

/// Prints "qcc: error: <message>" and returns 2.
int reportError(llvm::Error e);

} // namespace qcc
