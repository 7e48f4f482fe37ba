// Building what the C++ backend wrote: the static library (`qcc compile
// --build`) and the host runner that `qcc compare` and `qcc bench` execute.
// Both go through CMake and the system's C++ compiler; qcc carries the runner's
// sources itself (support/Embedded.h), so no source tree is needed.
#pragma once

#include <llvm/Support/Error.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qcc {

struct BuildOptions {
  std::string cxx;           ///< C++ compiler (--cxx); empty: $CXX, else c++
  std::string toolchainFile; ///< CMake toolchain file (cross compilation)
  std::string buildType = "Release";
  bool sanitize = false;     ///< build with -fsanitize=address,undefined
  bool progress = false;     ///< say on stderr what is being built
};

/// Configures and builds OUT with CMake in OUT/build and copies the archive to
/// OUT/libNAME.a, whose path it returns. Errors carry the tool's output tail.
llvm::Expected<std::string> buildLibrary(const std::string &outDir, const std::string &name, const BuildOptions &o);

/// Builds the host runner (runtime_stub/host/runner.cpp + npy.cpp) linked with
/// OUT's library into workDir (a CMake project that adds OUT as a
/// subdirectory, so the library is built with its own flags). Returns the
/// executable's path. OUT itself is not written.
llvm::Expected<std::string> buildRunner(const std::string &outDir, const std::string &name, const std::string &workDir,
                                        const BuildOptions &o);

/// What OUT/library.json says about the library `qcc compile` wrote.
struct LibraryManifest {
  std::string name;
  int64_t arenaBytes = 0, weightBytes = 0;
  bool weightsExternal = false;
  std::string weightsFile; ///< OUT/NAME.weights.bin when external, else empty
};

/// Reads OUT/library.json and checks that the files the build needs are there
/// (NAME.h, CMakeLists.txt, the weights); errors name the missing file.
llvm::Expected<LibraryManifest> readLibraryManifest(const std::string &outDir);

/// Runs argv[0] (looked up in PATH) with stdout and stderr sent to the given
/// files (empty: inherited). Returns the exit status; a signal is reported as
/// 128 + its number. An error only when the program cannot be started.
llvm::Expected<int> runProgram(const std::vector<std::string> &argv, const std::string &stdoutFile,
                               const std::string &stderrFile);

/// The last `maxLines` lines of a text file (for error messages).
std::string fileTail(const std::string &path, size_t maxLines = 30);

/// A fresh directory under the system's temporary folder, removed with
/// everything in it when the object dies.
class TempDir {
public:
  static llvm::Expected<TempDir> create(const std::string &prefix);
  TempDir(TempDir &&o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir &operator=(TempDir &&) = delete;
  TempDir(const TempDir &) = delete;
  ~TempDir();
  const std::string &path() const { return path_; }

private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

/// The folder runners are built in: `requested` (created if needed), or a
/// fresh temporary one named after `prefix`, owned by `tmp` and removed with it.
llvm::Expected<std::string> workFolder(const std::string &requested, const std::string &prefix,
                                       std::optional<TempDir> &tmp);

} // namespace qcc
