#include "driver/BuildLibrary.h"

#include "support/Embedded.h"
#include "support/Error.h"

#include <llvm/Support/JSON.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace fs = std::filesystem;

namespace qcc {

namespace {

/// PATH lookup (a name with a '/' is taken as a path). Empty if not found.
std::string findProgram(const std::string &name) {
  auto executable = [](const std::string &p) { return ::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p); };
  if (name.find('/') != std::string::npos)
    return executable(name) ? fs::absolute(name).string() : "";
  const char *path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos)
      end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string cand = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (executable(cand))
      return cand;
    start = end + 1;
  }
  return "";
}

llvm::Error writeFile(const fs::path &p, std::string_view text) {
  std::ofstream f(p, std::ios::binary);
  f.write(text.data(), std::streamsize(text.size()));
  if (!f)
    return makeError("{}: cannot write", p.string());
  return llvm::Error::success();
}

/// CMake's arguments for compiler, generator and build type.
llvm::Expected<std::vector<std::string>> configureArgs(const BuildOptions &o) {
  std::vector<std::string> args;
  if (findProgram("cmake").empty())
    return makeError("cmake not found in PATH (needed to build the generated library)");
  if (!findProgram("ninja").empty())
    args.insert(args.end(), {"-G", "Ninja"});
  args.push_back("-DCMAKE_BUILD_TYPE=" + o.buildType);
  std::string cxx = o.cxx;
  const char *envCxx = std::getenv("CXX");
  if (cxx.empty() && envCxx && *envCxx)
    cxx = envCxx;
  if (cxx.empty() && o.toolchainFile.empty())
    cxx = "c++";
  if (!cxx.empty()) {
    std::string found = findProgram(cxx);
    if (found.empty())
      return makeError("C++ compiler '{}' not found{}", cxx,
                       o.cxx.empty() ? (envCxx && *envCxx ? " (from $CXX)" : "; give one with --cxx") : " (--cxx)");
    args.push_back("-DCMAKE_CXX_COMPILER=" + found);
  }
  if (!o.toolchainFile.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(o.toolchainFile, ec))
      return makeError("{}: no such CMake toolchain file", o.toolchainFile);
    args.push_back("-DCMAKE_TOOLCHAIN_FILE=" + fs::absolute(o.toolchainFile).string());
  }
  return args;
}

/// Runs a build step with its output in `log`; on failure the error holds
/// the log's tail so the user sees the compiler's message.
llvm::Error step(const std::vector<std::string> &argv, const std::string &log, const std::string &what) {
  auto rc = runProgram(argv, log, log);
  if (!rc)
    return rc.takeError();
  if (*rc != 0)
    return makeError("{} failed (exit {}); the tool's last lines:\n{}", what, *rc, fileTail(log));
  return llvm::Error::success();
}

llvm::Error cmakeBuild(const std::string &src, const std::string &build, std::vector<std::string> configure,
                       const std::string &log, const std::string &what) {
  std::vector<std::string> argv = {"cmake", "-S", src, "-B", build};
  argv.insert(argv.end(), configure.begin(), configure.end());
  if (auto e = step(argv, log, "configuring " + what))
    return e;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  return step({"cmake", "--build", build, "-j", std::to_string(jobs)}, log + ".build", "building " + what);
}

/// Brackets a path for a CMake script (no escaping needed inside [==[ ]==]).
std::string cmakeQuote(const std::string &s) { return "[==[" + s + "]==]"; }

} // namespace

