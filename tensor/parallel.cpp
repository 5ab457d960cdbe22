#include "tensor/parallel.hpp"

#include <cblas.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LZ_CPU_RELAX() _mm_pause()
#else
#define LZ_CPU_RELAX() ((void)0)
#endif

namespace lz {
namespace {

// How long an idle worker (or the caller waiting for the workers) spins before it sleeps on the
// futex. A training step's products come every few to few hundred microseconds; sleeping between
// them would add a wake-up (tens of microseconds under load) to each one.
constexpr auto kSpin = std::chrono::microseconds(200);

template <typename Pred>
void spin_then_wait(std::atomic<uint64_t>& word, uint64_t seen, Pred done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0; !done(); ++i) {
    LZ_CPU_RELAX();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
      while (!done()) {
        word.wait(seen, std::memory_order_acquire);
        seen = word.load(std::memory_order_acquire);
      }
      return;
    }
  }
}

class Pool {
 public:
  explicit Pool(int workers) {
    for (int w = 0; w < workers; ++w) workers_.emplace_back([this, w] { work(w + 1); });
  }
  ~Pool() {
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs the job if the pool is free; returns false (having run nothing) if another caller holds it.
  bool try_run(int parts, void (*fn)(void*, int), void* ctx) {
    if (in_part_) return false;  // checked first: the caller of part 0 holds busy_ itself
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    fn_ = fn, ctx_ = ctx, parts_ = parts, error_ = nullptr;
    pending_.store(static_cast<uint64_t>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    part(0);
    spin_then_wait(pending_, pending_.load(std::memory_order_acquire),
                   [&] { return pending_.load(std::memory_order_acquire) == 0; });
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  void part(int i) {
    if (i >= parts_) return;
    in_part_ = true;  // a part that itself calls run() (a product inside a kernel) runs serially
    try {
      fn_(ctx_, i);
    } catch (...) {
      std::lock_guard<std::mutex> g(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    in_part_ = false;
  }
  void work(int i) {
    uint64_t seen = 0;
    for (;;) {
      spin_then_wait(generation_, seen, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load()) return;
      part(i);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_, error_mutex_;
  std::atomic<uint64_t> generation_{0}, pending_{0};
  std::atomic<bool> stop_{false};
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int parts_ = 0;
  std::exception_ptr error_;
  static thread_local bool in_part_;
};
thread_local bool Pool::in_part_ = false;

std::mutex config_mutex;
std::atomic<Pool*> pool{nullptr};  // replaced only by set_threads; never freed while in use
std::atomic<int> n_threads{1};

}  // namespace

void set_threads(int n) {
  if (n < 1 || n > 64) throw std::invalid_argument("threads: expected a count in 1..64, got " + std::to_string(n));
  std::lock_guard<std::mutex> g(config_mutex);
  openblas_set_num_threads(1);
  if (n == n_threads.load()) return;
  delete pool.exchange(nullptr);
  if (n > 1) pool.store(new Pool(n - 1));
  n_threads.store(n);
}

int threads() { return n_threads.load(std::memory_order_relaxed); }

namespace parallel {
void run(int parts, void (*fn)(void*, int), void* ctx) {
  Pool* p = pool.load(std::memory_order_acquire);
  if (parts > 1 && p && parts <= p->size() && p->try_run(parts, fn, ctx)) return;
  for (int i = 0; i < parts; ++i) fn(ctx, i);
}
}  // namespace parallel

}  // namespace lz
