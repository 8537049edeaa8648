// CUDA kernel for offset(): a thread per output element, the direction sum of
// kernels/offset.h formed in double.
#include "../kernels/offset.h"
#include "common_cuda.cuh"
#include "launch.h"

namespace latentatlas {
namespace cuda {
namespace {

template <typename T>
__global__ void offset_kernel(const T* z, index_t z_row, const T* vectors, index_t v_row, const T* alphas,
                              T* out, index_t N, index_t A, index_t K, index_t D) {
  const index_t total = N * A * D;
  for (index_t f = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; f < total;
       f += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const index_t j = f % D, na = f / D, a = na % A, n = na / A;
    out[f] = offset_apply(z[n * z_row + j], offset_delta(alphas + a * K, vectors, K, v_row, j));
  }
}

}  // namespace

template <typename T>
cudaError_t offset(const T* z, index_t z_row, const T* vectors, index_t v_row, const T* alphas, T* out,
                   index_t N, index_t A, index_t K, index_t D, cudaStream_t stream) {
  const index_t total = N * A * D;
  if (total == 0) return cudaSuccess;
  offset_kernel<T><<<grid_for((total + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      z, z_row, vectors, v_row, alphas, out, N, A, K, D);
  return cudaGetLastError();
}

template cudaError_t offset<float>(const float*, index_t, const float*, index_t, const float*, float*, index_t,
                                   index_t, index_t, index_t, cudaStream_t);
template cudaError_t offset<double>(const double*, index_t, const double*, index_t, const double*, double*,
                                    index_t, index_t, index_t, index_t, cudaStream_t);

}  // namespace cuda
}  // namespace latentatlas
