// qcc kernel library: the portable C++17 kernels the generated code calls.
// Header-only, namespace qcc_rt; no allocation (scratch comes from the
// caller), no exceptions. Activations are NHWC. Each optimized kernel has a
// plain scalar twin in qcc_rt::ref with the same signature (tests).
#pragma once

#include "requant.h"
#include "shapes.h"
#include "conv.h"
#include "gemm.h"
#include "pool.h"
#include "elementwise.h"
#include "movement.h"
#include "unpack.h"
#include "trunc.h"
#include "threshold.h"
#include "binary.h"
