// The engine's own threads: one small pool that the large matrix products and kernels split their
// work over, the caller and set_threads(n) - 1 workers claiming its pieces one at a time.
//
// Why our own and not OpenBLAS's: on this 2-core machine a threaded OpenBLAS call leaves its
// workers spinning after it returns, on the core that our next kernel (or the next small product)
// needs; measured, 2 BLAS threads ran the engine step at 1.1-1.2x one thread. So with n > 1 each
// BLAS call runs single-threaded inside and the engine splits the product itself (rows of C, or
// its columns when C is wide), as it splits an elementwise kernel's range.
//
// A range is cut into a few pieces per thread, at places that depend only on its length and the
// thread count, and every thread (the caller too) takes the next unclaimed piece until none is
// left. On a shared machine a worker may lose its core for milliseconds: the caller then runs the
// remaining pieces itself instead of waiting, so a busy neighbour costs at most one piece. Who ran
// a piece never changes what it computes: same seed, same thread count, same bits.
//
// The pool is for one caller at a time: a call made while another thread holds it (two graphs
// backpropagated on two threads, or the mixture's own point threads calling a product) runs its
// pieces serially on the calling thread, so nothing waits on a pool that is busy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace lz {

// Threads the engine uses (the caller included); 1 (the default) means no workers at all. Also
// sets OpenBLAS to one thread: a program that calls this never runs OpenBLAS's own pool.
// Throws std::invalid_argument outside 1..64.
void set_threads(int n);
int threads();

namespace parallel {

// Calls fn(ctx, part) once for each part in [0, parts) (at most kMaxParts), each claimed by the
// caller or a worker, whichever is free first (all on the caller if the pool is busy or parts ==
// 1). Returns when all have finished; rethrows the first exception a part threw.
constexpr int kMaxParts = 1 << 12;
void run(int parts, void (*fn)(void*, int), void* ctx);
// The same for a callable: f(part) for each part in [0, parts).
template <typename F>
void run_parts(int parts, F&& f) {
  run(parts, [](void* p, int i) { (*static_cast<std::remove_reference_t<F>*>(p))(i); }, &f);
}

// Splits [0, n) into contiguous ranges of whole `grain`s, up to `per_thread` of them per thread
// and none shorter than `min_len` (so a small range stays on one thread), and calls f(begin, end)
// on each. More pieces per thread balance better when a core is lost; fewer cost less when each
// piece repeats work (a GEMM piece packs its shared operand again).
template <typename F>
void for_ranges(int64_t n, int64_t grain, int64_t min_len, F&& f, int per_thread = 4) {
  if (n < 2 * min_len || threads() == 1) {  // the common case first, without a division
    if (n > 0) f(int64_t(0), n);
    return;
  }
  const int64_t grains = (n + grain - 1) / grain;
  const int64_t by_len = min_len > 0 ? n / min_len : grains;
  const int64_t most = std::min<int64_t>(int64_t(threads()) * per_thread, kMaxParts);
  const int parts = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({most, grains, by_len})));
  if (parts == 1) {
    if (n > 0) f(int64_t(0), n);
    return;
  }
  struct Ctx {
    std::remove_reference_t<F>* f;
    int64_t n, grain, grains;
    int parts;
  } ctx{&f, n, grain, grains, parts};
  run(parts, [](void* p, int i) {
    const Ctx& c = *static_cast<Ctx*>(p);
    const int64_t b = std::min(c.n, c.grains * i / c.parts * c.grain);
    const int64_t e = std::min(c.n, c.grains * (i + 1) / c.parts * c.grain);
    if (b < e) (*c.f)(b, e);
  }, &ctx);
}

}  // namespace parallel
}  // namespace lz
