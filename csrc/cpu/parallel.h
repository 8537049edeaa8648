// A small persistent thread pool for the CPU kernels.
#pragma once

#include <functional>

#include "../common.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
// Hot loops are compiled for AVX-512, AVX2+FMA and baseline x86-64, picked at load time.
#define LA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define LA_SIMD_DISPATCH "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), x86-64 baseline"
#else
#define LA_CLONES
#define LA_SIMD_DISPATCH "compiler default"
#endif

namespace latentatlas {

int get_num_threads();
// n <= 0 restores the default (all hardware threads).
void set_num_threads(int n);

// Runs fn(begin, end) over contiguous chunks covering [0, n) on up to num_threads threads
// (the caller is one of them); chunks hold at least min_per_part items, and there are up
// to eight per thread, handed out dynamically. If another caller holds the pool, this call runs inline on its own
// thread: concurrent callers never wait on each other and never deadlock. fn must not
// throw.
void parallel_for(index_t n, index_t min_per_part, const std::function<void(index_t, index_t)>& fn);

// Which clone target_clones dispatch picks on this CPU, for backend_info().
const char* simd_level();

}  // namespace latentatlas
