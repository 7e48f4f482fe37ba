// Files of runtime_stub/ compiled into qcc (cmake/Embed.cmake): the kernel
// headers a generated library includes and the host sources of the compare
// runner. qcc writes them out from here, so it needs no source tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qcc {

struct EmbeddedFile {
  std::string path;          ///< relative to runtime_stub/, e.g. "qcc/conv.h", "host/npy.cpp"
  std::string_view contents; ///< exact bytes
};

const std::vector<EmbeddedFile> &embeddedFiles();

/// The file at `path` (relative to runtime_stub/), or nullptr.
inline const EmbeddedFile *findEmbeddedFile(std::string_view path) {
  for (const EmbeddedFile &f : embeddedFiles())
    if (f.path == path)
      return &f;
  return nullptr;
}

} // namespace qcc
