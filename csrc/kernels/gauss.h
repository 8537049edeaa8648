// The standard normal CDF and its inverse, in double precision, for the Gaussian
// interpolation variants. Host and device share this code.
#pragma once

#include <cmath>

#include "../common.h"

namespace latentatlas {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kSqrt2Pi = 2.50662827463100050242;
// Probabilities are clamped here before the inverse CDF: keeps extrapolated and extreme
// values finite (|z| <= ~37) instead of returning +-inf.
constexpr double kMinProb = 1e-300;

// Phi(x), accurate in the lower tail (erfc keeps relative precision there).
LA_HD double norm_cdf(double x) { return 0.5 * erfc(-x * kInvSqrt2); }

// Phi(x) - 1/2 without the cancellation of forming Phi(x) first.
LA_HD double norm_cdf_centered(double x) { return 0.5 * erf(x * kInvSqrt2); }

// Phi^-1(p) for p in (0, 1/2]: a rational first guess (Acklam's published coefficients,
// relative error ~1e-9) refined by one Halley step against erfc, which brings it to
// double precision over the whole range down to p = 1e-300.
LA_HD double norm_ppf_lower(double p) {
  double x;
  if (p < 0.02425) {
    const double q = sqrt(-2.0 * log(p));
    x = (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q -
           2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00) /
        ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q +
          3.754408661907416e+00) * q + 1.0);
  } else {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r +
           1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q /
        (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r +
           6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1.0);
  }
  const double e = norm_cdf(x) - p;
  const double u = e * kSqrt2Pi * exp(0.5 * x * x);
  return x - u / (1.0 + 0.5 * x * u);
}

// Phi^-1 of (lower, upper) where upper = 1 - lower is carried separately so the upper
// tail keeps its precision; both are clamped to kMinProb.
LA_HD double norm_ppf_split(double lower, double upper) {
  if (lower <= 0.5) return norm_ppf_lower(lower > kMinProb ? lower : kMinProb);
  return -norm_ppf_lower(upper > kMinProb ? upper : kMinProb);
}

// Phi^-1(1/2 + s) for a centred probability s (the slerp-gaussian output space).
LA_HD double norm_ppf_centered(double s) { return norm_ppf_split(0.5 + s, 0.5 - s); }

}  // namespace latentatlas
