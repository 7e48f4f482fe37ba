#include "npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qcc_host {

size_t NpyArray::itemSize() const {
  size_t n = 0;
  for (size_t i = 2; i < dtype.size(); ++i)
    n = n * 10 + size_t(dtype[i] - '0');
  return n;
}

int64_t NpyArray::count() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {

// Finds the value text of 'key' in the header dict, up to the next ',' at depth 0.
bool dictValue(const std::string &h, const std::string &key, std::string &val) {
  size_t k = h.find("'" + key + "'");
  if (k == std::string::npos)
    return false;
  size_t c = h.find(':', k);
  if (c == std::string::npos)
    return false;
  size_t i = c + 1, depth = 0;
  std::string v;
  for (; i < h.size(); ++i) {
    char ch = h[i];
    if (ch == '(' || ch == '[')
      ++depth;
    if (ch == ')' || ch == ']') {
      if (depth == 0)
        break;
      --depth;
    }
    if ((ch == ',' || ch == '}') && depth == 0)
      break;
    v += ch;
  }
  size_t a = v.find_first_not_of(" '"), b = v.find_last_not_of(" '");
  val = a == std::string::npos ? "" : v.substr(a, b - a + 1);
  return true;
}

bool validDtype(const std::string &d) {
  static const char *ok[] = {"<f4", "<f8", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1"};
  for (const char *o : ok)
    if (d == o)
      return true;
  return false;
}

} // namespace

bool parseNpy(const char *bytes, size_t size, NpyArray &out, std::string &err) {
  if (size < 10 || std::memcmp(bytes, "\x93NUMPY", 6) != 0) {
    err = "not an .npy file (bad magic)";
    return false;
  }
  unsigned major = uint8_t(bytes[6]);
  size_t hlen, off;
  if (major == 1) {
    hlen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) {
      err = "truncated .npy header";
      return false;
    }
    hlen = 0;
    for (int i = 0; i < 4; ++i)
      hlen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    off = 12;
  } else {
    err = "unsupported .npy version " + std::to_string(major);
    return false;
  }
  if (off + hlen > size) {
    err = "truncated .npy header";
    return false;
  }
  std::string h(bytes + off, hlen);
  std::string descr, fortran, shape;
  if (!dictValue(h, "descr", descr) || !dictValue(h, "fortran_order", fortran) || !dictValue(h, "shape", shape)) {
    err = "malformed .npy header: " + h;
    return false;
  }
  if (descr == "<b1" || descr == "b1")
    descr = "|b1";
  if (descr == "<i1" || descr == "<u1")
    descr = "|" + descr.substr(1);
  if (!validDtype(descr)) {
    err = "unsupported .npy dtype '" + descr + "' (use float32, float64, integers or bool)";
    return false;
  }
  if (fortran != "False") {
    err = "Fortran-order .npy arrays are not supported; save with np.ascontiguousarray";
    return false;
  }
  out.dtype = descr;
  out.shape.clear();
  std::string dims = shape.substr(shape.find('(') + 1);
  std::stringstream ss(dims);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    size_t a = tok.find_first_of("0123456789");
    if (a == std::string::npos)
      continue;
    long long d = std::atoll(tok.c_str() + a);
    if (d < 0 || d > (1LL << 40)) {
      err = "invalid .npy dimension";
      return false;
    }
    out.shape.push_back(d);
  }
  size_t have = size - off - hlen;
  // Multiply with an overflow check: a header may claim any shape.
  size_t need = out.itemSize();
  for (int64_t d : out.shape) {
    if (__builtin_mul_overflow(need, size_t(d), &need)) {
      err = "shape " + shape + " is too large for the file's " + std::to_string(have) + " data bytes";
      return false;
    }
  }
  if (have < need) {
    err = "truncated .npy data: " + std::to_string(have) + " bytes, shape needs " + std::to_string(need);
    return false;
  }
  out.data.assign(bytes + off + hlen, bytes + off + hlen + need);
  return true;
}

bool readNpy(const std::string &path, NpyArray &out, std::string &err) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    err = "cannot open";
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parseNpy(bytes.data(), bytes.size(), out, err);
}

bool writeNpy(const std::string &path, const NpyArray &arr, std::string &err) {
  std::string shape = "(";
  for (size_t i = 0; i < arr.shape.size(); ++i)
    shape += std::to_string(arr.shape[i]) + (arr.shape.size() == 1 || i + 1 < arr.shape.size() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '" + arr.dtype + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) {
      err = "cannot write";
      return false;
    }
    char pre[10] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, char(header.size() & 0xff), char(header.size() >> 8)};
    f.write(pre, 10);
    f.write(header.data(), std::streamsize(header.size()));
    f.write(arr.data.data(), std::streamsize(arr.data.size()));
    if (!f) {
      err = "write failed";
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = "cannot rename into place";
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

} // namespace qcc_host
