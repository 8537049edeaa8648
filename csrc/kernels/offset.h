// The math of offset(): out[n, a, :] = z[n] + sum_k alphas[a, k] * vectors[k].
// The direction sum is formed in double once per (a, j) and added to every latent.
#pragma once

#include "../common.h"

namespace latentatlas {

// delta_j = sum_k alphas[k] * vectors[k, j] for one row of alphas.
template <typename T>
LA_HD double offset_delta(const T* alphas, const T* vectors, index_t K, index_t vec_stride,
                          index_t j) {
  double s = 0.0;
  for (index_t k = 0; k < K; ++k)
    s += static_cast<double>(alphas[k]) * static_cast<double>(vectors[k * vec_stride + j]);
  return s;
}

template <typename T>
LA_HD T offset_apply(T z, double delta) {
  return static_cast<T>(static_cast<double>(z) + delta);
}

}  // namespace latentatlas
