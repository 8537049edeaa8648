// Shared definitions for the CPU (_core) and CUDA (_cuda) builds of latentatlas.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LA_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Forced so the math is inlined into each target_clones copy of the CPU loops (a call
// would run the baseline-ISA version).
#define LA_HD __attribute__((always_inline)) inline
#else
#define LA_HD inline
#endif

namespace latentatlas {

using index_t = std::int64_t;

// Interpolation methods, numbered identically in Python (ops._METHODS) and both backends.
enum Method : int { kLerp = 0, kSlerp = 1, kLerpGaussian = 2, kSlerpGaussian = 3 };

// Which argument held the first non-finite value a kernel met (0 = none).
enum BadArg : int {
  kNoBad = 0,
  kBadA = 1,
  kBadB = 2,
  kBadT = 3,
  kBadZ = 4,
  kBadVectors = 5,
  kBadAlphas = 6,
  kNoMemory = 7,
  kBadRows = 8,
};

}  // namespace latentatlas
