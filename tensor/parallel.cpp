#include "tensor/parallel.hpp"

#include <cblas.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
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

// How long an idle worker (or the caller waiting for the last pieces) spins before it sleeps (on
// a Signal, below). A training step's products come every few to a few hundred microseconds;
// sleeping between them would add a wake-up (tens of microseconds under load) to each one.
constexpr auto kSpin = std::chrono::microseconds(200);

// Where a thread sleeps once it has spun for kSpin. A mutex and a condition variable, not
// std::atomic::wait: libstdc++ 12's futex path for 32-bit atomics lost a wake-up here (a worker
// slept through the notify of the pool's destructor). The sleeper count makes notify() free when
// nobody sleeps; it and the watched atomic are both seq_cst, so either the notifier sees a sleeper
// or the sleeper sees the change before it waits.
struct Signal {
  std::mutex m;
  std::condition_variable cv;
  std::atomic<int> sleepers{0};
  void notify() {
    if (sleepers.load() > 0) {
      std::lock_guard<std::mutex> g(m);
      cv.notify_all();
    }
  }
};

template <typename Pred>
void spin_then_wait(Signal& signal, Pred done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0; !done(); ++i) {
    LZ_CPU_RELAX();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
      std::unique_lock<std::mutex> lock(signal.m);
      signal.sleepers.fetch_add(1);
      while (!done()) signal.cv.wait(lock);
      signal.sleepers.fetch_sub(1);
      return;
    }
  }
}

class Pool {
 public:
  explicit Pool(int workers) : slots_(new Slot[workers + 1]) {
    for (int w = 1; w <= workers; ++w) workers_.emplace_back([this, w] { work(w); });
  }
  ~Pool() {
    stop_.store(true);
    generation_.fetch_add(1);
    work_signal_.notify();
    for (auto& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs the job if the pool is free; returns false (having run nothing) if another caller holds it.
  bool try_run(int parts, void (*fn)(void*, int), void* ctx) {
    if (in_part_) return false;  // checked first: a part's own caller may hold busy_
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    fn_ = fn, ctx_ = ctx, error_ = nullptr, parts_ = static_cast<uint32_t>(parts);
    done_.store(0, std::memory_order_relaxed);
    const int n = size();
    const uint64_t job = (slots_[0].claim.load(std::memory_order_relaxed) >> 32) + 1;
    for (int t = 0; t < n; ++t) {  // thread t's own pieces: [t parts / n, (t + 1) parts / n)
      const uint64_t begin = uint64_t(t) * parts / n, end = uint64_t(t + 1) * parts / n;
      slots_[t].claim.store(job << 32 | begin << 16 | end, std::memory_order_release);
    }
    generation_.fetch_add(1);
    work_signal_.notify();
    claim_and_run(0);
    const uint32_t all = static_cast<uint32_t>(parts);
    spin_then_wait(done_signal_, [&] { return done_.load() == all; });
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  // Each thread (the caller is 0) owns a contiguous block of a job's pieces, the same block every
  // job of the same length: so the rows a product wrote on one core are the rows the next kernel
  // reads on that core, from its own cache, rather than from the other core's. A thread runs its
  // own pieces first, then takes what is left of the others' (a lost core costs no more than its
  // block's remaining pieces).
  //
  // A slot's claim word packs the job's id (bits 32-63), the block's next unclaimed piece (16-31)
  // and its end (0-15). Claiming is one compare-exchange on it, so a piece is only ever claimed
  // while its job is current and unfinished: the job's fn_ and ctx_ are then still valid (the
  // caller wrote them before publishing the job, and waits for every piece before it returns).
  void claim_and_run(int self) {
    const int n = size();
    for (int k = 0; k < n; ++k) {
      std::atomic<uint64_t>& claim = slots_[(self + k) % n].claim;
      uint64_t v = claim.load(std::memory_order_acquire);
      for (;;) {
        const uint32_t next = (v >> 16) & 0xffff, end = v & 0xffff;
        if (next >= end) break;
        if (!claim.compare_exchange_weak(v, v + (uint64_t(1) << 16), std::memory_order_acq_rel,
                                         std::memory_order_acquire))
          continue;
        const uint32_t parts = parts_;  // read while the job is surely current: a piece of it is ours
        part(static_cast<int>(next));
        if (done_.fetch_add(1) + 1 == parts) done_signal_.notify();
        v = claim.load(std::memory_order_acquire);
      }
    }
  }
  void part(int i) {
    in_part_ = true;  // a part that itself calls run() (a product inside a kernel) runs serially
    try {
      fn_(ctx_, i);
    } catch (...) {
      std::lock_guard<std::mutex> g(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    in_part_ = false;
  }
  void work(int self) {
    uint32_t seen = 0;  // the generation the pool was built with, not the one at thread start:
    for (;;) {          // a job published before this thread ran must not be missed
      spin_then_wait(work_signal_, [&] { return generation_.load() != seen; });
      seen = generation_.load();
      if (stop_.load()) return;
      claim_and_run(self);  // whatever job is current: a worker that slept through one misses nothing
    }
  }

  struct alignas(64) Slot {  // one cache line each: claiming one's own block never contends
    std::atomic<uint64_t> claim{0};
  };
  std::unique_ptr<Slot[]> slots_;
  std::vector<std::thread> workers_;
  std::mutex busy_, error_mutex_;
  std::atomic<uint32_t> generation_{0}, done_{0};
  std::atomic<bool> stop_{false};
  Signal work_signal_, done_signal_;
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  uint32_t parts_ = 0;
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
  if (parts > 1 && parts <= kMaxParts && p && p->try_run(parts, fn, ctx)) return;
  for (int i = 0; i < parts; ++i) fn(ctx, i);
}
}  // namespace parallel

}  // namespace lz
