// .npy reading and writing for host tools (the qcc driver, compare runners).
// Self-contained: C++17 standard library only. Format: numpy's NEP 1
// ("\x93NUMPY", version, little-endian header length, a Python dict literal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qcc_host {

struct NpyArray {
  std::string dtype;          ///< numpy descr, e.g. "<f4", "<i8", "|u1", "|b1"
  std::vector<int64_t> shape; ///< empty for a 0-d array
  std::vector<char> data;     ///< C order, little endian
  size_t itemSize() const;
  int64_t count() const;
};

/// Parses an .npy image held in memory. Returns false and sets `err` on failure.
bool parseNpy(const char *bytes, size_t size, NpyArray &out, std::string &err);
bool readNpy(const std::string &path, NpyArray &out, std::string &err);
/// Writes atomically (temporary file, then rename) so a failure leaves nothing.
bool writeNpy(const std::string &path, const NpyArray &arr, std::string &err);

} // namespace qcc_host
