// Error helpers. Library code returns llvm::Error / llvm::Expected; messages name
// the node and op ("node 'Conv_3' (Conv): ..."), and the driver prefixes the file.
#pragma once

#include <fmt/format.h>
#include <llvm/Support/Error.h>

#include <string>

namespace qcc {

template <typename... Args>
llvm::Error makeError(fmt::format_string<Args...> f, Args &&...args) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                 fmt::format(f, std::forward<Args>(args)...).c_str());
}

/// Error about a specific node: "node 'name' (Op): message".
template <typename NodeT, typename... Args>
llvm::Error nodeError(const NodeT &n, fmt::format_string<Args...> f, Args &&...args) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                 (n.describe() + ": " + fmt::format(f, std::forward<Args>(args)...)).c_str());
}

/// Prefixes an error's message with context ("file.onnx: ...").
inline llvm::Error withContext(llvm::Error e, const std::string &ctx) {
  if (!e)
    return e;
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s",
                                 (ctx + ": " + llvm::toString(std::move(e))).c_str());
}

} // namespace qcc
