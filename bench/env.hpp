// The process-level settings a benchmark ran with, printed by each bench binary so a reader can
// check that both sides of a comparison ran alike (the peers print the same from bench/peer_env.py).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <cblas.h>  // OpenBLAS's: openblas_get_config, openblas_get_corename

#include "cli/sizes.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/storage.hpp"

namespace lz::bench {

inline std::string env_or_unset(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "unset";
}

// The BLAS library and the kernel it picked at run time (the config string names the library).
inline std::string blas_info() { return std::string(openblas_get_config()) + " core=" + openblas_get_corename(); }

// Runs the engine on t threads the way it does now (its own threads, OpenBLAS single-threaded
// inside each piece; tensor/parallel.hpp) or, with `blas`, the way it did before that: one engine
// thread and OpenBLAS's own t threads. The second is kept to show the before and after in one run.
inline void use_threads(int t, bool blas) {
  set_threads(blas ? 1 : t);
  if (blas) set_blas_threads(t);
}
inline const char* thread_mode(bool blas) { return blas ? "blas" : "engine"; }

inline void print_env() {
  std::printf("ours env: blas=\"%s\" GLIBC_TUNABLES=%s OPENBLAS_NUM_THREADS=%s OMP_NUM_THREADS=%s MKL_NUM_THREADS=%s tensor_cache=%s cap_mb=%zu\n",
              blas_info().c_str(), env_or_unset("GLIBC_TUNABLES").c_str(), env_or_unset("OPENBLAS_NUM_THREADS").c_str(),
              env_or_unset("OMP_NUM_THREADS").c_str(), env_or_unset("MKL_NUM_THREADS").c_str(),
              storage::cache_enabled() ? "on" : "off(asan)",
              storage::cache_cap() >> 20);
  std::fflush(stdout);
}

// --threads "1,2" -> {1, 2}: thread counts in 1..64 (cli/sizes.hpp checks them, naming the flag).
inline std::vector<int> parse_threads(const std::string& s) {
  const std::vector<int64_t> v = parse_size_list("--threads", s, 64);
  return {v.begin(), v.end()};
}

}  // namespace lz::bench
