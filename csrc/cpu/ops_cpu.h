// The CPU entry points behind the bindings: raw pointers, element strides and sizes.
#pragma once

#include <atomic>

#include "../common.h"

namespace latentatlas {

// The first bad input a kernel met: which argument (BadArg) and which row.
struct Status {
  std::atomic<int> arg{kNoBad};
  std::atomic<index_t> row{-1};
  void report(int which, index_t r) {
    index_t cur = row.load();
    while ((cur < 0 || r < cur) && !row.compare_exchange_weak(cur, r)) {
    }
    if (row.load() == r) arg.store(which);
  }
};

template <typename T>
struct InterpArgs {
  int method;                       // Method
  const T* a; index_t a_row;        // (B, D), row stride in elements, unit inner stride
  const T* b; index_t b_row;
  const T* t; index_t t_row;        // (B or 1, T); t_row == 0 shares the times across rows
  T* out; index_t out_row, out_t;   // (B, T, D)
  index_t B, nT, D;
};

template <typename T>
struct OffsetArgs {
  const T* z; index_t z_row;              // (N, D)
  const T* vectors; index_t v_row;        // (K, D)
  const T* alphas; index_t al_row;        // (A, K), unit inner stride
  T* out; index_t out_row, out_a;         // (N, A, D)
  index_t N, A, K, D;
};

template <typename T>
struct ScoreArgs {
  const T* z; index_t z_row;        // (N, D)
  const T* vectors; index_t v_row;  // (K, D)
  T* out; index_t out_row;          // (N, K), unit inner stride
  index_t N, K, D;
  bool normalize;
};

// Gathered dot products: out[i, c] = q[i] . data[rows[i, c]] (the re-rank of an index's
// candidates); a row outside [0, N) is reported as kBadRows and scores 0.
template <typename T>
struct GatherArgs {
  const T* q; index_t q_row;                 // (Q, D)
  const T* data; index_t data_row;           // (N, D)
  const std::int64_t* rows; index_t rows_row;  // (Q, C), unit inner stride
  T* out; index_t out_row;                   // (Q, C), unit inner stride
  index_t Q, C, N, D;
};

template <typename T> void interp_cpu(const InterpArgs<T>& args, Status& status);
template <typename T> void offset_cpu(const OffsetArgs<T>& args, Status& status);
template <typename T> void score_cpu(const ScoreArgs<T>& args, Status& status);
template <typename T> void gather_score_cpu(const GatherArgs<T>& args, Status& status);

// Multithreaded fill, the memory-write baseline the benchmarks compare against.
template <typename T> void fill_cpu(T* out, index_t n, T value);

}  // namespace latentatlas
