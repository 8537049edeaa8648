// CPU loops for slerp / lerp and their Gaussian variants: threads over contiguous runs of
// the flattened (row, time) space; per row the geometry of kernels/interp.h, per time a
// vectorised linear form.
#include <algorithm>
#include <cmath>
#include <new>
#include <vector>

#include "../kernels/gauss.h"
#include "../kernels/interp.h"
#include "ops_cpu.h"
#include "parallel.h"
#include "stream.h"

namespace latentatlas {
namespace {

// Each (row, time) item writes D outputs; keep at least ~64K of them per thread.
constexpr index_t kMinElementsPerPart = 1 << 16;

// One output row of the linear form. Well-conditioned float32 rows (|ca| + |cb| small,
// so no cancellation can magnify rounding) use float arithmetic, the error staying a few
// float32 ulps of the inputs' magnitude; other rows, and all float64 rows, use double.
template <typename T>
__attribute__((always_inline)) inline void combine(const Coeffs& c, const T* a, const T* b, T* out,
                                                   index_t D, bool stream) {
  const double ca = c.ca, cb = c.cb;
  if (c.k >= 0) {  // antipodal (rare): the e_k term, plain stores
#pragma omp simd
    for (index_t j = 0; j < D; ++j)
      out[j] = static_cast<T>(ca * static_cast<double>(a[j]) + cb * static_cast<double>(b[j]));
    out[c.k] = static_cast<T>(ca * static_cast<double>(a[c.k]) + cb * static_cast<double>(b[c.k]) + c.ck);
    return;
  }
  if (sizeof(T) == 4 && std::fabs(ca) + std::fabs(cb) <= 4.0) {
    const float fa = static_cast<float>(ca), fb = static_cast<float>(cb);
    write_row(out, D, stream, [&](index_t j) { return fa * static_cast<float>(a[j]) + fb * static_cast<float>(b[j]); });
    return;
  }
  write_row(out, D, stream,
            [&](index_t j) { return ca * static_cast<double>(a[j]) + cb * static_cast<double>(b[j]); });
}

template <typename T>
__attribute__((always_inline)) inline void copy_row(const T* src, T* out, index_t D, bool stream) {
  write_row(out, D, stream, [&](index_t j) { return src[j]; });
}

// Walks items [lo, hi) of the flattened (row, time) space: setup(i, a, b) runs once per
// row and returns false for a row with a non-finite value (reported, then skipped);
// step(t, s, a, b, out) writes the output row of time index s. Endpoints are copies.
template <typename T, typename Setup, typename Step>
__attribute__((always_inline)) inline void walk_items(const InterpArgs<T>& p, index_t lo, index_t hi,
                                                      bool stream, Setup&& setup, Step&& step) {
  index_t row = -1;
  bool ok = true;
  for (index_t f = lo; f < hi; ++f) {
    const index_t i = f / p.nT, s = f % p.nT;
    const T* a = p.a + i * p.a_row;
    const T* b = p.b + i * p.b_row;
    if (i != row) {
      row = i;
      ok = setup(i, a, b);
      if (i + 1 < p.B) {  // the next pair streams in from memory while this row is written
        constexpr index_t kLine = 64 / static_cast<index_t>(sizeof(T));
        for (index_t j = 0; j < p.D; j += kLine) {
          __builtin_prefetch(a + p.a_row + j);
          __builtin_prefetch(b + p.b_row + j);
        }
      }
    }
    if (!ok) continue;
    const double t = static_cast<double>(p.t[i * p.t_row + s]);
    T* out = p.out + i * p.out_row + s * p.out_t;
    if (t == 0.0) {
      copy_row(a, out, p.D, stream);
    } else if (t == 1.0) {
      copy_row(b, out, p.D, stream);
    } else {
      step(t, s, a, b, out);
    }
  }
  if (stream) stream_fence();
}

// First pass of a row: reports a non-finite a or b row.
template <typename T>
__attribute__((always_inline)) inline bool row_is_finite(const T* a, const T* b, index_t D, index_t i,
                                                         Status& st) {
  double ma, mb, bad_a, bad_b;
  pass_max_abs(a, b, D, ma, mb, bad_a, bad_b);
  if (bad_a == 0.0 && bad_b == 0.0) return true;
  st.report(bad_a != 0.0 ? kBadA : kBadB, i);
  return false;
}

// lerp / slerp. Slerp rows get all their coefficients at once (slerp_coeffs_row
// vectorises over the times) into per-thread buffers of 2T doubles.
template <typename T>
__attribute__((always_inline)) inline void plain_chunk(const InterpArgs<T>& p, index_t lo,
                                                       index_t hi, Status& st, double* ca, double* cb) {
  const bool spherical = p.method == kSlerp;
  const bool stream = use_streaming(p.B * p.nT * p.D * static_cast<index_t>(sizeof(T)));
  PairGeom g{};
  g.mode = kModeLerp;
  walk_items(
      p, lo, hi, stream,
      [&](index_t i, const T* a, const T* b) {
        if (!spherical) return row_is_finite(a, b, p.D, i, st);
        int bad = kNoBad;
        g = pair_geometry(a, b, p.D, &bad);
        if (bad != kNoBad) st.report(bad, i);
        if (bad == kNoBad && g.mode == kModeSlerp) slerp_coeffs_row(g, p.t + i * p.t_row, p.nT, ca, cb);
        return bad == kNoBad;
      },
      [&](double t, index_t s, const T* a, const T* b, T* out) {
        if (spherical && g.mode == kModeSlerp)
          combine(Coeffs{ca[s], cb[s], 0.0, -1}, a, b, out, p.D, stream);
        else
          combine(interp_coeffs(g, t, spherical), a, b, out, p.D, stream);
      });
}

// The Gaussian variants work on per-row tables in double: Phi(+-x) for lerp, the centred
// CDF for slerp. Element math is transcendental, so no attempt at vectorising.
template <typename T>
void gaussian_chunk(const InterpArgs<T>& p, index_t lo, index_t hi, Status& st) {
  const bool spherical = p.method == kSlerpGaussian;
  const index_t D = p.D;
  std::vector<double> tab(static_cast<size_t>(4 * D));
  double* u = tab.data();  // Phi(a) (lerp) or Phi(a) - 1/2 (slerp)
  double* v = u + D;       // the same of b
  double* ua = u + 2 * D;  // lerp only: upper tails Phi(-a), Phi(-b)
  double* ub = u + 3 * D;
  PairGeom g{};
  walk_items(
      p, lo, hi, false,
      [&](index_t i, const T* a, const T* b) {
        if (!row_is_finite(a, b, D, i, st)) return false;
        for (index_t j = 0; j < D; ++j) {
          const double x = static_cast<double>(a[j]), y = static_cast<double>(b[j]);
          if (spherical) {
            u[j] = norm_cdf_centered(x);
            v[j] = norm_cdf_centered(y);
          } else {
            u[j] = norm_cdf(x);
            v[j] = norm_cdf(y);
            ua[j] = norm_cdf(-x);
            ub[j] = norm_cdf(-y);
          }
        }
        int unused = kNoBad;
        if (spherical) g = pair_geometry(u, v, D, &unused);
        return true;
      },
      [&](double t, index_t, const T*, const T*, T* out) {
        if (spherical) {
          const Coeffs c = interp_coeffs(g, t, true);
          for (index_t j = 0; j < D; ++j)
            out[j] = static_cast<T>(norm_ppf_centered(c.ca * u[j] + c.cb * v[j] + (j == c.k ? c.ck : 0.0)));
        } else {
          for (index_t j = 0; j < D; ++j)
            out[j] = static_cast<T>(norm_ppf_split((1.0 - t) * u[j] + t * v[j], (1.0 - t) * ua[j] + t * ub[j]));
        }
      });
}

LA_CLONES void plain_chunk_f32(const InterpArgs<float>& p, index_t lo, index_t hi, Status& st, double* ca,
                               double* cb) {
  plain_chunk(p, lo, hi, st, ca, cb);
}
LA_CLONES void plain_chunk_f64(const InterpArgs<double>& p, index_t lo, index_t hi, Status& st, double* ca,
                               double* cb) {
  plain_chunk(p, lo, hi, st, ca, cb);
}
void plain_chunk_any(const InterpArgs<float>& p, index_t lo, index_t hi, Status& st, double* ca, double* cb) {
  plain_chunk_f32(p, lo, hi, st, ca, cb);
}
void plain_chunk_any(const InterpArgs<double>& p, index_t lo, index_t hi, Status& st, double* ca, double* cb) {
  plain_chunk_f64(p, lo, hi, st, ca, cb);
}

}  // namespace

template <typename T>
void interp_cpu(const InterpArgs<T>& p, Status& st) {
  const index_t items = p.B * p.nT;
  if (items == 0 || p.D == 0) return;
  const bool gaussian = p.method == kLerpGaussian || p.method == kSlerpGaussian;
  // The Gaussian variants cost ~100x more per element; split them finer.
  const index_t per_elem = gaussian ? 100 : 1;
  const index_t min_items = std::max<index_t>(1, kMinElementsPerPart / (p.D * per_elem));
  parallel_for(items, min_items, [&](index_t lo, index_t hi) {
    try {  // the only allocations: per-thread tables of a row or of a row's times
      if (gaussian) {
        gaussian_chunk(p, lo, hi, st);
      } else {
        std::vector<double> coef(p.method == kSlerp ? static_cast<size_t>(2 * p.nT) : 0);
        plain_chunk_any(p, lo, hi, st, coef.data(), coef.data() + (coef.empty() ? 0 : p.nT));
      }
    } catch (const std::bad_alloc&) {
      st.report(kNoMemory, lo / p.nT);
    }
  });
}

template void interp_cpu<float>(const InterpArgs<float>&, Status&);
template void interp_cpu<double>(const InterpArgs<double>&, Status&);

}  // namespace latentatlas
