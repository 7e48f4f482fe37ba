// Element types and tensor types of the qcc IR.
//
// An element type is a float (32 or 64 bit), an integer of any width 1..64
// (signed or unsigned), a bool, or bipolar (+1/-1, stored as int8). Sub-byte
// integers are first-class so that QONNX widths survive lowering unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qcc {

using Shape = std::vector<int64_t>;

/// How elements of a type are laid out in memory (by the interpreters).
enum class Storage : uint8_t { F32, F64, I8, U8, I16, U16, I32, U32, I64, U64, Bool };

class ElemType {
public:
  enum class Kind : uint8_t { Float, Int, Bool, Bipolar };

  static ElemType f32() { return {Kind::Float, 32, true}; }
  static ElemType f64() { return {Kind::Float, 64, true}; }
  static ElemType i64() { return {Kind::Int, 64, true}; }
  static ElemType i32() { return {Kind::Int, 32, true}; }
  static ElemType intN(unsigned bits, bool isSigned) { return {Kind::Int, uint8_t(bits), isSigned}; }
  static ElemType boolean() { return {Kind::Bool, 1, false}; }
  static ElemType bipolar() { return {Kind::Bipolar, 1, true}; }

  Kind kind() const { return kind_; }
  unsigned bits() const { return bits_; }
  bool isSigned() const { return signed_; }
  bool isFloat() const { return kind_ == Kind::Float; }
  bool isInt() const { return kind_ == Kind::Int; }
  bool isBool() const { return kind_ == Kind::Bool; }

  Storage storage() const;
  /// Bytes one element takes in interpreter storage.
  size_t storageBytes() const;
  /// Short name used by the printer: f32, i64, u8, i4, bool, bipolar.
  std::string str() const;

  bool operator==(const ElemType &o) const {
    return kind_ == o.kind_ && bits_ == o.bits_ && signed_ == o.signed_;
  }
  bool operator!=(const ElemType &o) const { return !(*this == o); }

private:
  ElemType(Kind k, uint8_t bits, bool s) : kind_(k), bits_(bits), signed_(s) {}
  Kind kind_;
  uint8_t bits_;
  bool signed_;
};

struct TensorType {
  ElemType elem = ElemType::f32();
  Shape shape;

  int64_t rank() const { return int64_t(shape.size()); }
  /// Number of elements; -1 if any dimension is unknown (negative).
  int64_t numElements() const;
  std::string str() const; // "f32[1,3,224,224]"
  bool operator==(const TensorType &o) const { return elem == o.elem && shape == o.shape; }
  bool operator!=(const TensorType &o) const { return !(*this == o); }
};

int64_t numElements(const Shape &shape);
std::string shapeStr(const Shape &shape); // "1x3x224x224"

} // namespace qcc
