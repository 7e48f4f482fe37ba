// From the integer graph to a list of kernel calls on arena buffers: the
// backend-independent half of the C++ emitter. Each node becomes one Step (a
// kernel call rendered once offsets are known), plus layout conversions where
// a kernel needs NHWC and its input is in the model's layout or vice versa.
#pragma once

#include "backends/cpp/CppEmitter.h"
#include "backends/cpp/MemoryPlan.h"
#include "ir/Graph.h"

#include <llvm/Support/Error.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcc::cpp {

enum class Layout { Plain, Nhwc };

/// Constants of the library, each 64-byte aligned in one blob.
struct Blob {
  std::vector<uint8_t> bytes;
  int64_t add(const void *data, size_t n);
  template <typename T> int64_t addVector(const std::vector<T> &v) { return add(v.data(), v.size() * sizeof(T)); }
};

struct Step {
  std::string comment;              ///< lines for the // comment above the call
  std::vector<int> buffers;         ///< arena buffers the call touches
  std::function<std::string()> code; ///< the call, rendered after planning
  int64_t weightBytes = 0;
  std::string node, op;
  // QConv / QGemm only (0 elsewhere): the report's per-layer weight figures.
  int weightBits = 0;        ///< bits of the weight values (e.g. 4 for i4)
  int weightStorageBits = 0; ///< bits per value in the blob: 1, 2, 4 (packed) or 8
  int accBits = 0;           ///< narrowest accumulator that provably cannot overflow
  int64_t weightCount = 0;   ///< weight values (cout * K)
  int64_t panelBytes = 0, panelBytesStored = 0; ///< int8 panel the kernel reads; as stored
  int64_t unpackBytes = 0;   ///< arena bytes the panel is unpacked into (0: read from the blob)
  std::string kernel = {};   ///< QConv / QGemm: "int8" or "xnor_popcount" (binary layers)
};

struct ArenaValue {
  int buffer = -1;
  Layout layout = Layout::Plain;
};

struct Lowered {
  std::vector<Step> steps; ///< steps[0] and steps.back() are the input / output boundaries
  std::vector<PlannedBuffer> buffers;
  Blob blob;
  std::vector<PortInfo> inputs, outputs;
  std::vector<int> inputBuffers, outputBuffers;
};

/// Lowers g; the returned Lowered's step code refers to buffers by index and
/// reads their offsets when rendered (so: plan first, then render).
llvm::Expected<std::unique_ptr<Lowered>> lowerGraph(const Graph &g);

/// "at<int8_t>(A, 1234)"-style expressions used by rendered code.
std::string ctypeOf(const ElemType &e);

} // namespace qcc::cpp
