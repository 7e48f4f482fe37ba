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
  int64_t weightBytes = 0; ///< packed weights (as stored: sub-byte weights packed), bias, requantization tables
  // QConv / QGemm only (0 elsewhere).
  int64_t weightBytesUnpacked = 0; ///< weightBytes with the weight panel stored as int8
  int weightBits = 0, weightStorageBits = 0; ///< bits of the weight values; bits per value in the blob
  int accBits = 0;                 ///< narrowest accumulator that provably cannot overflow
  int64_t weightCount = 0;         ///< weight values
  int64_t panelBytes = 0, panelBytesStored = 0; ///< the kernel's int8 weight panel; as stored
  std::string kernel = {}; ///< "int8" or "xnor_popcount" (binary layers, runtime_stub/qcc/binary.h)
};

struct LibraryInfo {
  std::string name;
  std::vector<PortInfo> inputs, outputs;
  ArenaStats arena;
  int64_t weightBytes = 0;         ///< the constants blob (NAME_WEIGHT_BYTES)
  int64_t weightBytesUnpacked = 0; ///< the layers' constants with every weight panel as int8
  int64_t weightBytesLayers = 0;   ///< the layers' constants as stored (sum of LayerInfo::weightBytes)
  int64_t unpackBytes = 0;         ///< largest arena region a packed panel is unpacked into
  bool externalWeights = false;
  std::vector<LayerInfo> layers;
};

/// A C identifier from a model file name ("mobilenet-v2.onnx" -> "mobilenet_v2").
std::string libraryNameFor(const std::string &modelPath);

/// Writes the library into outDir (which must exist). Fails, naming the node
/// and op, for anything the backend cannot express; nothing is written then.
llvm::Expected<LibraryInfo> emitCppLibrary(const Graph &g, const EmitOptions &o, const std::string &outDir);

} // namespace qcc::cpp
