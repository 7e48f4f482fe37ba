#include "quant/RequantAttrs.h"

#include "support/Error.h"

namespace qcc {

llvm::Expected<Rounding> parseRounding(const std::string &s) {
  if (s == "tflite")
    return Rounding::TFLite;
  if (s == "single")
    return Rounding::Single;
  if (s == "onnx")
    return Rounding::Onnx;
  return makeError("unknown rounding '{}' (expected tflite, single or onnx)", s);
}

void setRequants(Node &n, const std::vector<Requant> &rqs, const std::string &prefix) {
  std::vector<int64_t> mult, shift;
  std::vector<float> scale;
  for (const Requant &r : rqs) {
    mult.push_back(r.fp.multiplier);
    shift.push_back(r.fp.shift);
    scale.push_back(r.scale);
  }
  n.attrs[prefix + "multiplier"] = mult;
  n.attrs[prefix + "shift"] = shift;
  n.attrs[prefix + "scale"] = scale;
  if (!rqs.empty())
    n.attrs["rounding"] = std::string(roundingName(rqs[0].rounding));
}

llvm::Expected<std::vector<Requant>> getRequants(const Node &n, int64_t channels, const std::string &prefix) {
  auto mult = n.getInts(prefix + "multiplier");
  auto shift = n.getInts(prefix + "shift");
  auto scale = n.getFloats(prefix + "scale");
  auto rounding = parseRounding(n.getString("rounding", "tflite"));
  if (!rounding)
    return withContext(rounding.takeError(), n.describe());
  if (mult.empty() || mult.size() != shift.size() || mult.size() != scale.size())
    return nodeError(n, "requantization attributes {}multiplier/shift/scale are missing or differ in length", prefix);
  if (channels > 0 && mult.size() != 1 && int64_t(mult.size()) != channels)
    return nodeError(n, "{} requantization multipliers for {} channels", mult.size(), channels);
  std::vector<Requant> out;
  for (size_t i = 0; i < mult.size(); ++i) {
    if (mult[i] < 0 || mult[i] > INT32_MAX || shift[i] < -31 || shift[i] > 62)
      return nodeError(n, "requantization multiplier {} / shift {} out of range", mult[i], shift[i]);
    Requant r;
    r.fp = {int32_t(mult[i]), int32_t(shift[i])};
    r.scale = scale[i];
    r.rounding = *rounding;
    out.push_back(r);
  }
  return out;
}

void outputClamp(const Node &n, int32_t &lo, int32_t &hi) {
  const ElemType e = n.outputs[0]->type.elem;
  QuantInfo q;
  q.bits = e.bits();
  q.isSigned = e.isSigned();
  lo = int32_t(n.getInt("out_min", q.qmin()));
  hi = int32_t(n.getInt("out_max", q.qmax()));
}

llvm::Expected<OutputRequant> getOutputRequant(const Node &n) {
  auto rqs = getRequants(n, 1);
  if (!rqs)
    return rqs.takeError();
  if (rqs->size() != 1)
    return nodeError(n, "expects one requantizer, has {}", rqs->size());
  OutputRequant o;
  o.rq = (*rqs)[0];
  o.zp = int32_t(n.getInt("out_zero_point", 0));
  outputClamp(n, o.lo, o.hi);
  return o;
}

} // namespace qcc
