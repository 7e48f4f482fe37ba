#include "ops/QonnxRounding.h"

#include "ir/Graph.h"
#include "support/Error.h"

#include <cctype>

namespace qcc {

std::optional<QonnxRounding> parseQonnxRounding(std::string s) {
  for (char &c : s)
    c = char(std::toupper(static_cast<unsigned char>(c)));
  if (s == "ROUND" || s == "HALF_EVEN")
    return QonnxRounding::HalfEven;
  if (s == "CEIL")
    return QonnxRounding::Ceil;
  if (s == "FLOOR")
    return QonnxRounding::Floor;
  if (s == "UP")
    return QonnxRounding::Up;
  if (s == "DOWN")
    return QonnxRounding::Down;
  if (s == "HALF_UP")
    return QonnxRounding::HalfUp;
  if (s == "HALF_DOWN")
    return QonnxRounding::HalfDown;
  return std::nullopt;
}

llvm::Expected<QonnxRounding> qonnxRoundingOf(const Node &n, const char *dflt) {
  const std::string s = n.getString("rounding_mode", dflt);
  if (auto m = parseQonnxRounding(s))
    return *m;
  return nodeError(n, "unknown rounding_mode '{}' (ROUND, HALF_EVEN, CEIL, FLOOR, UP, DOWN, HALF_UP, HALF_DOWN)", s);
}

int64_t qonnxRoundShift(int64_t acc, int shift, QonnxRounding m) {
  const int64_t d = int64_t(1) << shift;
  int64_t q = acc / d, r = acc % d; // C++ truncates: make q the floor and r in [0, d)
  if (r < 0) {
    q -= 1;
    r += d;
  }
  const bool exact = r == 0, neg = acc < 0;
  const int64_t twice = 2 * r; // compare the fraction r / d with 1/2
  switch (m) {
  case QonnxRounding::Floor: return q;
  case QonnxRounding::Ceil: return exact ? q : q + 1;
  case QonnxRounding::Down: return exact || !neg ? q : q + 1;
  case QonnxRounding::Up: return exact || neg ? q : q + 1;
  case QonnxRounding::HalfEven: return twice < d ? q : twice > d ? q + 1 : q + (q & 1);
  case QonnxRounding::HalfUp: return twice < d ? q : twice > d ? q + 1 : (neg ? q : q + 1);
  case QonnxRounding::HalfDown: return twice < d ? q : twice > d ? q + 1 : (neg ? q + 1 : q);
  }
  return q;
}

} // namespace qcc
