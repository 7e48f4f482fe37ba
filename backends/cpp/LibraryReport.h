// The "library" section of report.json (and library.json): arena and weight
// sizes, per layer the weight bytes as stored (sub-byte weights packed), the
// same as int8, and the accumulator width each QConv / QGemm needs.
#pragma once

#include "backends/cpp/CppEmitter.h"

#include <llvm/Support/JSON.h>

#include <string>

namespace qcc::cpp {

llvm::json::Object libraryReportJson(const LibraryInfo &lib);

/// One console line: "weights N bytes (packing sub-byte weights saved M of K bytes)".
std::string weightSummary(const LibraryInfo &lib);

} // namespace qcc::cpp
