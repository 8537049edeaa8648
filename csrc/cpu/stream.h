// Row writers for the CPU loops. Outputs much larger than the caches are written with
// non-temporal (streaming) stores: a plain store first reads the line it fills, which
// costs a third of the memory traffic of an output-bound kernel.
#pragma once

#include <cstdint>

#include "../common.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define LA_HAVE_STREAM 1
#else
#define LA_HAVE_STREAM 0
#endif

namespace latentatlas {

// Outputs above this size are streamed (larger than the last-level caches of most CPUs
// a call shares with others, so the lines would be evicted before being read anyway).
constexpr std::int64_t kStreamBytes = std::int64_t{16} << 20;

// -1: stream outputs of at least kStreamBytes (default); 0: never; 1: always. For the
// benchmarks, which compare both ways in one run.
int streaming_mode();
void set_streaming_mode(int mode);

inline bool use_streaming(std::int64_t out_bytes) {
  const int m = streaming_mode();
  return m < 0 ? out_bytes >= kStreamBytes : m > 0;
}

#if LA_HAVE_STREAM
__attribute__((always_inline)) inline void stream_line(float* dst, const float* src) {
  for (int i = 0; i < 16; i += 4) _mm_stream_ps(dst + i, _mm_load_ps(src + i));
}
__attribute__((always_inline)) inline void stream_line(double* dst, const double* src) {
  for (int i = 0; i < 8; i += 2) _mm_stream_pd(dst + i, _mm_load_pd(src + i));
}
// Makes this thread's streaming stores visible before the pool reports the work done.
inline void stream_fence() { _mm_sfence(); }
#else
inline void stream_fence() {}
#endif

// out[j] = value(j) for j < D, rounded to T; streamed when asked and possible.
template <typename T, typename F>
__attribute__((always_inline)) inline void write_row(T* out, index_t D, bool stream, F&& value) {
  index_t j = 0;
#if LA_HAVE_STREAM
  if (stream) {
    constexpr int L = 64 / static_cast<int>(sizeof(T));  // one cache line
    for (; j < D && (reinterpret_cast<std::uintptr_t>(out + j) & 63) != 0; ++j)
      out[j] = static_cast<T>(value(j));
    for (; j + L <= D; j += L) {
      alignas(64) T line[L];
#pragma omp simd
      for (int l = 0; l < L; ++l) line[l] = static_cast<T>(value(j + l));
      stream_line(out + j, line);
    }
  }
#else
  (void)stream;
#endif
#pragma omp simd
  for (index_t i = j; i < D; ++i) out[i] = static_cast<T>(value(i));
}

}  // namespace latentatlas
