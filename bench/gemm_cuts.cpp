// Which way to cut a product over the engine's threads (tensor/matmul.cpp, gemm_split): for each
// product of the engine MLP, the VAE and the flow benchmarks, the time of one single-threaded
// ?gemm, of the same product cut along C's rows and along its columns into one piece per thread
// (each piece one single-threaded ?gemm, as gemm_split runs them), and of gemm_into itself, which
// picks one of the two cuts (or, for a weight gradient over a batch at least as long as C is tall,
// a cut along K into per-thread partials). No peer: this measures the engine's choice against its
// alternatives. Back-to-back products on the same operands keep both in both cores' caches, so the
// cost of reading rows another core wrote, which the cut along K saves, does not show here.
//
//   bench_gemm_cuts [--threads N] [--reps R]     (default 2 threads, 200 products per timing)
//
// Each figure is the best of 9 timings of R back-to-back products (µs per product), float32.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/env.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/rng.hpp"

using namespace lz;

namespace {

struct Shape3 {
  const char* name;
  bool ta, tb;
  int64_t M, N, K;
};

// The products of the three benches' steps (batch 128 for the MLP and the VAE, 256 for the flow).
constexpr Shape3 kShapes[] = {
    {"engine fwd x W1^T", false, true, 128, 400, 784},   {"engine dW1 g^T x", true, false, 400, 784, 128},
    {"engine dX2 g W2", false, false, 128, 400, 20},     {"vae dec fwd h W4^T", false, true, 128, 784, 400},
    {"vae dec dX g W4", false, false, 128, 400, 784},    {"vae dec dW4 g^T h", true, false, 784, 400, 128},
    {"vae dec fwd z W3^T", false, true, 128, 400, 20},   {"flow fwd x W^T", false, true, 256, 128, 128},
    {"flow dX g W", false, false, 256, 128, 128},        {"flow dW g^T x", true, false, 128, 128, 256},
    {"flow l1 fwd (K=2)", false, true, 256, 128, 2},     {"flow l3 dX (K=4)", false, false, 256, 128, 4},
};

template <typename F>
double best_us(int reps, F&& f) {
  double best = 1e30;
  for (int t = 0; t < 9; ++t) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps * 1e6);
  }
  return best;
}

void sgemm(const Shape3& s, int64_t r0, int64_t r1, int64_t c0, int64_t c1, const float* A, const float* B, float* C) {
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, r1 - r0, c1 - c0, s.K,
              1.0f, s.ta ? A + r0 : A + r0 * lda, lda, s.tb ? B + c0 * ldb : B + c0, ldb, 0.0f, C + r0 * s.N + c0, s.N);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "error: unknown argument '%s' (expected --threads N, --reps R)\n", a.c_str());
      return 2;
    }
  }
  if (threads < 2 || threads > 64 || reps < 1) {
    std::fprintf(stderr, "error: --threads must be in 2..64 (a cut needs two threads), --reps >= 1\n");
    return 2;
  }
  bench::print_env();
  Rng rng(1);
  std::printf("us per product; rows, columns (one piece per thread) and engine (gemm_into) at %d threads\n", threads);
  std::printf("%-22s %14s %9s %9s %9s %9s\n", "product", "M x N x K", "1 thread", "rows", "columns", "engine");
  for (const Shape3& s : kShapes) {
    const TensorF a = TensorF::normal(s.ta ? lz::Shape{s.K, s.M} : lz::Shape{s.M, s.K}, 0, 1, rng);
    const TensorF b = TensorF::normal(s.tb ? lz::Shape{s.N, s.K} : lz::Shape{s.K, s.N}, 0, 1, rng);
    TensorF c({s.M, s.N});
    set_threads(1);
    const double one = best_us(reps, [&] { sgemm(s, 0, s.M, 0, s.N, a.data(), b.data(), c.data()); });
    set_threads(threads);
    const double rows = best_us(reps, [&] {
      parallel::for_ranges(s.M, 16, 1, [&](int64_t r0, int64_t r1) { sgemm(s, r0, r1, 0, s.N, a.data(), b.data(), c.data()); }, 1);
    });
    const double cols = best_us(reps, [&] {
      parallel::for_ranges(s.N, 16, 1, [&](int64_t c0, int64_t c1) { sgemm(s, 0, s.M, c0, c1, a.data(), b.data(), c.data()); }, 1);
    });
    const double engine = best_us(reps, [&] { gemm_into(a, b, c, s.ta, s.tb, 1.0f, 0.0f); });
    std::printf("%-22s %4lldx%4lldx%4lld %9.1f %9.1f %9.1f %9.1f\n", s.name, static_cast<long long>(s.M),
                static_cast<long long>(s.N), static_cast<long long>(s.K), one, rows, cols, engine);
  }
  set_threads(1);
  return 0;
}
