// CUDA kernels for slerp / lerp and the Gaussian variants: a block per row (grid-stride),
// the row geometry of kernels/interp.h as block reductions, then every time step written
// by the whole block with the same coefficients the CPU uses.
#include "../kernels/gauss.h"
#include "../kernels/interp.h"
#include "common_cuda.cuh"
#include "launch.h"

namespace latentatlas {
namespace cuda {
namespace {

// The geometry of rows (x, y) of length D, as the CPU's pair_geometry computes it.
template <typename G>
__device__ PairGeom block_geometry(const G* x, const G* y, index_t D, double* smem) {
  double ma, mb, bad_a, bad_b;
  pass_max_abs(x, y, D, ma, mb, bad_a, bad_b, threadIdx.x, blockDim.x);
  ma = block_max(ma, smem);
  mb = block_max(mb, smem);
  const VecScale sa = vec_scale(ma), sb = vec_scale(mb);
  double qa, qb;
  pass_sum_sq(x, y, D, sa.s1, sa.s2, sb.s1, sb.s2, qa, qb, threadIdx.x, blockDim.x);
  qa = block_sum(qa, smem);
  qb = block_sum(qb, smem);
  double d2 = 0.0, s2 = 0.0;
  if (ma > 0.0 && mb > 0.0) {
    pass_half_chords(x, y, D, sa.s1, sa.s2 / sqrt(qa), sb.s1, sb.s2 / sqrt(qb), d2, s2, threadIdx.x,
                     blockDim.x);
    d2 = block_sum(d2, smem);
    s2 = block_sum(s2, smem);
  }
  PairGeom g = finish_geometry(ma, mb, sa, sb, qa, qb, d2, s2, D);
  if (g.mode == kModeAntipodal) finish_antipodal(g, x, D, sa, qa);  // rare: every thread scans
  return g;
}

template <typename T>
__global__ void plain_kernel(bool spherical, const T* a, index_t a_row, const T* b, index_t b_row,
                             const T* t, index_t t_row, T* out, index_t B, index_t nT, index_t D) {
  __shared__ double smem[32];
  for (index_t i = blockIdx.x; i < B; i += gridDim.x) {
    const T* ar = a + i * a_row;
    const T* br = b + i * b_row;
    PairGeom g{};
    g.mode = kModeLerp;
    if (spherical) g = block_geometry(ar, br, D, smem);
    for (index_t s = 0; s < nT; ++s) {
      const Coeffs c = interp_coeffs(g, static_cast<double>(t[i * t_row + s]), spherical);
      T* o = out + (i * nT + s) * D;
      for (index_t j = threadIdx.x; j < D; j += blockDim.x) {
        double v = c.ca * static_cast<double>(ar[j]) + c.cb * static_cast<double>(br[j]);
        if (j == c.k) v += c.ck;
        o[j] = static_cast<T>(v);
      }
    }
  }
}

// u = Phi(x) - 1/2, the slerp-gaussian working space, into a (2, B, D) double scratch.
template <typename T>
__global__ void centered_cdf_kernel(const T* a, index_t a_row, const T* b, index_t b_row, double* u,
                                    index_t B, index_t D) {
  const index_t n = B * D;
  for (index_t f = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; f < n;
       f += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const index_t i = f / D, j = f % D;
    u[f] = norm_cdf_centered(static_cast<double>(a[i * a_row + j]));
    u[n + f] = norm_cdf_centered(static_cast<double>(b[i * b_row + j]));
  }
}

template <typename T>
__global__ void gaussian_kernel(bool spherical, const T* a, index_t a_row, const T* b, index_t b_row,
                                const double* u, const T* t, index_t t_row, T* out, index_t B, index_t nT,
                                index_t D) {
  __shared__ double smem[32];
  for (index_t i = blockIdx.x; i < B; i += gridDim.x) {
    const T* ar = a + i * a_row;
    const T* br = b + i * b_row;
    const double* ur = spherical ? u + i * D : nullptr;
    const double* vr = spherical ? u + (B + i) * D : nullptr;
    PairGeom g{};
    if (spherical) g = block_geometry(ur, vr, D, smem);
    for (index_t s = 0; s < nT; ++s) {
      const double ts = static_cast<double>(t[i * t_row + s]);
      T* o = out + (i * nT + s) * D;
      const Coeffs c = interp_coeffs(g, ts, spherical);
      for (index_t j = threadIdx.x; j < D; j += blockDim.x) {
        double v;
        if (ts == 0.0) {
          v = static_cast<double>(ar[j]);
        } else if (ts == 1.0) {
          v = static_cast<double>(br[j]);
        } else if (spherical) {
          v = norm_ppf_centered(c.ca * ur[j] + c.cb * vr[j] + (j == c.k ? c.ck : 0.0));
        } else {
          const double x = static_cast<double>(ar[j]), y = static_cast<double>(br[j]);
          v = norm_ppf_split((1.0 - ts) * norm_cdf(x) + ts * norm_cdf(y),
                             (1.0 - ts) * norm_cdf(-x) + ts * norm_cdf(-y));
        }
        o[j] = static_cast<T>(v);
      }
    }
  }
}

}  // namespace

template <typename T>
cudaError_t interp(int method, const T* a, index_t a_row, const T* b, index_t b_row, const T* t,
                   index_t t_row, T* out, index_t B, index_t nT, index_t D, cudaStream_t stream) {
  if (B == 0 || nT == 0 || D == 0) return cudaSuccess;
  const int grid = grid_for(B);
  if (method == kLerp || method == kSlerp) {
    plain_kernel<T><<<grid, kThreads, 0, stream>>>(method == kSlerp, a, a_row, b, b_row, t, t_row, out, B, nT, D);
    return cudaGetLastError();
  }
  double* u = nullptr;
  const bool spherical = method == kSlerpGaussian;
  if (spherical) {
    cudaError_t err = cudaMallocAsync(reinterpret_cast<void**>(&u), sizeof(double) * 2 * B * D, stream);
    if (err != cudaSuccess) return err;
    centered_cdf_kernel<T><<<grid_for((B * D + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        a, a_row, b, b_row, u, B, D);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
  }
  gaussian_kernel<T><<<grid, kThreads, 0, stream>>>(spherical, a, a_row, b, b_row, u, t, t_row, out, B, nT, D);
  cudaError_t err = cudaGetLastError();
  if (u != nullptr) {
    const cudaError_t free_err = cudaFreeAsync(u, stream);
    if (err == cudaSuccess) err = free_err;
  }
  return err;
}

template cudaError_t interp<float>(int, const float*, index_t, const float*, index_t, const float*, index_t,
                                   float*, index_t, index_t, index_t, cudaStream_t);
template cudaError_t interp<double>(int, const double*, index_t, const double*, index_t, const double*, index_t,
                                    double*, index_t, index_t, index_t, cudaStream_t);

}  // namespace cuda
}  // namespace latentatlas
