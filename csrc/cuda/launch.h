// The host-side launchers of the CUDA kernels (called by csrc/cuda_bindings.cpp).
#pragma once

#include <cuda_runtime.h>

#include "../common.h"

namespace latentatlas {
namespace cuda {

template <typename T>
cudaError_t interp(int method, const T* a, index_t a_row, const T* b, index_t b_row, const T* t,
                   index_t t_row, T* out, index_t B, index_t nT, index_t D, cudaStream_t stream);

template <typename T>
cudaError_t offset(const T* z, index_t z_row, const T* vectors, index_t v_row, const T* alphas, T* out,
                   index_t N, index_t A, index_t K, index_t D, cudaStream_t stream);

template <typename T>
cudaError_t score(const T* z, index_t z_row, const T* vectors, index_t v_row, bool normalize, T* out,
                  index_t N, index_t K, index_t D, cudaStream_t stream);

}  // namespace cuda
}  // namespace latentatlas
