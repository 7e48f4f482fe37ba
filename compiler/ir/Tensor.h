// A dense tensor value: element type, shape and a shared, 64-byte aligned buffer.
//
// Copies share the buffer (cheap reshape/identity); call clone() for a deep copy.
// Interpreter kernels read and write through data<T>(), where T must match the
// element type's Storage (checked in debug builds by the caller's dispatch).
#pragma once

#include "ir/Type.h"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace qcc {

class Tensor {
public:
  Tensor() = default;
  /// Zero-initialised tensor of the given type.
  Tensor(ElemType elem, Shape shape);

  static Tensor scalarF32(float v);
  static Tensor vectorI64(const std::vector<int64_t> &v);

  const ElemType &elem() const { return elem_; }
  const Shape &shape() const { return shape_; }
  TensorType type() const { return {elem_, shape_}; }
  int64_t rank() const { return int64_t(shape_.size()); }
  int64_t size() const { return numel_; }
  size_t bytes() const { return size_t(numel_) * elem_.storageBytes(); }
  bool empty() const { return !buf_; }

  template <typename T> T *data() { return reinterpret_cast<T *>(raw()); }
  template <typename T> const T *data() const { return reinterpret_cast<const T *>(raw()); }
  std::byte *raw() { return buf_ ? buf_.get() : nullptr; }
  const std::byte *raw() const { return buf_ ? buf_.get() : nullptr; }

  /// A tensor over `buf` (at least bytes() long, 64-byte aligned); the
  /// contents are whatever `buf` holds.
  static Tensor reuse(ElemType elem, Shape shape, std::shared_ptr<std::byte> buf);
  /// The buffer, shared with reshaped views and copies.
  const std::shared_ptr<std::byte> &buffer() const { return buf_; }

  /// Same buffer, new shape (element count must match).
  Tensor reshaped(Shape shape) const;
  Tensor clone() const;

  /// Element i converted to double / int64 (any storage). For small tensors:
  /// shape arithmetic, attributes, printing, tests.
  double getDouble(int64_t i) const;
  int64_t getInt(int64_t i) const;
  void setDouble(int64_t i, double v);
  std::vector<int64_t> toInts() const;
  std::vector<float> toFloats() const;

private:
  ElemType elem_ = ElemType::f32();
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte> buf_;
};

/// Calls f with a value of the C++ type that stores `s` (f(float{}), f(int8_t{})...).
template <typename F> decltype(auto) dispatchStorage(Storage s, F &&f) {
  switch (s) {
  case Storage::F32: return f(float{});
  case Storage::F64: return f(double{});
  case Storage::I8: return f(int8_t{});
  case Storage::U8: return f(uint8_t{});
  case Storage::I16: return f(int16_t{});
  case Storage::U16: return f(uint16_t{});
  case Storage::I32: return f(int32_t{});
  case Storage::U32: return f(uint32_t{});
  case Storage::I64: return f(int64_t{});
  case Storage::U64: return f(uint64_t{});
  case Storage::Bool: return f(bool{});
  }
  return f(float{});
}

/// Calls f with an unsigned integer type as wide as one element, so byte-moving
/// kernels compile once per element size rather than once per element type.
template <typename F> void dispatchWidth(size_t bytes, F &&f) {
  switch (bytes) {
  case 1: f(uint8_t{}); break;
  case 2: f(uint16_t{}); break;
  case 4: f(uint32_t{}); break;
  default: f(uint64_t{}); break;
  }
}

} // namespace qcc
