// The C++ backend (target `cpu`): writes a standalone library for the integer
// graph `qcc compile` produced. See DESIGN.md "The generated library".
//
//   OUT/NAME.h            C API: shapes, arena size, entry points, status codes
//   OUT/NAME.cpp          one kernel call per layer, commented with the ONNX node
//   OUT/NAME_weights.cpp  every constant in one 64-byte aligned blob (or
//   OUT/NAME.weights.bin  with external weights, passed in by pointer)
//   OUT/qcc/*.h           the kernel headers (runtime_stub/qcc)
//   OUT/CMakeLists.txt    static library NAME
//   OUT/library.json      what the driver, compare and bench read back
//
// Activations live in one arena planned at compile time (MemoryPlan.h);
// 4-D activations are NHWC inside, the API speaks the model's layout.
#pragma once

#include "backends/cpp/MemoryPlan.h"
#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <string>
#include <vector>

namespace qcc::cpp {

struct EmitOptions {
  std::string name;             ///< C identifier used as prefix and library name
  bool externalWeights = false; ///< NAME.weights.bin instead of NAME_weights.cpp
};

struct PortInfo {
  std::string name;    ///< graph input / output name
  Shape shape;         ///< model layout
  std::string ctype;   ///< quantized element type, e.g. "int8_t"
  float scale = 1.f;
  int64_t zeroPoint = 0;
  int64_t qmin = 0, qmax = 0; ///< range of the quantized element type (its bits, not its storage)
};

struct LayerInfo {
  std::string node, op;
  int64_t weightBytes = 0; ///< packed weights, bias, requantization tables
};

struct LibraryInfo {
  std::string name;
  std::vector<PortInfo> inputs, outputs;
  ArenaStats arena;
  int64_t weightBytes = 0;
  std::vector<LayerInfo> layers;
};

/// A C identifier from a model file name ("mobilenet-v2.onnx" -> "mobilenet_v2").
std::string libraryNameFor(const std::string &modelPath);

/// Writes the library into outDir (which must exist). Fails, naming the node
/// and op, for anything the backend cannot express; nothing is written then.
llvm::Expected<LibraryInfo> emitCppLibrary(const Graph &g, const EmitOptions &o, const std::string &outDir);

} // namespace qcc::cpp
