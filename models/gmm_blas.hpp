// SerialBlas: how the mixture's steps keep OpenBLAS single-threaded while they split the points
// over threads of their own, and the two ways they split them (parallel_ranges,
// parallel_accumulate). Internal to models/ (gmm_steps.cpp, gmm_covariance.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

#include "tensor/ops.hpp"  // blas_threads, set_blas_threads
#include "tensor/parallel.hpp"

namespace lz::gmm {

// OpenBLAS's idle workers spin for a while after each threaded call. A threaded BLAS call just
// before our own threads start (the M-step's GEMM did it) leaves a worker spinning on a core they
// need: measured, 2 threads then ran no faster than 1 at twice the CPU time. So each step runs
// BLAS single-threaded from start to end, and splits the points over threads of its own, as many
// as the engine was given (set_threads, --threads) or, in a program that never set that, as many
// as BLAS was given (OPENBLAS_NUM_THREADS).
class SerialBlas {
 public:
  SerialBlas() : threads_(std::max({1, lz::threads(), blas_threads()})), blas_(blas_threads()) {
    if (blas_ > 1) set_blas_threads(1);
  }
  ~SerialBlas() {
    if (blas_ > 1) set_blas_threads(blas_);
  }
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;
  // Threads for a pass over N points in blocks of BR: all of them when there are enough blocks to share.
  int threads(int64_t N, int64_t BR) const { return N >= 8 * BR ? threads_ : 1; }

 private:
  int threads_, blas_;
};

// Runs fn(t, begin, end) for T contiguous ranges of [0,N) (whole blocks of BR) on T threads.
template <typename F>
void parallel_ranges(int64_t N, int64_t BR, int T, F fn) {
  if (T == 1) return fn(0, int64_t(0), N);
  const int64_t blocks = (N + BR - 1) / BR;
  std::vector<std::thread> pool;
  for (int t = 0; t < T; ++t)
    pool.emplace_back(fn, t, std::min(N, blocks * t / T * BR), std::min(N, blocks * (t + 1) / T * BR));
  for (auto& th : pool) th.join();
}

// Σ over T threads (in thread order, so a given thread count always gives the same bits) of
// part(begin, end, acc), each part adding into its own zeroed accumulator of `size` doubles.
template <typename F>
std::vector<double> parallel_accumulate(int64_t N, int64_t BR, int T, int64_t size, F part) {
  std::vector<std::vector<double>> acc(T, std::vector<double>(size, 0.0));
  parallel_ranges(N, BR, T, [&](int t, int64_t b, int64_t e) { part(b, e, acc[t].data()); });
  for (int t = 1; t < T; ++t)
    for (int64_t i = 0; i < size; ++i) acc[0][i] += acc[t][i];
  return acc[0];
}

}  // namespace lz::gmm
