// SerialBlas: how the mixture's steps keep OpenBLAS single-threaded while they split the points
// over threads of their own. Internal to models/ (gmm_steps.cpp, gmm_factors.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

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

}  // namespace lz::gmm
