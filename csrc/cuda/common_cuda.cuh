// Launch helpers shared by the CUDA kernels.
#pragma once

#include <cuda_runtime.h>

#include "../common.h"

namespace latentatlas {
namespace cuda {

constexpr int kThreads = 256;

// Sum of one double over the block; every thread gets the result.
__device__ inline double block_sum(double x, double* smem) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = x;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < (blockDim.x + 31) / 32; ++w) total += smem[w];
  return total;
}

__device__ inline double block_max(double x, double* smem) {
  for (int o = 16; o > 0; o >>= 1) x = fmax(x, __shfl_down_sync(0xffffffffu, x, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = x;
  __syncthreads();
  double m = 0.0;
  for (int w = 0; w < (blockDim.x + 31) / 32; ++w) m = fmax(m, smem[w]);
  return m;
}

inline int grid_for(index_t items) {
  const index_t g = items < 65535 ? items : 65535;
  return static_cast<int>(g > 0 ? g : 1);
}

}  // namespace cuda
}  // namespace latentatlas
