#include "ops/Broadcast.h"

namespace qcc {

std::vector<int64_t> broadcastStrides(const Shape &in, const Shape &out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 0; i < in.size(); ++i) {
    size_t di = in.size() - 1 - i, doo = out.size() - 1 - i;
    s[doo] = in[di] == 1 ? 0 : stride;
    stride *= in[di];
  }
  return s;
}

} // namespace qcc
