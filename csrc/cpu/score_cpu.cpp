// CPU loops for score(): a register-blocked dot-product kernel (RB latents x KB vectors
// held in vector accumulators), compiled per instruction set and picked at run time.
// Rows whose results are not finite are redone on the exact path of kernels/score.h.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "../kernels/score.h"
#include "ops_cpu.h"
#include "parallel.h"

namespace latentatlas {
namespace {

typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef double f64x4 __attribute__((vector_size(32)));
typedef double f64x2 __attribute__((vector_size(16)));

#define LA_INLINE __attribute__((always_inline)) inline

// Dot products of RB latent rows with KB vectors; lanes are summed in T, the tail and
// the final sum in double.
template <typename T, typename V, int W, int RB, int KB>
LA_INLINE void block_dots(const T* z, index_t z_row, const T* v, index_t v_row, index_t D,
                          double out[RB][KB]) {
  V acc[RB][KB];
  for (int r = 0; r < RB; ++r)
    for (int k = 0; k < KB; ++k) acc[r][k] = V{};
  index_t j = 0;
  for (; j + W <= D; j += W) {
    V zv[RB];
    for (int r = 0; r < RB; ++r) std::memcpy(&zv[r], z + r * z_row + j, sizeof(V));
    for (int k = 0; k < KB; ++k) {
      V vv;
      std::memcpy(&vv, v + k * v_row + j, sizeof(V));
      for (int r = 0; r < RB; ++r) acc[r][k] += zv[r] * vv;
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int k = 0; k < KB; ++k) {
      double s = 0.0;
      for (int l = 0; l < W; ++l) s += static_cast<double>(acc[r][k][l]);
      for (index_t jj = j; jj < D; ++jj)
        s += static_cast<double>(z[r * z_row + jj]) * static_cast<double>(v[k * v_row + jj]);
      out[r][k] = s;
    }
}

template <typename T, typename V, int W>
LA_INLINE double sum_sq(const T* x, index_t D) {
  V acc = V{};
  index_t j = 0;
  for (; j + W <= D; j += W) {
    V xv;
    std::memcpy(&xv, x + j, sizeof(V));
    acc += xv * xv;
  }
  double s = 0.0;
  for (int l = 0; l < W; ++l) s += static_cast<double>(acc[l]);
  for (; j < D; ++j) s += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  return s;
}

// Scores for RB rows starting at row n, all K vectors. A cosine whose sums may have
// overflowed or underflowed in T (sum_sq_safe) is written as NaN, the mark that sends the
// row to the exact path; vok[k] says vector k's own sums are safe.
template <typename T, typename V, int W, int RB, int KB>
LA_INLINE void score_block(const ScoreArgs<T>& p, index_t n, const double* vnorm, const bool* vok) {
  const T* z = p.z + n * p.z_row;
  double zn[RB];
  bool zok[RB];
  if (p.normalize)
    for (int r = 0; r < RB; ++r) {
      const double ss = sum_sq<T, V, W>(z + r * p.z_row, p.D);
      zok[r] = sum_sq_safe<T>(ss, p.D);
      zn[r] = std::sqrt(ss);
    }
  index_t k = 0;
  auto emit = [&](int r, index_t kk, double dot) {
    double s = dot;
    if (p.normalize) {
      if (zok[r] && vok[kk] && std::isfinite(dot)) {
        s = std::min(1.0, std::max(-1.0, dot / (zn[r] * vnorm[kk])));
      } else {
        s = std::numeric_limits<double>::quiet_NaN();
      }
    }
    p.out[(n + r) * p.out_row + kk] = static_cast<T>(s);
  };
  for (; k + KB <= p.K; k += KB) {
    double d[RB][KB];
    block_dots<T, V, W, RB, KB>(z, p.z_row, p.vectors + k * p.v_row, p.v_row, p.D, d);
    for (int r = 0; r < RB; ++r)
      for (int q = 0; q < KB; ++q) emit(r, k + q, d[r][q]);
  }
  for (; k < p.K; ++k) {
    double d[RB][1];
    block_dots<T, V, W, RB, 1>(z, p.z_row, p.vectors + k * p.v_row, p.v_row, p.D, d);
    for (int r = 0; r < RB; ++r) emit(r, k, d[r][0]);
  }
}

template <typename T, typename V, int W, int RB, int KB>
LA_INLINE void score_rows(const ScoreArgs<T>& p, const double* vnorm, const bool* vok, index_t lo,
                          index_t hi) {
  index_t n = lo;
  if (p.K < KB) {  // few vectors: memory-bound, so stream the rows one by one
    for (; n < hi; ++n) score_block<T, V, W, 1, KB>(p, n, vnorm, vok);
    return;
  }
  for (; n + RB <= hi; n += RB) score_block<T, V, W, RB, KB>(p, n, vnorm, vok);
  for (; n < hi; ++n) score_block<T, V, W, 1, KB>(p, n, vnorm, vok);
}

// Gathered dot products for rows [lo, hi) of a GatherArgs: each query against its own
// candidate rows of the data, one block_dots call per pair (candidates are scattered, so
// there is no second operand stride to block over).
template <typename T, typename V, int W>
LA_INLINE void gather_rows(const GatherArgs<T>& p, index_t lo, index_t hi, Status& st) {
  for (index_t i = lo; i < hi; ++i) {
    const T* q = p.q + i * p.q_row;
    const std::int64_t* rows = p.rows + i * p.rows_row;
    T* out = p.out + i * p.out_row;
    for (index_t c = 0; c < p.C; ++c) {
      // The rows are scattered, so the hardware cannot guess the next one: ask for it
      // while this one is being summed.
      if (c + 1 < p.C && rows[c + 1] >= 0 && rows[c + 1] < p.N) {
        const char* next = reinterpret_cast<const char*>(p.data + rows[c + 1] * p.data_row);
        for (index_t b = 0; b < p.D * index_t(sizeof(T)); b += 64) __builtin_prefetch(next + b);
      }
      const std::int64_t r = rows[c];
      if (r < 0 || r >= p.N) {
        st.report(kBadRows, i);
        out[c] = T(0);
        continue;
      }
      const T* row = p.data + r * p.data_row;
      double d[1][1];
      block_dots<T, V, W, 1, 1>(q, 0, row, 0, p.D, d);
      // Lanes summed in T can overflow (or give inf - inf) where the dot product does
      // not: redo those on the scaled exact path.
      out[c] = static_cast<T>(std::isfinite(d[0][0]) ? d[0][0] : exact_dot(q, row, p.D));
    }
  }
}

#define LA_V4 __attribute__((target("arch=x86-64-v4")))
#define LA_V3 __attribute__((target("arch=x86-64-v3")))

using RowsF32 = void (*)(const ScoreArgs<float>&, const double*, const bool*, index_t, index_t);
using RowsF64 = void (*)(const ScoreArgs<double>&, const double*, const bool*, index_t, index_t);

#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
// 32 vector registers: 4 x 5 accumulators; 16 registers: 3 x 3.
LA_V4 void rows_f32_v4(const ScoreArgs<float>& p, const double* vn, const bool* ok, index_t lo,
                 index_t hi) {
  score_rows<float, f32x8, 8, 4, 5>(p, vn, ok, lo, hi);
}
LA_V3 void rows_f32_v3(const ScoreArgs<float>& p, const double* vn, const bool* ok, index_t lo,
                 index_t hi) {
  score_rows<float, f32x8, 8, 3, 3>(p, vn, ok, lo, hi);
}
LA_V4 void rows_f64_v4(const ScoreArgs<double>& p, const double* vn, const bool* ok, index_t lo,
                 index_t hi) {
  score_rows<double, f64x4, 4, 4, 5>(p, vn, ok, lo, hi);
}
LA_V3 void rows_f64_v3(const ScoreArgs<double>& p, const double* vn, const bool* ok, index_t lo,
                 index_t hi) {
  score_rows<double, f64x4, 4, 3, 3>(p, vn, ok, lo, hi);
}
LA_V4 void gather_f32_v4(const GatherArgs<float>& p, index_t lo, index_t hi, Status& st) {
  gather_rows<float, f32x8, 8>(p, lo, hi, st);
}
LA_V3 void gather_f32_v3(const GatherArgs<float>& p, index_t lo, index_t hi, Status& st) {
  gather_rows<float, f32x8, 8>(p, lo, hi, st);
}
LA_V4 void gather_f64_v4(const GatherArgs<double>& p, index_t lo, index_t hi, Status& st) {
  gather_rows<double, f64x4, 4>(p, lo, hi, st);
}
LA_V3 void gather_f64_v3(const GatherArgs<double>& p, index_t lo, index_t hi, Status& st) {
  gather_rows<double, f64x4, 4>(p, lo, hi, st);
}
#endif
void rows_f32_base(const ScoreArgs<float>& p, const double* vn, const bool* ok, index_t lo,
                 index_t hi) {
  score_rows<float, f32x4, 4, 3, 3>(p, vn, ok, lo, hi);
}
void rows_f64_base(const ScoreArgs<double>& p, const double* vn, const bool* ok, index_t lo,
                 index_t hi) {
  score_rows<double, f64x2, 2, 3, 3>(p, vn, ok, lo, hi);
}
void gather_f32_base(const GatherArgs<float>& p, index_t lo, index_t hi, Status& st) {
  gather_rows<float, f32x4, 4>(p, lo, hi, st);
}
void gather_f64_base(const GatherArgs<double>& p, index_t lo, index_t hi, Status& st) {
  gather_rows<double, f64x2, 2>(p, lo, hi, st);
}

template <typename Fn>
Fn pick(Fn v4, Fn v3, Fn base) {
#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return v4;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return v3;
#endif
  (void)v4;
  (void)v3;
  return base;
}

RowsF32 rows_fn(float*) {
#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
  static const RowsF32 f = pick<RowsF32>(rows_f32_v4, rows_f32_v3, rows_f32_base);
#else
  static const RowsF32 f = rows_f32_base;
#endif
  return f;
}
RowsF64 rows_fn(double*) {
#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
  static const RowsF64 f = pick<RowsF64>(rows_f64_v4, rows_f64_v3, rows_f64_base);
#else
  static const RowsF64 f = rows_f64_base;
#endif
  return f;
}

using GatherF32 = void (*)(const GatherArgs<float>&, index_t, index_t, Status&);
using GatherF64 = void (*)(const GatherArgs<double>&, index_t, index_t, Status&);

GatherF32 gather_fn(float*) {
#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
  static const GatherF32 f = pick<GatherF32>(gather_f32_v4, gather_f32_v3, gather_f32_base);
#else
  static const GatherF32 f = gather_f32_base;
#endif
  return f;
}
GatherF64 gather_fn(double*) {
#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
  static const GatherF64 f = pick<GatherF64>(gather_f64_v4, gather_f64_v3, gather_f64_base);
#else
  static const GatherF64 f = gather_f64_base;
#endif
  return f;
}

// The exact path for one row: operands scaled by powers of two, sums in double.
template <typename T>
bool exact_row(const ScoreArgs<T>& p, index_t n, const std::vector<double>& vscale) {
  const T* z = p.z + n * p.z_row;
  const double mz = max_abs_strided(z, p.D);
  if (!std::isfinite(mz)) return false;
  for (index_t j = 0; j < p.D; ++j)
    if (!std::isfinite(static_cast<double>(z[j]))) return false;
  const double sz = unit_scale(mz);
  for (index_t k = 0; k < p.K; ++k) {
    double dot, zz, vv;
    dot_and_norms(z, p.vectors + k * p.v_row, p.D, sz, vscale[k], dot, zz, vv);
    const double s = p.normalize ? cosine_from(dot, zz, vv) : dot / sz / vscale[k];
    p.out[n * p.out_row + k] = static_cast<T>(s);
  }
  return true;
}

}  // namespace

template <typename T>
void score_cpu(const ScoreArgs<T>& p, Status& st) {
  if (p.N == 0 || p.K == 0) return;
  std::vector<double> vnorm, vscale;
  std::unique_ptr<bool[]> vok;
  try {
    vnorm.resize(static_cast<size_t>(p.K));
    vscale.resize(static_cast<size_t>(p.K));
    vok.reset(new bool[static_cast<size_t>(p.K)]);
  } catch (const std::bad_alloc&) {
    st.report(kNoMemory, 0);
    return;
  }
  for (index_t k = 0; k < p.K; ++k) {
    const T* v = p.vectors + k * p.v_row;
    const double m = max_abs_strided(v, p.D);
    double bad = 0.0;
    for (index_t j = 0; j < p.D; ++j) bad += static_cast<double>(v[j]) - static_cast<double>(v[j]);
    if (bad != 0.0 || !std::isfinite(m)) {
      st.report(kBadVectors, k);
      return;
    }
    vscale[k] = unit_scale(m);
    double dot, a, b;
    dot_and_norms(v, v, p.D, vscale[k], vscale[k], dot, a, b);
    vnorm[k] = std::sqrt(a) / vscale[k];
    vok[k] = sum_sq_safe<T>(vnorm[k] * vnorm[k], p.D);
  }
  const auto rows = rows_fn(static_cast<T*>(nullptr));
  const index_t work_per_row = std::max<index_t>(1, p.D * p.K);
  const index_t min_rows = std::max<index_t>(1, (index_t{1} << 18) / work_per_row);
  parallel_for(p.N, min_rows, [&](index_t lo, index_t hi) {
    rows(p, vnorm.data(), vok.get(), lo, hi);
    for (index_t n = lo; n < hi; ++n) {
      const T* o = p.out + n * p.out_row;
      bool finite = true;
      for (index_t k = 0; k < p.K; ++k) finite &= std::isfinite(static_cast<double>(o[k]));
      if (!finite && !exact_row(p, n, vscale)) st.report(kBadZ, n);
    }
  });
}

template void score_cpu<float>(const ScoreArgs<float>&, Status&);
template void score_cpu<double>(const ScoreArgs<double>&, Status&);

template <typename T>
void gather_score_cpu(const GatherArgs<T>& p, Status& st) {
  if (p.Q == 0 || p.C == 0) return;
  const auto rows = gather_fn(static_cast<T*>(nullptr));
  const index_t min_rows = std::max<index_t>(1, (index_t{1} << 16) / std::max<index_t>(1, p.C * p.D));
  parallel_for(p.Q, min_rows, [&](index_t lo, index_t hi) { rows(p, lo, hi, st); });
}

template void gather_score_cpu<float>(const GatherArgs<float>&, Status&);
template void gather_score_cpu<double>(const GatherArgs<double>&, Status&);

// Plain stores, like the kernels' own: the fair write-bandwidth ceiling for them.
template <typename T>
LA_INLINE void fill_range(T* out, index_t lo, index_t hi, T value) {
#pragma omp simd
  for (index_t j = lo; j < hi; ++j) out[j] = value;
}
LA_CLONES void fill_f32(float* o, index_t lo, index_t hi, float v) { fill_range(o, lo, hi, v); }
LA_CLONES void fill_f64(double* o, index_t lo, index_t hi, double v) { fill_range(o, lo, hi, v); }
void fill_any(float* o, index_t lo, index_t hi, float v) { fill_f32(o, lo, hi, v); }
void fill_any(double* o, index_t lo, index_t hi, double v) { fill_f64(o, lo, hi, v); }

template <typename T>
void fill_cpu(T* out, index_t n, T value) {
  parallel_for(n, 1 << 16, [&](index_t lo, index_t hi) { fill_any(out, lo, hi, value); });
}

template void fill_cpu<float>(float*, index_t, float);
template void fill_cpu<double>(double*, index_t, double);

}  // namespace latentatlas
