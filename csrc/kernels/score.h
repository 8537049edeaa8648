// The math of score(): dot products of latents with attribute vectors, and the cosine
// form. The CPU path blocks rows and vectors for registers (cpu/score_cpu.cpp) and calls
// these for the rows it must redo exactly; the CUDA kernel calls them per output.
#pragma once

#include <cmath>
#include <limits>

#include "../common.h"

namespace latentatlas {

// Dot product and both squared norms in double, with the operands pre-scaled by
// power-of-two factors so no square overflows or underflows (the exact path; slerp's
// one-pass geometry calls it unscaled).
// Visits j = j0, j0 + step, ... (a CUDA lane's share; the CPU passes 0, 1).
template <typename T>
LA_HD void dot_and_norms(const T* x, const T* y, index_t D, double sx, double sy, double& dot,
                         double& xx, double& yy, index_t j0 = 0, index_t step = 1) {
  double d = 0.0, p = 0.0, q = 0.0;
#if !defined(__CUDACC__)
#pragma omp simd reduction(+ : d, p, q)
#endif
  for (index_t j = j0; j < D; j += step) {
    const double u = static_cast<double>(x[j]) * sx;
    const double v = static_cast<double>(y[j]) * sy;
    d += u * v;
    p += u * u;
    q += v * v;
  }
  dot = d;
  xx = p;
  yy = q;
}

// Largest magnitude over j = j0, j0 + step, ...
template <typename T>
LA_HD double max_abs_strided(const T* x, index_t D, index_t j0 = 0, index_t step = 1) {
  double m = 0.0;
  for (index_t j = j0; j < D; j += step) {
    const double v = fabs(static_cast<double>(x[j]));
    m = v > m ? v : m;
  }
  return m;
}

// Power-of-two factor bringing m near 1: exact scaling, finite for every finite m > 0.
LA_HD double unit_scale(double m) {
  if (!(m > 0.0) || !(m - m == 0.0)) return 1.0;
  int e = ilogb(m);
  e = e < -1000 ? -1000 : (e > 1000 ? 1000 : e);
  return ldexp(1.0, -e);
}

// Whether a sum of D squares (or any D products bounded by it) computed in T's own
// arithmetic is exact enough for a cosine: finite (nothing overflowed) and far enough above
// T's smallest normal number that terms lost to underflow cannot matter (each loses less
// than that number; D of them stay below eps * ss). The fast CPU path uses this to pick
// the rows it must redo on the scaled exact path.
template <typename T>
LA_HD bool sum_sq_safe(double ss, index_t D) {
  const double lo = static_cast<double>(std::numeric_limits<T>::min()) /
                    static_cast<double>(std::numeric_limits<T>::epsilon()) * static_cast<double>(D);
  const double hi = static_cast<double>(std::numeric_limits<T>::max());
  return ss >= lo && ss <= hi;
}

// Dot product of one pair on the exact path, unscaled back to the operands' magnitude
// (±inf only where the exact value itself overflows double).
template <typename T>
LA_HD double exact_dot(const T* x, const T* y, index_t D) {
  const double sx = unit_scale(max_abs_strided(x, D)), sy = unit_scale(max_abs_strided(y, D));
  double dot, xx, yy;
  dot_and_norms(x, y, D, sx, sy, dot, xx, yy);
  return dot / sx / sy;
}

// Cosine from a dot product and squared norms of the same scaled operands; a zero vector
// has no direction and scores 0 rather than NaN.
LA_HD double cosine_from(double dot, double xx, double yy) {
  if (!(xx > 0.0) || !(yy > 0.0)) return 0.0;
  double c = dot / (sqrt(xx) * sqrt(yy));
  return c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
}

}  // namespace latentatlas