llvm::Expected<int> runProgram(const std::vector<std::string> &argv, const std::string &stdoutFile,
                               const std::string &stderrFile) {
  std::string prog = findProgram(argv.at(0));
  if (prog.empty())
    return makeError("{}: program not found", argv[0]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const int flags = O_WRONLY | O_CREAT | O_TRUNC;
  if (!stdoutFile.empty())
    posix_spawn_file_actions_addopen(&fa, 1, stdoutFile.c_str(), flags, 0644);
  if (!stderrFile.empty()) {
    if (stderrFile == stdoutFile)
      posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else
      posix_spawn_file_actions_addopen(&fa, 2, stderrFile.c_str(), flags, 0644);
  }
  std::vector<char *> cargv;
  for (const std::string &a : argv)
    cargv.push_back(const_cast<char *>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  int err = posix_spawn(&pid, prog.c_str(), &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0)
    return makeError("{}: cannot start ({})", prog, std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return makeError("{}: lost track of the process ({})", prog, std::strerror(errno));
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::string fileTail(const std::string &path, size_t maxLines) {
  std::ifstream f(path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(f, line)) {
    lines.push_back(line);
    if (lines.size() > maxLines)
      lines.pop_front();
  }
  std::string out;
  for (const std::string &l : lines)
    out += "  " + l + "\n";
  if (!out.empty())
    out.pop_back();
  return out;
}

llvm::Expected<TempDir> TempDir::create(const std::string &prefix) {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec)
    base = "/tmp";
  std::string templ = (base / (prefix + "-XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back(0);
  if (!::mkdtemp(buf.data()))
    return makeError("{}: cannot create a temporary folder ({})", templ, std::strerror(errno));
  return TempDir(std::string(buf.data()));
}

TempDir::~TempDir() {
  if (path_.empty())
    return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

llvm::Expected<LibraryManifest> readLibraryManifest(const std::string &outDir) {
  std::error_code ec;
  if (!fs::is_directory(outDir, ec))
    return makeError("{}: no such folder (expected the output of `qcc compile`)", outDir);
  fs::path json = fs::path(outDir) / "library.json";
  auto buf = llvm::MemoryBuffer::getFile(json.string());
  if (!buf)
    return makeError("{}: cannot read ({}); was OUT written by `qcc compile` with the C++ backend?", json.string(),
                     buf.getError().message());
  auto v = llvm::json::parse((*buf)->getBuffer());
  if (!v)
    return withContext(v.takeError(), json.string());
  const llvm::json::Object *o = v->getAsObject();
  LibraryManifest m;
  if (o)
    if (auto name = o->getString("name"))
      m.name = name->str();
  if (m.name.empty())
    return makeError("{}: no \"name\"", json.string());
  for (char c : m.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return makeError("{}: \"name\" '{}' is not a C identifier", json.string(), m.name);
  if (auto x = o->getInteger("arena_bytes"))
    m.arenaBytes = *x;
  if (auto x = o->getInteger("weight_bytes"))
    m.weightBytes = *x;
  if (auto x = o->getBoolean("weights_external"))
    m.weightsExternal = *x;
  std::vector<std::string> need = {m.name + ".h", m.name + ".cpp", "CMakeLists.txt"};
  if (m.weightsExternal) {
    m.weightsFile = (fs::path(outDir) / (m.name + ".weights.bin")).string();
    need.push_back(m.name + ".weights.bin");
  }
  for (const std::string &f : need)
    if (!fs::is_regular_file(fs::path(outDir) / f, ec))
      return makeError("{}: missing (library.json names the library '{}')", (fs::path(outDir) / f).string(), m.name);
  return m;
}

llvm::Expected<std::string> buildLibrary(const std::string &outDir, const std::string &name, const BuildOptions &o) {
  auto configure = configureArgs(o);
  if (!configure)
    return configure.takeError();
  fs::path out = fs::absolute(outDir);
  fs::path build = out / "build";
  std::error_code ec;
  fs::create_directories(build, ec);
  if (ec)
    return makeError("{}: cannot create ({})", build.string(), ec.message());
  if (o.progress)
    llvm::errs() << "qcc: building " << (out / ("lib" + name + ".a")).string() << "...\n";
  if (auto e = cmakeBuild(out.string(), build.string(), *configure, (build / "qcc-build.log").string(),
                          "the library in " + out.string()))
    return e;
  // Take the newest archive the build produced and put it beside the sources.
  const std::string archive = "lib" + name + ".a";
  fs::path found;
  for (auto it = fs::recursive_directory_iterator(build, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->path().filename() == archive && it->is_regular_file(ec))
      if (found.empty() || fs::last_write_time(it->path(), ec) > fs::last_write_time(found, ec))
        found = it->path();
  fs::path dest = out / archive;
  if (!found.empty()) {
    fs::copy_file(found, dest, fs::copy_options::overwrite_existing, ec);
    if (ec)
      return makeError("{}: cannot write ({})", dest.string(), ec.message());
  } else if (!fs::is_regular_file(dest, ec)) {
    return makeError("{}: the build succeeded but produced no {}", (out / "CMakeLists.txt").string(), archive);
  }
  return dest.string();
}

llvm::Expected<std::string> buildRunner(const std::string &outDir, const std::string &name, const std::string &workDir,
                                        const BuildOptions &o) {
  auto configure = configureArgs(o);
  if (!configure)
    return configure.takeError();
  fs::path out = fs::absolute(outDir);
  fs::path src = fs::absolute(workDir) / "src", build = fs::absolute(workDir) / "build";
  std::error_code ec;
  fs::create_directories(src, ec);
  fs::create_directories(build, ec);
  if (ec)
    return makeError("{}: cannot create ({})", workDir, ec.message());
  for (const char *f : {"host/runner.cpp", "host/npy.cpp", "host/npy.h"}) {
    const EmbeddedFile *e = findEmbeddedFile(f);
    if (!e)
      return makeError("this qcc was built without runtime_stub/{}", f);
    if (auto err = writeFile(src / fs::path(f).filename(), e->contents))
      return err;
  }
  // The library is added as a subdirectory: it builds with the flags its own
  // CMakeLists.txt sets, in this build tree, so OUT is not written.
  std::string cm = fmt::format(R"(# Generated by qcc: the host runner for library '{0}'.
cmake_minimum_required(VERSION 3.13)
project(qcc_runner CXX)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(QCC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
add_subdirectory({1} model)
# Keep the archive in this build tree even if OUT's CMakeLists.txt puts it in OUT.
set_target_properties({0} PROPERTIES ARCHIVE_OUTPUT_DIRECTORY ${{CMAKE_CURRENT_BINARY_DIR}}/model)
add_executable(qcc_runner runner.cpp npy.cpp)
target_compile_definitions(qcc_runner PRIVATE QCC_MODEL={0} [==[QCC_MODEL_HEADER="{0}.h"]==])
target_include_directories(qcc_runner PRIVATE {1})
target_link_libraries(qcc_runner PRIVATE {0})
)",
                               name, cmakeQuote(out.string()));
  if (auto e = writeFile(src / "CMakeLists.txt", cm))
    return e;
  configure->push_back(std::string("-DQCC_SANITIZE=") + (o.sanitize ? "ON" : "OFF"));
  if (o.progress)
    llvm::errs() << "qcc: building " << out.string() << " and its runner...\n";
  if (auto e = cmakeBuild(src.string(), build.string(), *configure, (fs::absolute(workDir) / "build.log").string(),
                          "the library in " + out.string() + " with the qcc runner"))
    return e;
  fs::path exe = build / "qcc_runner";
  if (!fs::is_regular_file(exe, ec))
    return makeError("{}: the build succeeded but left no runner", exe.string());
  return exe.string();
}

llvm::Expected<std::string> workFolder(const std::string &requested, const std::string &prefix,
                                       std::optional<TempDir> &tmp) {
  if (requested.empty()) {
    auto t = TempDir::create(prefix);
    if (!t)
      return t.takeError();
    tmp.emplace(std::move(*t));
    return tmp->path();
  }
  std::error_code ec;
  std::filesystem::create_directories(requested, ec);
  if (ec)
    return makeError("{}: cannot create ({})", requested, ec.message());
  return requested;
}

} // namespace qcc
