#include "ir/Type.h"

#include <fmt/format.h>

#include <cstdint>

namespace qcc {

Storage ElemType::storage() const {
  switch (kind_) {
  case Kind::Float:
    return bits_ == 64 ? Storage::F64 : Storage::F32;
  case Kind::Bool:
    return Storage::Bool;
  case Kind::Bipolar:
    return Storage::I8;
  case Kind::Int:
    if (bits_ <= 8)
      return signed_ ? Storage::I8 : Storage::U8;
    if (bits_ <= 16)
      return signed_ ? Storage::I16 : Storage::U16;
    if (bits_ <= 32)
      return signed_ ? Storage::I32 : Storage::U32;
    return signed_ ? Storage::I64 : Storage::U64;
  }
  return Storage::F32;
}

size_t ElemType::storageBytes() const {
  switch (storage()) {
  case Storage::I8: case Storage::U8: case Storage::Bool: return 1;
  case Storage::I16: case Storage::U16: return 2;
  case Storage::F32: case Storage::I32: case Storage::U32: return 4;
  case Storage::F64: case Storage::I64: case Storage::U64: return 8;
  }
  return 4;
}

std::string ElemType::str() const {
  switch (kind_) {
  case Kind::Float: return fmt::format("f{}", bits_);
  case Kind::Bool: return "bool";
  case Kind::Bipolar: return "bipolar";
  case Kind::Int: return fmt::format("{}{}", signed_ ? 'i' : 'u', bits_);
  }
  return "?";
}

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return -1;
    if (__builtin_mul_overflow(n, d, &n))
      return INT64_MAX; // saturate: size checks then reject it as absurd
  }
  return n;
}

int64_t TensorType::numElements() const { return qcc::numElements(shape); }

std::string shapeStr(const Shape &shape) {
  if (shape.empty())
    return "scalar";
  return fmt::format("{}", fmt::join(shape, "x"));
}

std::string TensorType::str() const {
  return fmt::format("{}[{}]", elem.str(), fmt::join(shape, ","));
}

} // namespace qcc
