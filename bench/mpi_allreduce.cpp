// The gradient all-reduce alone: MPI_Allreduce (in place, sum) of a float buffer of --floats
// elements, --iters times, under mpirun -np N (bench/mpi.sh passes the VAE's parameter count).
// Prints the mean time per call, measured on rank 0 after a warm-up, every call preceded by a
// one-float all-reduce so that ranks enter together (the time is the reduction's, not waiting).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/env.hpp"
#include "train/distributed.hpp"

int main(int argc, char** argv) {
  long floats = argc > 1 ? std::stol(argv[1]) : 1000000, iters = argc > 2 ? std::stol(argv[2]) : 200;
  std::vector<float> g(size_t(floats), 1.0f);
  float sync = 0;
  double total = 0;
  for (long i = -10; i < iters; ++i) {
    lz::dist::allreduce_sum(&sync, 1);
    const auto t0 = std::chrono::steady_clock::now();
    lz::dist::allreduce_sum(g.data(), floats);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 0) total += s;
  }
  if (lz::dist::is_root()) {
    lz::bench::print_env();
    std::printf("allreduce ranks=%d floats=%ld bytes=%ld iters=%ld ms_per_call=%.4f\n", lz::dist::size(), floats,
                floats * 4, iters, 1e3 * total / double(iters));
  }
  return 0;
}
