// Multi-versioned float kernels: QCC_SIMD_CLONES compiles a function for
// x86-64-v4 (AVX-512) and v3 (AVX2) besides the baseline, and the loader picks
// the best one for the host. qcc_core is built with -ffp-contract=off, so every
// clone computes bit-identical results (a*b+c is never fused into an FMA):
// the reference interpreter's numerics do not depend on the host's ISA.
#pragma once

#include "qcc/float_ops.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__)
#define QCC_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define QCC_SIMD_CLONES
#endif

// Helpers called from clones: forced inline so each clone gets its own copy
// compiled for its instruction set.
#if defined(__GNUC__)
#define QCC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define QCC_ALWAYS_INLINE inline
#endif

#include <cstdint>

namespace qcc {

/// Sum of a contiguous run with 16 independent partial sums, so that the
/// compiler keeps them in vector registers (one accumulator would serialise on
/// the add latency, and float adds may not be reassociated).
template <typename T> QCC_ALWAYS_INLINE T laneSum(const T *x, int64_t n) { return qcc_rt::lane_sum(x, n); }

} // namespace qcc
