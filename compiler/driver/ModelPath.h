// A model argument is an .onnx file or a folder written by `qcc compile`, whose
// integer graph is OUT/model.qcc.onnx.
#pragma once

#include <filesystem>
#include <string>

namespace qcc {

inline std::string resolveModelPath(const std::string &path) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (std::filesystem::is_directory(p, ec) && std::filesystem::exists(p / "model.qcc.onnx", ec))
    return (p / "model.qcc.onnx").string();
  return path;
}

} // namespace qcc
