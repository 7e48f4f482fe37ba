#include "calib/Profile.h"

#include "support/Error.h"

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/JSON.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>

#include <cmath>

namespace qcc {

namespace {

constexpr const char *kFormat = "qcc-calibration-profile";
constexpr int64_t kVersion = 1;

/// FNV-1a, 64 bit: stable across hosts and builds, unlike std::hash.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(const std::string &s) {
    for (unsigned char c : s)
      h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; // separator, so ("ab","c") != ("a","bc")
  }
};

std::string valueKey(const Value *v) { return v ? v->name + ":" + v->type.str() : std::string("-"); }

llvm::json::Value jsonString(const std::string &s) {
  return llvm::json::isUTF8(s) ? llvm::json::Value(s) : llvm::json::Value(llvm::json::fixUTF8(s));
}

/// Run-length coding of a histogram: counts as they are, -k for k empty bins,
/// trailing empty bins dropped.
llvm::json::Array encodeHist(const std::vector<uint64_t> &h) {
  llvm::json::Array out;
  size_t end = h.size();
  while (end > 0 && h[end - 1] == 0)
    --end;
  for (size_t i = 0; i < end;) {
    if (h[i] == 0) {
      size_t j = i;
      while (j < end && h[j] == 0)
        ++j;
      out.push_back(-int64_t(j - i));
      i = j;
    } else {
      out.push_back(h[i++]);
    }
  }
  return out;
}

/// Doubles print in their shortest form that parses back to the same double
/// (floats widen to double exactly, so they round-trip too).
std::string num(double v) { return fmt::format("{}", v); }

/// One tensor as one line of JSON, fields in a fixed, readable order.
std::string tensorLine(const std::string &name, const TensorStats &s, const Profile &p) {
  auto [lo, hi] = calibratedRange(s, p.method, p.percentile);
  std::string line;
  llvm::raw_string_ostream os(line);
  os << jsonString(name) << ": {\"range\": [" << num(lo) << ", " << num(hi) << "], \"min\": " << num(s.min())
     << ", \"max\": " << num(s.max()) << ", \"count\": " << s.count() << ", \"exponent\": " << s.exponent()
     << ", \"hist\": " << llvm::json::Value(encodeHist(s.hist())) << "}";
  return os.str();
}

// ---- reading ----

/// Errors while reading name the file and the field.
struct Reader {
  const std::string &path;
  llvm::Error bad(const std::string &what) const {
    return makeError("{}: corrupt calibration profile: {}", path, what);
  }
};

llvm::Expected<std::vector<uint64_t>> decodeHist(const llvm::json::Array &a, const Reader &r, const std::string &t) {
  std::vector<uint64_t> h;
  h.reserve(TensorStats::kBins);
  for (const llvm::json::Value &v : a) {
    auto i = v.getAsInteger();
    if (!i)
      return r.bad(fmt::format("tensor '{}': 'hist' holds a non-integer", t));
    const size_t room = size_t(TensorStats::kBins) - h.size();
    if (*i >= 0 ? room < 1 : *i < -int64_t(room))
      return r.bad(fmt::format("tensor '{}': 'hist' holds more than {} bins", t, TensorStats::kBins));
    if (*i >= 0)
      h.push_back(uint64_t(*i));
    else
      h.insert(h.end(), size_t(-*i), 0);
  }
  h.resize(TensorStats::kBins, 0);
  return h;
}

llvm::Expected<TensorStats> readTensor(const std::string &name, const llvm::json::Value &v, const Reader &r) {
  const llvm::json::Object *o = v.getAsObject();
  if (!o)
    return r.bad(fmt::format("tensor '{}' is not an object", name));
  auto mn = o->getNumber("min"), mx = o->getNumber("max");
  auto count = o->getInteger("count"), exponent = o->getInteger("exponent");
  const llvm::json::Array *hist = o->getArray("hist");
  if (!mn || !mx || !count || !exponent || !hist)
    return r.bad(fmt::format("tensor '{}' needs numbers 'min', 'max', integers 'count', 'exponent' and an "
                             "array 'hist'",
                             name));
  auto h = decodeHist(*hist, r, name);
  if (!h)
    return h.takeError();
  uint64_t sum = 0;
  for (uint64_t c : *h) {
    if (c > UINT64_MAX - sum)
      return r.bad(fmt::format("tensor '{}': 'hist' counts overflow", name));
    sum += c;
  }
  if (*count < 0 || sum != uint64_t(*count))
    return r.bad(fmt::format("tensor '{}': 'hist' sums to {}, 'count' says {}", name, sum, *count));
  TensorStats s;
  if (!TensorStats::fromParts(float(*mn), float(*mx), int(std::clamp<int64_t>(*exponent, -1000, 1000)), std::move(*h),
                              s))
    return r.bad(fmt::format("tensor '{}': 'min', 'max', 'exponent' and 'hist' do not agree", name));
  return s;
}

} // namespace

std::string graphHash(const Graph &g) {
  Fnv f;
  for (const Value *v : g.inputs)
    f.add("in " + valueKey(v));
  for (const auto &n : g.nodes()) {
    f.add("node " + n->domain + "::" + n->op);
    for (const Value *v : n->inputs)
      f.add(valueKey(v));
    f.add("->");
    for (const Value *v : n->outputs)
      f.add(valueKey(v));
  }
  for (const Value *v : g.outputs)
    f.add("out " + valueKey(v));
  return fmt::format("{:016x}", f.h);
}

