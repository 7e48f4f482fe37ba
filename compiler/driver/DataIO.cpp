#include "driver/DataIO.h"

#include "frontend/TensorProto.h"
#include "support/Error.h"

#include "npy.h"

#include <zip.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <filesystem>

namespace fs = std::filesystem;

namespace qcc {

namespace {

std::string npyDtype(const ElemType &e) {
  switch (e.storage()) {
  case Storage::F32: return "<f4";
  case Storage::F64: return "<f8";
  case Storage::I8: return "|i1";
  case Storage::U8: return "|u1";
  case Storage::I16: return "<i2";
  case Storage::U16: return "<u2";
  case Storage::I32: return "<i4";
  case Storage::U32: return "<u4";
  case Storage::I64: return "<i8";
  case Storage::U64: return "<u8";
  case Storage::Bool: return "|b1";
  }
  return "<f4";
}

const char *dtypeName(const std::string &d) {
  static const std::pair<const char *, const char *> names[] = {
      {"<f4", "float32"}, {"<f8", "float64"}, {"|i1", "int8"}, {"|u1", "uint8"}, {"<i2", "int16"}, {"<u2", "uint16"},
      {"<i4", "int32"}, {"<u4", "uint32"}, {"<i8", "int64"}, {"<u8", "uint64"}, {"|b1", "bool"}};
  for (auto &[k, v] : names)
    if (d == k)
      return v;
  return "unknown";
}

llvm::Expected<ElemType> elemFromNpy(const std::string &d) {
  static const std::pair<const char *, ElemType> map[] = {
      {"<f4", ElemType::f32()}, {"<f8", ElemType::f64()}, {"|i1", ElemType::intN(8, true)},
      {"|u1", ElemType::intN(8, false)}, {"<i2", ElemType::intN(16, true)}, {"<u2", ElemType::intN(16, false)},
      {"<i4", ElemType::i32()}, {"<u4", ElemType::intN(32, false)}, {"<i8", ElemType::i64()},
      {"<u8", ElemType::intN(64, false)}, {"|b1", ElemType::boolean()}};
  for (auto &[k, v] : map)
    if (d == k)
      return v;
  return makeError("unsupported dtype {}", d);
}

llvm::Expected<Tensor> fromNpy(const qcc_host::NpyArray &a) {
  auto e = elemFromNpy(a.dtype);
  if (!e)
    return e.takeError();
  Tensor t(*e, a.shape);
  if (t.bytes())
    std::memcpy(t.raw(), a.data.data(), t.bytes());
  return t;
}

// Checks `t` (N samples batch first) against graph input `in` (batch B).
llvm::Error matchInput(const std::string &src, const Value &in, Tensor &t, int64_t &samples) {
  const TensorType &want = in.type;
  if (t.elem() != want.elem)
    return makeError("{}: data for input '{}' is {}, the model expects {}", src, in.name,
                     dtypeName(npyDtype(t.elem())), dtypeName(npyDtype(want.elem)));
  Shape per(want.shape.begin() + (want.shape.empty() ? 0 : 1), want.shape.end());
  Shape got(t.shape().begin() + (t.shape().empty() ? 0 : 1), t.shape().end());
  if (t.shape().empty() || got != per) {
    if (t.shape() == per) { // a single sample without the batch axis
      Shape s = t.shape();
      s.insert(s.begin(), 1);
      t = t.reshaped(s);
    } else {
      return makeError("{}: data for input '{}' has shape [{}], the model expects [N,{}] (batch first)", src,
                       in.name, fmt::join(t.shape(), ","), fmt::join(per, ","));
    }
  }
  int64_t n = t.shape()[0];
  int64_t batch = want.shape.empty() ? 1 : want.shape[0];
  if (n == 0)
    return makeError("{}: data for input '{}' holds no samples", src, in.name);
  if (n % batch)
    return makeError("{}: {} samples for input '{}' do not divide into batches of {}", src, n, in.name, batch);
  if (samples >= 0 && n != samples)
    return makeError("{}: inputs hold different sample counts ({} and {})", src, samples, n);
  samples = n;
  if (t.elem().isFloat())
    for (int64_t i = 0; i < t.size(); ++i)
      if (!std::isfinite(t.getDouble(i)))
        return makeError("{}: data for input '{}' contains NaN or Inf (element {})", src, in.name, i);
  return llvm::Error::success();
}

llvm::Expected<std::vector<std::pair<std::string, Tensor>>> readNpz(const std::string &path) {
  int errCode = 0;
  zip_t *z = zip_open(path.c_str(), ZIP_RDONLY, &errCode);
  if (!z)
    return makeError("{}: not a readable .npz (zip) archive", path);
  std::vector<std::pair<std::string, Tensor>> out;
  zip_int64_t n = zip_get_num_entries(z, 0);
  std::error_code ec;
  const uint64_t archiveBytes = fs::file_size(path, ec);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    if (zip_stat_index(z, zip_uint64_t(i), 0, &st) != 0)
      continue;
    std::string name = st.name;
    // Deflate compresses at most ~1032:1; a larger claim is a corrupt entry.
    if (ec || st.size / 1032 > archiveBytes) {
      zip_close(z);
      return makeError("{}: entry '{}' claims {} bytes, impossible for a {}-byte archive (corrupt .npz)", path,
                       name, uint64_t(st.size), archiveBytes);
    }
    zip_file_t *f = zip_fopen_index(z, zip_uint64_t(i), 0);
    std::vector<char> buf(size_t(st.size));
    bool ok = f && zip_fread(f, buf.data(), st.size) == zip_int64_t(st.size);
    if (f)
      zip_fclose(f);
    qcc_host::NpyArray arr;
    std::string err;
    if (!ok || !qcc_host::parseNpy(buf.data(), buf.size(), arr, err)) {
      zip_close(z);
      return makeError("{}: entry '{}': {}", path, name, ok ? err : "cannot read");
    }
    auto t = fromNpy(arr);
    if (!t) {
      zip_close(z);
      return withContext(t.takeError(), path + ": " + name);
    }
    if (name.size() > 4 && name.substr(name.size() - 4) == ".npy")
      name.resize(name.size() - 4);
    out.emplace_back(name, std::move(*t));
  }
  zip_close(z);
  return out;
}

} // namespace

