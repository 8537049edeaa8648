// The math of interpolation between a pair of latent vectors, shared by the CPU loops
// (cpu/interp_cpu.cpp) and the CUDA kernels (cuda/interp_cuda.cu).
//
// A pair's geometry is found once per row (norms, the angle between directions, the
// row's mode); every time step is then a linear form over the row,
//     out_j = ca * a_j + cb * b_j + (j == k ? ck : 0),
// whose coefficients come from interp_coeffs(). All of it runs in double precision;
// the output is rounded to the data type once.
#pragma once

#include <cmath>

#include "../common.h"
#include "score.h"

namespace latentatlas {

constexpr double kPi = 3.14159265358979323846;
constexpr double kHalfPi = 1.57079632679489661923;
// Below this angle slerp and lerp differ by ~omega^2/6 < 1e-15 relative: use lerp.
constexpr double kParallelTol = 1e-7;
// Within this of pi the plane of the arc is not determined by the data: take the
// deterministic great circle of the contract instead.
constexpr double kAntipodalTol = 1e-6;

// x - x is 0 for finite x and NaN for NaN or Inf (no -ffast-math anywhere in the build).
LA_HD bool is_finite(double x) { return x - x == 0.0; }

enum PairMode : int { kModeLerp = 0, kModeSlerp = 1, kModeAntipodal = 2 };

struct PairGeom {
  int mode;
  double omega;      // angle between the directions of a and b
  double delta;      // pi - omega, computed without cancellation
  double sin_omega, cos_omega;
  double na, nb;     // norms
  double ratio;      // nb / na
  double ak;         // a_k / |a| for the antipodal construction
  double su;         // sqrt(1 - ak^2)
  index_t k;         // index of the smallest |a_j|
};

struct Coeffs {
  double ca, cb, ck;
  index_t k;  // -1 when ck does not apply
};

// Two power-of-two factors whose product scales m into [1, 2): exact, and finite even
// for denormal m (a single factor 2^1074 would overflow).
LA_HD void pow2_scale(double m, int& e, double& s1, double& s2) {
  e = ilogb(m);
  const int h = -e / 2;
  s1 = ldexp(1.0, h);
  s2 = ldexp(1.0, -e - h);
}

// Pass 1 over a row: largest magnitudes, and a NaN sentinel (x - x is NaN exactly when
// x is NaN or infinite).
//
// Every pass visits j = j0, j0 + step, ... < D: the CPU calls it with (0, 1) for the whole
// row, each CUDA thread with (threadIdx.x, blockDim.x) before a block reduction.
template <typename T>
LA_HD void pass_max_abs(const T* a, const T* b, index_t D, double& ma, double& mb, double& bad_a,
                        double& bad_b, index_t j0 = 0, index_t step = 1) {
  double m1 = 0.0, m2 = 0.0, s1 = 0.0, s2 = 0.0;
#if !defined(__CUDACC__)
#pragma omp simd reduction(max : m1, m2) reduction(+ : s1, s2)
#endif
  for (index_t j = j0; j < D; j += step) {
    const double x = static_cast<double>(a[j]);
    const double y = static_cast<double>(b[j]);
    const double ax = fabs(x), ay = fabs(y);
    m1 = ax > m1 ? ax : m1;
    m2 = ay > m2 ? ay : m2;
    s1 += x - x;
    s2 += y - y;
  }
  ma = m1;
  mb = m2;
  bad_a = s1;
  bad_b = s2;
}

// Pass 2: sums of squares of the rows scaled by (sa1*sa2) and (sb1*sb2).
template <typename T>
LA_HD void pass_sum_sq(const T* a, const T* b, index_t D, double sa1, double sa2, double sb1,
                       double sb2, double& qa, double& qb, index_t j0 = 0, index_t step = 1) {
  double u = 0.0, v = 0.0;
#if !defined(__CUDACC__)
#pragma omp simd reduction(+ : u, v)
#endif
  for (index_t j = j0; j < D; j += step) {
    const double x = static_cast<double>(a[j]) * sa1 * sa2;
    const double y = static_cast<double>(b[j]) * sb1 * sb2;
    u += x * x;
    v += y * y;
  }
  qa = u;
  qb = v;
}

// Pass 3: |a^ - b^|^2 and |a^ + b^|^2, with a^_j = a_j * fa1 * fa2 (likewise b).
template <typename T>
LA_HD void pass_half_chords(const T* a, const T* b, index_t D, double fa1, double fa2,
                            double fb1, double fb2, double& d2, double& s2, index_t j0 = 0,
                            index_t step = 1) {
  double u = 0.0, v = 0.0;
#if !defined(__CUDACC__)
#pragma omp simd reduction(+ : u, v)
#endif
  for (index_t j = j0; j < D; j += step) {
    const double x = static_cast<double>(a[j]) * fa1 * fa2;
    const double y = static_cast<double>(b[j]) * fb1 * fb2;
    u += (x - y) * (x - y);
    v += (x + y) * (x + y);
  }
  d2 = u;
  s2 = v;
}

template <typename T>
LA_HD index_t argmin_abs(const T* a, index_t D) {
  index_t k = 0;
  double best = fabs(static_cast<double>(a[0]));
  for (index_t j = 1; j < D; ++j) {
    const double v = fabs(static_cast<double>(a[j]));
    if (v < best) {
      best = v;
      k = j;
    }
  }
  return k;
}

// Scale factors of one vector, from its largest magnitude m: (e, s1, s2) scale it into
// [1, 2) exactly. m == 0 leaves the factors at 1.
struct VecScale {
  int e;
  double s1, s2;
};

LA_HD VecScale vec_scale(double m) {
  VecScale s{0, 1.0, 1.0};
  if (m > 0.0) pow2_scale(m, s.e, s.s1, s.s2);
  return s;
}

// The mode and the angle from the sums of the three passes. d2 and s2 are the squared
// lengths of a^ - b^ and a^ + b^, so omega = 2 atan2(|a^-b^|, |a^+b^|) is accurate at
// every angle, and pi - omega = 2 atan2(|a^+b^|, |a^-b^|) likewise.
LA_HD PairGeom finish_geometry(double ma, double mb, const VecScale& sa, const VecScale& sb,
                               double qa, double qb, double d2, double s2, index_t D) {
  PairGeom g{};
  g.k = -1;
  g.na = ldexp(sqrt(qa), sa.e);
  g.nb = ldexp(sqrt(qb), sb.e);
  if (!(ma > 0.0) || !(mb > 0.0)) {
    g.mode = kModeLerp;
    return g;
  }
  g.ratio = ldexp(sqrt(qb / qa), sb.e - sa.e);
  const double d = sqrt(d2), s = sqrt(s2);
  g.omega = 2.0 * atan2(d, s);
  g.delta = 2.0 * atan2(s, d);
  const double h2 = d2 + s2;
  g.sin_omega = 2.0 * d * s / h2;
  g.cos_omega = (s2 - d2) / h2;
  if (g.omega < kParallelTol) {
    g.mode = kModeLerp;
  } else if (g.delta < kAntipodalTol) {
    g.mode = D > 1 ? kModeAntipodal : kModeLerp;
  } else {
    g.mode = kModeSlerp;
  }
  return g;
}

// The antipodal construction needs the index of the smallest |a_j| and a^ there.
template <typename T>
LA_HD void finish_antipodal(PairGeom& g, const T* a, index_t D, const VecScale& sa, double qa) {
  g.k = argmin_abs(a, D);
  g.ak = static_cast<double>(a[g.k]) * sa.s1 * sa.s2 / sqrt(qa);
  g.su = sqrt(1.0 - g.ak * g.ak);
}

// Below this |cos omega| the angle follows accurately from the dot product
// (|a^ -+ b^|^2 = 2 -+ 2 cos omega lose at most a factor 10 of relative precision).
constexpr double kDotCosLimit = 0.9;
// Squared norms in this range have neither overflowed nor lost bits to underflow.
constexpr double kSafeSqMin = 1e-280, kSafeSqMax = 1e280;

// The careful path: scaled passes that survive any finite magnitude and find NaN/Inf.
template <typename T>
LA_HD PairGeom pair_geometry_scaled(const T* a, const T* b, index_t D, int* bad) {
  PairGeom g{};
  g.mode = kModeLerp;
  g.k = -1;
  double ma, mb, bad_a, bad_b, qa, qb;
  pass_max_abs(a, b, D, ma, mb, bad_a, bad_b);
  if (bad_a != 0.0 || bad_b != 0.0) {  // NaN compares unequal to 0 as well
    *bad = (bad_a != 0.0) ? kBadA : kBadB;
    return g;
  }
  const VecScale sa = vec_scale(ma), sb = vec_scale(mb);
  pass_sum_sq(a, b, D, sa.s1, sa.s2, sb.s1, sb.s2, qa, qb);
  double d2 = 0.0, s2 = 0.0;
  if (ma > 0.0 && mb > 0.0)
    pass_half_chords(a, b, D, sa.s1, sa.s2 / sqrt(qa), sb.s1, sb.s2 / sqrt(qb), d2, s2);
  g = finish_geometry(ma, mb, sa, sb, qa, qb, d2, s2, D);
  if (g.mode == kModeAntipodal) finish_antipodal(g, a, D, sa, qa);
  return g;
}

// The whole per-row geometry (the CPU path; the CUDA kernel does the scaled passes as
// block reductions and calls finish_geometry). One pass of dot products settles most
// rows; nearly parallel or antipodal rows add the half-chord pass, and rows of extreme
// magnitude or with NaN/Inf take the scaled path. *bad receives kBadA/kBadB when a row
// holds NaN or Inf.
template <typename T>
LA_HD PairGeom pair_geometry(const T* a, const T* b, index_t D, int* bad) {
  double aa, bb, ab;  // one pass: a.a, b.b and a.b, unscaled
  dot_and_norms(a, b, D, 1.0, 1.0, ab, aa, bb);
  if (!(aa >= kSafeSqMin && aa <= kSafeSqMax && bb >= kSafeSqMin && bb <= kSafeSqMax && is_finite(ab)))
    return pair_geometry_scaled(a, b, D, bad);
  const VecScale unit{0, 1.0, 1.0};
  const double ra = 1.0 / sqrt(aa), rb = 1.0 / sqrt(bb);
  const double c = ab * ra * rb;
  double d2, s2;
  if (fabs(c) <= kDotCosLimit) {
    d2 = 2.0 - 2.0 * c;
    s2 = 2.0 + 2.0 * c;
  } else {
    pass_half_chords(a, b, D, 1.0, ra, 1.0, rb, d2, s2);
  }
  PairGeom g = finish_geometry(1.0, 1.0, unit, unit, aa, bb, d2, s2, D);
  if (g.mode == kModeAntipodal) finish_antipodal(g, a, D, unit, aa);
  return g;
}

// sin(z) and cos(z) for z in [0, pi/2]: Taylor polynomials (to degree 21 and 22,
// truncation < 2e-18) with full relative precision of sin near 0.
LA_HD void taylor_sincos(double z, double& s, double& c) {
  const double z2 = z * z;
  double p = 1.0 / 51090942171709440000.0;  // 1/21!
  p = p * z2 - 1.0 / 121645100408832000.0;
  p = p * z2 + 1.0 / 355687428096000.0;
  p = p * z2 - 1.0 / 1307674368000.0;
  p = p * z2 + 1.0 / 6227020800.0;
  p = p * z2 - 1.0 / 39916800.0;
  p = p * z2 + 1.0 / 362880.0;
  p = p * z2 - 1.0 / 5040.0;
  p = p * z2 + 1.0 / 120.0;
  p = p * z2 - 1.0 / 6.0;
  s = z + z * (p * z2);
  double q = -1.0 / 1124000727777607680000.0;  // -1/22!
  q = q * z2 + 1.0 / 2432902008176640000.0;
  q = q * z2 - 1.0 / 6402373705728000.0;
  q = q * z2 + 1.0 / 20922789888000.0;
  q = q * z2 - 1.0 / 87178291200.0;
  q = q * z2 + 1.0 / 479001600.0;
  q = q * z2 - 1.0 / 3628800.0;
  q = q * z2 + 1.0 / 40320.0;
  q = q * z2 - 1.0 / 720.0;
  q = q * z2 + 1.0 / 24.0;
  q = q * z2 - 0.5;
  c = 1.0 + q * z2;
}

// sin(x) and cos(x). On [0, pi] — every point of the arc for t in [0, 1] — branch-light
// polynomials that a loop over times can vectorise (sin(pi - z) = sin z, cos(pi - z) =
// -cos z); elsewhere (extrapolation) the library functions.
LA_HD void arc_sincos(double x, double& s, double& c) {
  if (!(x >= 0.0 && x <= kPi)) {
    s = sin(x);
    c = cos(x);
    return;
  }
  const bool upper = x > kHalfPi;
  taylor_sincos(upper ? kPi - x : x, s, c);
  if (upper) c = -c;
}

// Coefficients of the linear form at time t. t == 0 and t == 1 give the endpoints
// exactly, in every mode.
LA_HD Coeffs interp_coeffs(const PairGeom& g, double t, bool spherical) {
  Coeffs c{1.0, 0.0, 0.0, -1};
  if (t == 0.0) return c;
  if (t == 1.0) {
    c.ca = 0.0;
    c.cb = 1.0;
    return c;
  }
  if (!spherical || g.mode == kModeLerp) {
    c.ca = 1.0 - t;
    c.cb = t;
    return c;
  }
  if (g.mode == kModeSlerp) {
    // One sine and cosine of t*omega per step: sin((1-t)w) = sin w cos tw - cos w sin tw.
    // Its absolute error, ~eps / sin w, is the conditioning of the formula itself.
    double st, ct;
    arc_sincos(t * g.omega, st, ct);
    const double inv = 1.0 / g.sin_omega;
    c.ca = (g.sin_omega * ct - g.cos_omega * st) * inv;
    c.cb = st * inv;
    return c;
  }
  // Antipodal: r(t) (cos(pi t) a^ + sin(pi t) u), u = (e_k - a^_k a^) / su,
  // r(t) = (1-t)|a| + t|b|, folded into the coefficients of a and of e_k.
  const double cp = cos(kPi * t), sp = sin(kPi * t);
  c.ca = ((1.0 - t) + t * g.ratio) * (cp - sp * g.ak / g.su);
  c.cb = 0.0;
  c.ck = ((1.0 - t) * g.na + t * g.nb) * sp / g.su;
  c.k = g.k;
  return c;
}

// The slerp coefficients (ca, cb) of a kModeSlerp row at n times, the same values as
// interp_coeffs, in a loop a compiler can vectorise; times whose arc argument leaves
// [0, pi] (extrapolation) are redone by interp_coeffs with the library sine.
template <typename T>
LA_HD void slerp_coeffs_row(const PairGeom& g, const T* t, index_t n, double* ca, double* cb) {
  const double inv = 1.0 / g.sin_omega, so = g.sin_omega, co = g.cos_omega, w = g.omega;
#if !defined(__CUDACC__)
#pragma omp simd
#endif
  for (index_t s = 0; s < n; ++s) {
    const double x = static_cast<double>(t[s]) * w;
    const double xr = (x >= 0.0 && x <= kPi) ? x : 0.0;
    const bool upper = xr > kHalfPi;
    double sn, cs;
    taylor_sincos(upper ? kPi - xr : xr, sn, cs);
    cs = upper ? -cs : cs;
    ca[s] = (so * cs - co * sn) * inv;
    cb[s] = sn * inv;
  }
  for (index_t s = 0; s < n; ++s) {
    const double x = static_cast<double>(t[s]) * w;
    if (!(x >= 0.0 && x <= kPi)) {
      const Coeffs c = interp_coeffs(g, static_cast<double>(t[s]), true);
      ca[s] = c.ca;
      cb[s] = c.cb;
    }
  }
}

}  // namespace latentatlas
