#include "ir/Tensor.h"

#include <cstdlib>
#include <cstring>

namespace qcc {

namespace {
std::shared_ptr<std::byte> allocate(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0)
    rounded = 64;
  void *p = std::aligned_alloc(64, rounded);
  if (!p)
    throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte>(static_cast<std::byte *>(p), [](std::byte *q) { std::free(q); });
}
} // namespace

Tensor::Tensor(ElemType elem, Shape shape) : elem_(elem), shape_(std::move(shape)) {
  numel_ = numElements(shape_);
  assert(numel_ >= 0 && "tensor with unknown dimension");
  buf_ = allocate(bytes());
}

Tensor Tensor::reuse(ElemType elem, Shape shape, std::shared_ptr<std::byte> buf) {
  Tensor t;
  t.elem_ = elem;
  t.shape_ = std::move(shape);
  t.numel_ = numElements(t.shape_);
  t.buf_ = std::move(buf);
  return t;
}

Tensor Tensor::scalarF32(float v) {
  Tensor t(ElemType::f32(), {});
  t.data<float>()[0] = v;
  return t;
}

Tensor Tensor::vectorI64(const std::vector<int64_t> &v) {
  Tensor t(ElemType::i64(), {int64_t(v.size())});
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  Tensor t = *this;
  assert(numElements(shape) == numel_);
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(elem_, shape_);
  if (bytes())
    std::memcpy(t.raw(), raw(), bytes());
  return t;
}

double Tensor::getDouble(int64_t i) const {
  return dispatchStorage(elem_.storage(), [&](auto tag) -> double {
    using T = decltype(tag);
    return double(data<T>()[i]);
  });
}

int64_t Tensor::getInt(int64_t i) const {
  return dispatchStorage(elem_.storage(), [&](auto tag) -> int64_t {
    using T = decltype(tag);
    return int64_t(data<T>()[i]);
  });
}

void Tensor::setDouble(int64_t i, double v) {
  dispatchStorage(elem_.storage(), [&](auto tag) {
    using T = decltype(tag);
    data<T>()[i] = T(v);
  });
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i)
    v[size_t(i)] = getInt(i);
  return v;
}

std::vector<float> Tensor::toFloats() const {
  std::vector<float> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i)
    v[size_t(i)] = float(getDouble(i));
  return v;
}

} // namespace qcc