llvm::Error writeProfile(const Profile &p, const std::string &path) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "{\n  \"format\": \"" << kFormat << "\",\n  \"version\": " << kVersion << ",\n  \"model\": "
     << llvm::json::Value(llvm::json::Object{{"file", jsonString(p.modelFile)}, {"graph_hash", p.graphHash}})
     << ",\n  \"samples\": " << p.samples << ",\n  \"method\": \"" << methodName(p.method)
     << "\",\n  \"percentile\": " << num(p.percentile) << ",\n  \"bins\": " << TensorStats::kBins
     << ",\n  \"tensors\": {";
  const char *sep = "\n    ";
  for (const auto &[name, s] : p.tensors) {
    os << sep << tensorLine(name, s, p);
    sep = ",\n    ";
  }
  os << "\n  }\n}\n";
  os.flush();

  // Write a sibling temporary and rename it over `path`: a reader never sees a
  // half-written profile, and a failed write leaves the old one in place.
  llvm::SmallString<256> tmp;
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(path + ".tmp-%%%%%%", fd, tmp))
    return makeError("{}: cannot create a temporary file beside it: {}", path, ec.message());
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out << text;
    out.close();
    if (out.has_error()) {
      std::string msg = out.error().message();
      out.clear_error();
      llvm::sys::fs::remove(tmp);
      return makeError("{}: cannot write: {}", path, msg);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    llvm::sys::fs::remove(tmp);
    return makeError("{}: cannot write: {}", path, ec.message());
  }
  return llvm::Error::success();
}

llvm::Expected<Profile> readProfile(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return makeError("{}: cannot read calibration profile: {}", path, buf.getError().message());
  auto json = llvm::json::parse((*buf)->getBuffer());
  if (!json)
    return makeError("{}: not a calibration profile (invalid JSON: {})", path, llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  if (!root || root->getString("format") != llvm::StringRef(kFormat))
    return makeError("{}: not a calibration profile (no \"format\": \"{}\")", path, kFormat);
  Reader r{path};
  if (root->getInteger("version") != kVersion)
    return makeError("{}: calibration profile version {} is not supported (this qcc reads version {})", path,
                     root->getInteger("version").getValueOr(-1), kVersion);
  Profile p;
  const llvm::json::Object *model = root->getObject("model");
  auto samples = root->getInteger("samples");
  auto method = root->getString("method");
  auto pct = root->getNumber("percentile");
  const llvm::json::Object *tensors = root->getObject("tensors");
  if (!model || !model->getString("graph_hash") || !samples || *samples < 0 || !method || !pct || !tensors)
    return r.bad("needs 'model' (with 'graph_hash'), 'samples', 'method', 'percentile' and 'tensors'");
  if (root->getInteger("bins") != int64_t(TensorStats::kBins))
    return r.bad(fmt::format("'bins' must be {}", TensorStats::kBins));
  p.graphHash = model->getString("graph_hash")->str();
  p.modelFile = model->getString("file").getValueOr("").str();
  p.samples = *samples;
  auto m = parseMethod(method->str());
  if (!m)
    return r.bad(fmt::format("unknown method '{}'", method->str()));
  p.method = *m;
  p.percentile = *pct;
  if (!(p.percentile > 0 && p.percentile <= 100))
    return r.bad(fmt::format("'percentile' {} is not in (0, 100]", p.percentile));
  for (const auto &[key, value] : *tensors) {
    auto s = readTensor(key.str(), value, r);
    if (!s)
      return s.takeError();
    p.tensors.emplace(key.str(), std::move(*s));
  }
  return p;
}

llvm::Expected<Profile> mergeProfiles(const std::vector<Profile> &shards, const std::vector<std::string> &paths,
                                      std::optional<CalibMethod> method, std::optional<double> percentile) {
  if (shards.empty())
    return makeError("no profiles to merge");
  auto name = [&](size_t i) { return i < paths.size() ? paths[i] : fmt::format("profile {}", i + 1); };
  Profile out;
  out.modelFile = shards[0].modelFile;
  out.graphHash = shards[0].graphHash;
  out.method = method.value_or(shards[0].method);
  out.percentile = percentile.value_or(shards[0].percentile);
  for (size_t i = 0; i < shards.size(); ++i) {
    const Profile &s = shards[i];
    if (s.graphHash != out.graphHash)
      return makeError("{}: made for a different model than {} ('{}', graph hash {}, vs '{}', graph hash {}); "
                       "only shards of one model merge",
                       name(i), name(0), s.modelFile, s.graphHash, out.modelFile, out.graphHash);
    if (!method && s.method != shards[0].method)
      return makeError("{}: uses method '{}' but {} uses '{}'; pass --method to choose the merged one", name(i),
                       methodName(s.method), name(0), methodName(shards[0].method));
    if (!percentile && out.method == CalibMethod::Percentile && s.percentile != shards[0].percentile)
      return makeError("{}: uses percentile {} but {} uses {}; pass --percentile to choose the merged one", name(i),
                       s.percentile, name(0), shards[0].percentile);
    out.samples += s.samples;
    for (const auto &[tensor, stats] : s.tensors)
      out.tensors[tensor].merge(stats);
  }
  return out;
}

llvm::Error checkProfileMatches(const Profile &p, const Graph &g, const std::string &profilePath) {
  std::string h = graphHash(g);
  if (h == p.graphHash)
    return llvm::Error::success();
  return makeError("{}: calibration profile of another model ('{}', graph hash {}); '{}' has graph hash {}",
                   profilePath, p.modelFile, p.graphHash, g.sourcePath, h);
}

llvm::Expected<std::map<std::string, std::pair<float, float>>> rangesFor(const Profile &p, CalibMethod method,
                                                                         double percentile) {
  if (method == CalibMethod::Percentile && !(percentile > 0 && percentile <= 100))
    return makeError("percentile {} is not in (0, 100]", percentile);
  std::map<std::string, std::pair<float, float>> out;
  for (const auto &[name, s] : p.tensors)
    out.emplace(name, calibratedRange(s, method, percentile));
  return out;
}

} // namespace qcc
