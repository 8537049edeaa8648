#include "parallel.h"
#include "stream.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace latentatlas {
namespace {

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Workers sleep on a condition variable between jobs. A job is a function plus a part
// count; worker w runs part w + 1. The pool is never destroyed (its threads would outlive
// the interpreter's teardown order otherwise) and is rebuilt after fork, where its
// threads do not exist.
class Pool {
 public:
  explicit Pool(int threads) : pid_(getpid()) {
    for (int w = 0; w + 1 < threads; ++w) workers_.emplace_back([this, w] { loop(w); });
  }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  pid_t pid() const { return pid_; }

  // Returns false without running anything when another caller holds the pool.
  // parts is clamped to this pool's own thread count, so a caller that sized its job
  // for another pool (set_num_threads ran in between) never waits for absent workers.
  bool run(int parts, const std::function<void(int)>& fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    parts = std::min(parts, threads());
    {
      std::lock_guard<std::mutex> lk(m_);
      if (stopping_) return false;  // resized by another thread since we looked it up
      job_ = &fn;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

  void stop() {
    std::lock_guard<std::mutex> idle(busy_);  // let a running job finish first
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  void loop(int w) {
    unsigned long long seen = 0;
    for (;;) {
      const std::function<void(int)>* job;
      int parts;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
        if (stopping_) return;
        job = job_;
        parts = parts_;
      }
      if (job && w + 1 < parts) {
        (*job)(w + 1);
        std::lock_guard<std::mutex> lk(m_);
        if (--pending_ == 0) done_cv_.notify_one();
      }
    }
  }

  pid_t pid_;
  std::vector<std::thread> workers_;
  std::mutex busy_, m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0, pending_ = 0;
  unsigned long long generation_ = 0;
  bool stopping_ = false;
};

std::mutex g_config;
std::atomic<int> g_threads{0};
Pool* g_pool = nullptr;

// The pool for this process with the configured size, created or rebuilt as needed. A
// replaced pool is stopped outside the lock (stop() waits for its running job), so other
// callers never queue behind a resize; it is never deleted, since a concurrent caller may
// still be returning from its run() (which then finds it stopped and runs inline).
Pool* pool_for(int threads) {
  Pool* old = nullptr;
  Pool* cur;
  {
    std::lock_guard<std::mutex> lk(g_config);
    if (g_pool && g_pool->pid() != getpid()) g_pool = nullptr;  // forked child: leak the parent's
    if (!g_pool || g_pool->threads() != threads) {
      old = g_pool;
      g_pool = new Pool(threads);
    }
    cur = g_pool;
  }
  if (old) old->stop();
  return cur;
}

}  // namespace

int get_num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_threads();
}

void set_num_threads(int n) { g_threads.store(n > 0 ? n : 0); }

void parallel_for(index_t n, index_t min_per_part,
                  const std::function<void(index_t, index_t)>& fn) {
  if (n <= 0) return;
  const index_t by_size = std::max<index_t>(1, n / std::max<index_t>(1, min_per_part));
  if (by_size <= 1 || get_num_threads() <= 1) {
    fn(0, n);
    return;
  }
  // The thread count is read once, through the pool: the split and the pool that runs it
  // agree even when set_num_threads runs concurrently (Pool::run clamps as well).
  Pool* pool = pool_for(get_num_threads());
  const int parts = static_cast<int>(std::min<index_t>(pool->threads(), by_size));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  // Threads pull contiguous chunks from a shared counter (several per thread), so a
  // thread the OS descheduled on a busy machine does not hold the whole call back.
  const index_t chunks = std::min<index_t>(by_size, static_cast<index_t>(parts) * 8);
  std::atomic<index_t> next{0};
  auto part_fn = [&](int) {
    for (index_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
      const index_t lo = n * c / chunks, hi = n * (c + 1) / chunks;
      if (lo < hi) fn(lo, hi);
    }
  };
  if (!pool->run(parts, part_fn)) fn(0, n);
}

namespace {
std::atomic<int> g_streaming{-1};
}

int streaming_mode() { return g_streaming.load(std::memory_order_relaxed); }
void set_streaming_mode(int mode) { g_streaming.store(mode < 0 ? -1 : (mode > 0 ? 1 : 0)); }

const char* simd_level() {
#if defined(__GNUC__) && defined(__x86_64__) && !defined(LA_NO_CLONES)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2+FMA)";
  return "x86-64 baseline (SSE2)";
#else
  return "compiler default";
#endif
}

}  // namespace latentatlas
