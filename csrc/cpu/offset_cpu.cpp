// CPU loops for offset(): the direction table delta[a] = sum_k alphas[a,k] vectors[k]
// once, summed in double and rounded to the data type, then a vectorised add per
// (latent, strength) row in the data type (within one ulp of rounding z + delta once).
#include <algorithm>
#include <cmath>
#include <vector>

#include "../kernels/offset.h"
#include "ops_cpu.h"
#include "parallel.h"
#include "stream.h"

namespace latentatlas {
namespace {

constexpr index_t kMinElementsPerPart = 1 << 16;

// Adds the table row to each latent row in [lo, hi) of the flattened (n, a) space and
// returns the sum of z - z over the latents it read: NaN exactly when one was not finite.
template <typename T>
__attribute__((always_inline)) inline double add_rows(const OffsetArgs<T>& p, const T* delta,
                                                      index_t lo, index_t hi) {
  const bool stream = use_streaming(p.N * p.A * p.D * static_cast<index_t>(sizeof(T)));
  double chk = 0.0;
  for (index_t f = lo; f < hi; ++f) {
    const index_t n = f / p.A, a = f % p.A;
    const T* z = p.z + n * p.z_row;
    if (a == 0 || f == lo) {
      double c = 0.0;
#pragma omp simd reduction(+ : c)
      for (index_t j = 0; j < p.D; ++j) c += static_cast<double>(z[j]) - static_cast<double>(z[j]);
      chk += c;
    }
    const T* d = delta + a * p.D;
    write_row(p.out + n * p.out_row + a * p.out_a, p.D, stream, [&](index_t j) { return z[j] + d[j]; });
  }
  if (stream) stream_fence();
  return chk;
}

LA_CLONES double add_rows_f32(const OffsetArgs<float>& p, const float* d, index_t lo, index_t hi) {
  return add_rows(p, d, lo, hi);
}
LA_CLONES double add_rows_f64(const OffsetArgs<double>& p, const double* d, index_t lo, index_t hi) {
  return add_rows(p, d, lo, hi);
}
double add_rows_any(const OffsetArgs<float>& p, const float* d, index_t lo, index_t hi) {
  return add_rows_f32(p, d, lo, hi);
}
double add_rows_any(const OffsetArgs<double>& p, const double* d, index_t lo, index_t hi) {
  return add_rows_f64(p, d, lo, hi);
}

}  // namespace

template <typename T>
void offset_cpu(const OffsetArgs<T>& p, Status& st) {
  if (p.N == 0 || p.A == 0 || p.D == 0) return;
  std::vector<T> delta;
  try {
    delta.resize(static_cast<size_t>(p.A * p.D));
  } catch (const std::bad_alloc&) {
    st.report(kNoMemory, 0);
    return;
  }
  for (index_t a = 0; a < p.A; ++a) {
    const T* al = p.alphas + a * p.al_row;
    for (index_t k = 0; k < p.K; ++k)
      if (!std::isfinite(static_cast<double>(al[k]))) {
        st.report(kBadAlphas, a);
        return;
      }
    for (index_t j = 0; j < p.D; ++j) {
      const double d = offset_delta(al, p.vectors, p.K, p.v_row, j);
      if (!std::isfinite(d)) {
        st.report(kBadVectors, 0);
        return;
      }
      delta[static_cast<size_t>(a * p.D + j)] = static_cast<T>(d);
    }
  }
  const index_t items = p.N * p.A;
  const index_t min_items = std::max<index_t>(1, kMinElementsPerPart / p.D);
  parallel_for(items, min_items, [&](index_t lo, index_t hi) {
    const double chk = add_rows_any(p, delta.data(), lo, hi);
    // Non-finite sums come from a non-finite latent (or, in float64, an overflow; the
    // caller tells the two apart).
    if (chk != 0.0) st.report(kBadZ, lo / p.A);
  });
}

template void offset_cpu<float>(const OffsetArgs<float>&, Status&);
template void offset_cpu<double>(const OffsetArgs<double>&, Status&);

}  // namespace latentatlas
