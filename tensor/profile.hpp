// Where a step's time goes: an opt-in profiler charging wall time to categories.
//
// Off by default, and then each instrumented place costs one load of a global flag and a branch
// (measured with bench/engine.sh before/after: docs/benchmarks.md). Switched on, the calling
// thread's time is always charged to exactly one category, the innermost open Scope's: a Scope
// switches the category at its start and switches back at its end, so nested work (a GEMM inside
// a VJP, an allocation inside a kernel) is charged to itself and not twice. Time outside every
// Scope is Other: the model's code between ops, Var handles, the trainer's loop.
//
// It lives in tensor/ because the lowest instrumented places (GEMM, storage) are here; autodiff/
// and nn/ open their own Scopes (ops and VJPs, graph bookkeeping, the optimizer step).
// Counters are per thread; totals() reads the calling thread's. Ticks are the CPU's time-stamp
// counter (x86; steady_clock elsewhere), converted to seconds with one calibration.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace lz::profile {

enum class Cat : uint8_t {
  Other,      // outside every scope below
  Gemm,       // cblas ?gemm calls (tensor/ops.cpp)
  Kernel,     // forward ops and VJPs (autodiff/ops), except what is charged below
  Optimizer,  // Optimizer::step (nn/optim)
  Alloc,      // tensor storage acquire / release (tensor/storage.cpp)
  Graph,      // node recording, the topological sort, gradient accumulation, freeing the graph
  kCount
};
inline constexpr int kCats = static_cast<int>(Cat::kCount);
const char* name(Cat c);

namespace detail {
extern std::atomic<bool> g_on;
Cat enter(Cat c) noexcept;   // switch the calling thread to c; returns the category left
void leave(Cat prev) noexcept;
}  // namespace detail

inline bool on() { return detail::g_on.load(std::memory_order_relaxed); }
// Switches profiling on or off for every thread; on also restarts the calling thread's clock in
// Other (so time before enable() is not charged).
void enable(bool on);
// Zeroes the calling thread's counters.
void reset();

struct Totals {
  std::array<double, kCats> seconds{};
  double total() const;
};
Totals totals();  // the calling thread's, up to now

// Charges its lifetime (minus nested scopes) to `c`, when profiling is on.
class Scope {
 public:
  explicit Scope(Cat c) noexcept {
    if (on()) {
      active_ = true;
      prev_ = detail::enter(c);
    }
  }
  ~Scope() {
    if (active_) detail::leave(prev_);
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool active_ = false;
  Cat prev_ = Cat::Other;
};

}  // namespace lz::profile

// At the top of every differentiable op (autodiff/ops/*.cpp): its forward kernel is Kernel time.
#define LZ_PROFILE_OP const ::lz::profile::Scope lz_profile_op_scope_(::lz::profile::Cat::Kernel)
