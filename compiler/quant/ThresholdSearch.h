// Threshold tables for qcc::Threshold (ops/ThresholdOps.cpp) from a level
// function on integers: used by the QONNX threshold lowering
// (quant/LowerQonnxThresholds.h) and by QONNX Conv units whose folded float
// bias has no accumulator grid (quant/ImportQdq.h).
#pragma once

#include "ir/Tensor.h"

#include <llvm/ADT/STLExtras.h>

#include <cstdint>

namespace qcc {

/// int32 [rows, steps]: entry (r, k - 1) is the least q in [lo, hi] with
/// count(q, r) >= k (binary search: count must be non-decreasing in q), or
/// hi + 1 when none reaches k. hi is capped at INT32_MAX - 1 and lo at
/// INT32_MIN so every entry fits int32. When all rows are equal the table
/// has one row.
Tensor thresholdTable(int64_t rows, int64_t steps, int64_t lo, int64_t hi,
                      llvm::function_ref<int64_t(int64_t q, int64_t row)> count);

/// The int32 accumulator a threshold reads: a QConv / QGemm with integer
/// weights wq ([rows, ...], zero point 0) on an input of type x with zero
/// point zx. bias: -zx * sum(wq[c]) per row (the input zero point folded in);
/// bound: the largest |acc| over x's integer range.
struct AccumulatorForm {
  Tensor bias;
  int64_t bound = 0;
};
AccumulatorForm accumulatorForm(const Tensor &wq, int64_t rows, ElemType x, int64_t zx);

} // namespace qcc