llvm::Expected<Tensor> readNpyTensor(const std::string &path) {
  qcc_host::NpyArray a;
  std::string err;
  if (!qcc_host::readNpy(path, a, err))
    return makeError("{}: {}", path, err);
  auto t = fromNpy(a);
  if (!t)
    return withContext(t.takeError(), path);
  return t;
}

llvm::Expected<Dataset> loadDataset(const std::string &path, const Graph &g) {
  Dataset d;
  std::vector<Tensor> arrays(g.inputs.size());
  std::vector<bool> found(g.inputs.size(), false);
  std::error_code ec;
  auto assign = [&](size_t i, Tensor t) {
    arrays[i] = std::move(t);
    found[i] = true;
  };
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (auto &entry : fs::directory_iterator(path, ec))
      if (entry.path().extension() == ".pb")
        files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    if (files.empty())
      return makeError("{}: folder holds no .pb tensor files (expected input_0.pb, ...)", path);
    size_t next = 0;
    for (const auto &f : files) {
      std::string stem = f.stem().string();
      if (stem.rfind("input_", 0) != 0)
        continue;
      auto t = readTensorPb(f.string());
      if (!t)
        return t.takeError();
      size_t idx = next++;
      if (idx < g.inputs.size())
        assign(idx, std::move(*t));
    }
  } else if (path.size() > 4 && path.substr(path.size() - 4) == ".npz") {
    auto entries = readNpz(path);
    if (!entries)
      return entries.takeError();
    for (auto &[name, t] : *entries) {
      bool matched = false;
      for (size_t i = 0; i < g.inputs.size(); ++i)
        if (g.inputs[i]->name == name) {
          assign(i, std::move(t));
          matched = true;
        }
      if (!matched)
        return makeError("{}: array '{}' does not name a model input", path, name);
    }
  } else if (fs::is_regular_file(path, ec)) {
    auto t = readNpyTensor(path);
    if (!t)
      return t.takeError();
    if (g.inputs.size() != 1)
      return makeError("{}: the model has {} inputs; give an .npz with one array per input name", path,
                       g.inputs.size());
    assign(0, std::move(*t));
  } else {
    return makeError("{}: no such data file or folder", path);
  }
  int64_t samples = -1;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    if (!found[i])
      return makeError("{}: no data for model input '{}'", path, g.inputs[i]->name);
    if (auto e = matchInput(path, *g.inputs[i], arrays[i], samples))
      return std::move(e);
  }
  d.arrays = std::move(arrays);
  d.samples = samples < 0 ? 0 : samples;
  return d;
}

std::vector<Tensor> sliceBatch(const Dataset &d, const Graph &g, int64_t b) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const TensorType &want = g.inputs[i]->type;
    Tensor t(want.elem, want.shape);
    std::memcpy(t.raw(), d.arrays[i].raw() + size_t(b) * t.bytes(), t.bytes());
    out.push_back(std::move(t));
  }
  return out;
}

Tensor stackBatches(const std::vector<Tensor> &parts) {
  Shape s = parts[0].shape();
  if (s.empty())
    s.push_back(1);
  int64_t per = s[0];
  s[0] = per * int64_t(parts.size());
  Tensor out(parts[0].elem(), s);
  size_t off = 0;
  for (const Tensor &p : parts) {
    std::memcpy(out.raw() + off, p.raw(), p.bytes());
    off += p.bytes();
  }
  return out;
}

llvm::Error writeTensors(const std::string &path, const std::vector<std::string> &names,
                         const std::vector<Tensor> &tensors) {
  auto toNpy = [](const Tensor &t) {
    qcc_host::NpyArray a;
    a.dtype = npyDtype(t.elem());
    a.shape = t.shape();
    a.data.assign(reinterpret_cast<const char *>(t.raw()), reinterpret_cast<const char *>(t.raw()) + t.bytes());
    return a;
  };
  std::string err;
  if (path.size() > 4 && path.substr(path.size() - 4) == ".npz") {
    std::string tmp = path + ".tmp";
    std::vector<std::string> images;
    for (const Tensor &t : tensors) {
      std::string f = tmp + ".entry";
      if (!qcc_host::writeNpy(f, toNpy(t), err))
        return makeError("{}: {}", path, err);
      std::ifstream in(f, std::ios::binary);
      images.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::remove(f.c_str());
    }
    int code = 0;
    zip_t *z = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!z)
      return makeError("{}: cannot create", path);
    for (size_t i = 0; i < images.size(); ++i) {
      zip_source_t *src = zip_source_buffer(z, images[i].data(), images[i].size(), 0);
      if (!src || zip_file_add(z, (names[i] + ".npy").c_str(), src, ZIP_FL_OVERWRITE) < 0) {
        zip_source_free(src);
        zip_discard(z);
        return makeError("{}: cannot add '{}'", path, names[i]);
      }
    }
    if (zip_close(z) != 0) {
      zip_discard(z);
      std::remove(tmp.c_str());
      return makeError("{}: cannot write", path);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return makeError("{}: cannot write", path);
    return llvm::Error::success();
  }
  if (!qcc_host::writeNpy(path, toNpy(tensors[0]), err))
    return makeError("{}: {}", path, err);
  return llvm::Error::success();
}

} // namespace qcc
