// The pass framework: each pass is one small rewrite of the Graph with one job,
// declared here (name, summary, entry point) and implemented in its own file.
// The file, the command-line flag and the golden test share the pass's name:
// FoldBatchNorm.cpp, `fold-batchnorm`, tests/passes/fold-batchnorm.txt.
//
// A pass returns an llvm::Error for a model it cannot handle (naming the node);
// it never aborts. runPasses() removes dead code after each pass and, when asked,
// runs the verifier so that a test names the pass that broke the IR.
#pragma once

#include "ir/Graph.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/Support/Error.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qcc {

/// Rewrite counts, for the compile report and tests.
struct PassStats {
  /// pass name -> rewrites it made (a pass listed twice in a pipeline adds up)
  std::map<std::string, int64_t> rewrites;
  /// "pass: what" -> count, e.g. "fuse-activations: Clip into Conv"
  std::map<std::string, int64_t> details;
  /// The pass now running (set by runPasses; passes call count()).
  std::string current;

  /// Records one rewrite (or n) of the current pass, optionally with a detail.
  void count(const std::string &detail = "", int64_t n = 1);
  /// Rewrites of one pass (0 when it never ran or changed nothing).
  int64_t of(const std::string &pass) const;
  /// "fold-batchnorm 4, fuse-activations 3" (passes with rewrites only), or
  /// "no rewrites".
  std::string summary() const;
};

struct PassInfo {
  const char *name;    ///< the flag: "fold-batchnorm"
  const char *summary; ///< one line for --help and reports
  llvm::Error (*run)(Graph &, PassStats &);
};

/// Every registered pass, in a stable order.
llvm::ArrayRef<PassInfo> allPasses();
/// The pass called `name`, or null.
const PassInfo *findPass(const std::string &name);

/// The default canonicalization pipeline, in order (a name may appear twice).
std::vector<std::string> canonicalizePipeline();

/// Parses a --passes value: "canonicalize" (the default pipeline), "none", or a
/// comma-separated list of pass names. Unknown names are an error that lists
/// the known ones.
llvm::Expected<std::vector<std::string>> parsePassList(const std::string &spec);

/// Runs the named passes in order; dead code is removed after each. With
/// `verify`, verifyGraph runs after each pass and a failure names the pass.
llvm::Error runPasses(Graph &g, llvm::ArrayRef<std::string> names, bool verify, PassStats *stats = nullptr);
/// The same for passes given directly (tests run passes that are not registered).
llvm::Error runPassList(Graph &g, llvm::ArrayRef<const PassInfo *> passes, bool verify, PassStats *stats = nullptr);

// ---- the passes (one file each) --------------------------------------------
const PassInfo &foldConstantsPass();   // FoldConstants.cpp
const PassInfo &removeIdentityPass();  // RemoveIdentity.cpp
const PassInfo &foldBatchNormPass();   // FoldBatchNorm.cpp
const PassInfo &fuseMatMulAddPass();   // FuseMatMulAdd.cpp
const PassInfo &fuseLayerNormPass();   // FuseLayerNorm.cpp
const PassInfo &hoistActivationsPass(); // HoistActivations.cpp
const PassInfo &fuseActivationsPass(); // FuseActivations.cpp

} // namespace qcc
