// CUDA kernel for score(): a block per latent row, a warp per attribute vector; each
// lane takes a strided share of the exact dot product of kernels/score.h (operands scaled
// by powers of two so no square overflows), then a warp reduction.
#include "../kernels/score.h"
#include "common_cuda.cuh"
#include "launch.h"

namespace latentatlas {
namespace cuda {
namespace {

__device__ inline double warp_sum(double x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__device__ inline double warp_max(double x) {
  for (int o = 16; o > 0; o >>= 1) x = fmax(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

template <typename T>
__global__ void score_kernel(const T* z, index_t z_row, const T* vectors, index_t v_row, bool normalize,
                             T* out, index_t N, index_t K, index_t D) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (index_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* x = z + n * z_row;
    const double sx = unit_scale(warp_max(max_abs_strided(x, D, lane, 32)));
    for (index_t k = warp; k < K; k += warps) {
      const T* y = vectors + k * v_row;
      const double sy = unit_scale(warp_max(max_abs_strided(y, D, lane, 32)));
      double dot, xx, yy;
      dot_and_norms(x, y, D, sx, sy, dot, xx, yy, lane, 32);
      dot = warp_sum(dot);
      xx = warp_sum(xx);
      yy = warp_sum(yy);
      if (lane == 0) out[n * K + k] = static_cast<T>(normalize ? cosine_from(dot, xx, yy) : dot / sx / sy);
    }
  }
}

}  // namespace

template <typename T>
cudaError_t score(const T* z, index_t z_row, const T* vectors, index_t v_row, bool normalize, T* out,
                  index_t N, index_t K, index_t D, cudaStream_t stream) {
  if (N == 0 || K == 0) return cudaSuccess;
  score_kernel<T><<<grid_for(N), kThreads, 0, stream>>>(z, z_row, vectors, v_row, normalize, out, N, K, D);
  return cudaGetLastError();
}

template cudaError_t score<float>(const float*, index_t, const float*, index_t, bool, float*, index_t, index_t,
                                  index_t, cudaStream_t);
template cudaError_t score<double>(const double*, index_t, const double*, index_t, bool, double*, index_t, index_t,
                                   index_t, cudaStream_t);

}  // namespace cuda
}  // namespace latentatlas
