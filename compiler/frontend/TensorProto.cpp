#include "frontend/TensorProto.h"

#include "support/Error.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace qcc {

llvm::Expected<ElemType> elemTypeFromOnnx(int32_t dt) {
  using TP = onnx::TensorProto;
  switch (dt) {
  case TP::FLOAT: return ElemType::f32();
  case TP::DOUBLE: return ElemType::f64();
  case TP::INT8: return ElemType::intN(8, true);
  case TP::UINT8: return ElemType::intN(8, false);
  case TP::INT16: return ElemType::intN(16, true);
  case TP::UINT16: return ElemType::intN(16, false);
  case TP::INT32: return ElemType::i32();
  case TP::UINT32: return ElemType::intN(32, false);
  case TP::INT64: return ElemType::i64();
  case TP::UINT64: return ElemType::intN(64, false);
  case TP::BOOL: return ElemType::boolean();
  default:
    return makeError("unsupported element type {} ({})", onnx::TensorProto_DataType_Name(dt), dt);
  }
}

namespace {

// Reads external data named by `t`, refusing paths that leave `baseDir`.
llvm::Expected<std::string> readExternal(const onnx::TensorProto &t, const std::string &baseDir,
                                         int64_t expectBytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto &kv : t.external_data()) {
    if (kv.key() == "location")
      location = kv.value();
    else if (kv.key() == "offset")
      offset = std::atoll(kv.value().c_str());
    else if (kv.key() == "length")
      length = std::atoll(kv.value().c_str());
  }
  if (location.empty())
    return makeError("external data without a location");
  if (location.find('\0') != std::string::npos)
    return makeError("external data location contains a NUL byte");
  if (baseDir.empty())
    return makeError("external data '{}' is not allowed here", location);
  fs::path loc(location);
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(baseDir), ec);
  fs::path full = fs::weakly_canonical(base / loc, ec);
  auto rel = full.lexically_relative(base);
  if (loc.is_absolute() || ec || rel.empty() || *rel.begin() == "..")
    return makeError("external data location '{}' points outside the model's folder {}", location,
                     base.string());
  if (!fs::is_regular_file(full, ec))
    return makeError("external data location '{}' is not a regular file", location);
  std::ifstream f(full, std::ios::binary);
  if (!f)
    return makeError("cannot open external data file '{}'", full.string());
  f.seekg(0, std::ios::end);
  int64_t size = f.tellg();
  if (offset < 0 || offset > size)
    return makeError("external data offset {} is past the end of '{}' ({} bytes)", offset, location, size);
  if (length >= 0 && length > size - offset)
    return makeError("external data '{}': offset {} + length {} exceed the file's {} bytes", location, offset,
                     length, size);
  if (length < 0)
    length = size - offset;
  if (expectBytes >= 0 && length != expectBytes)
    return makeError("external data '{}' holds {} bytes, the tensor's shape needs {}", location, length,
                     expectBytes);
  std::string data(size_t(length), '\0');
  f.seekg(offset);
  f.read(data.data(), length);
  return data;
}

template <typename T, typename Src> void copyField(Tensor &out, const Src &field) {
  T *dst = out.data<T>();
  for (int i = 0; i < field.size(); ++i)
    dst[i] = T(field.Get(i));
}

} // namespace

llvm::Expected<Tensor> tensorFromProto(const onnx::TensorProto &t, const std::string &baseDir,
                                       int64_t maxElements) {
  auto elem = elemTypeFromOnnx(t.data_type());
  if (!elem)
    return withContext(elem.takeError(), fmt::format("tensor '{}'", t.name()));
  Shape shape;
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0)
      return makeError("tensor '{}' has a negative dimension {}", t.name(), d);
    if (d > 0 && count > maxElements / d)
      return makeError("tensor '{}' is absurdly large (dims [{}])", t.name(), fmt::join(t.dims(), ","));
    count *= d;
    shape.push_back(d);
  }
  const size_t want = size_t(count) * elem->storageBytes();
  auto sizeError = [&](int64_t have) {
    return makeError("tensor '{}' holds {} values but its shape [{}] needs {}", t.name(), have,
                     fmt::join(shape, ","), count);
  };

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    auto data = readExternal(t, baseDir, int64_t(want));
    if (!data)
      return withContext(data.takeError(), fmt::format("tensor '{}'", t.name()));
    if (data->size() != want)
      return sizeError(int64_t(data->size() / elem->storageBytes()));
    Tensor out(*elem, shape);
    std::memcpy(out.raw(), data->data(), want);
    return out;
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != want)
      return sizeError(int64_t(t.raw_data().size() / elem->storageBytes()));
    Tensor out(*elem, shape);
    if (want)
      std::memcpy(out.raw(), t.raw_data().data(), want);
    return out;
  }
  using TP = onnx::TensorProto;
  int64_t have = 0;
  switch (t.data_type()) {
  case TP::FLOAT: have = t.float_data_size(); break;
  case TP::DOUBLE: have = t.double_data_size(); break;
  case TP::INT64: have = t.int64_data_size(); break;
  case TP::UINT32: case TP::UINT64: have = t.uint64_data_size(); break;
  default: have = t.int32_data_size(); break;
  }
  if (have != count)
    return sizeError(have);
  Tensor out(*elem, shape);
  switch (t.data_type()) {
  case TP::FLOAT: copyField<float>(out, t.float_data()); break;
  case TP::DOUBLE: copyField<double>(out, t.double_data()); break;
  case TP::INT64: copyField<int64_t>(out, t.int64_data()); break;
  case TP::UINT32: copyField<uint32_t>(out, t.uint64_data()); break;
  case TP::UINT64: copyField<uint64_t>(out, t.uint64_data()); break;
  case TP::INT8: copyField<int8_t>(out, t.int32_data()); break;
  case TP::UINT8: copyField<uint8_t>(out, t.int32_data()); break;
  case TP::INT16: copyField<int16_t>(out, t.int32_data()); break;
  case TP::UINT16: copyField<uint16_t>(out, t.int32_data()); break;
  case TP::INT32: copyField<int32_t>(out, t.int32_data()); break;
  case TP::BOOL: copyField<bool>(out, t.int32_data()); break;
  default: break;
  }
  return out;
}

llvm::Expected<Tensor> readTensorPb(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return makeError("{}: cannot open", path);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes))
    return makeError("{}: not a valid ONNX TensorProto", path);
  auto r = tensorFromProto(t, "");
  if (!r)
    return withContext(r.takeError(), path);
  return r;
}

} // namespace qcc
