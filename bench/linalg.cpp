// bench_linalg: tensor/linalg.hpp's kernels against the OpenBLAS calls they replace in the
// Gaussian mixture's steps, in the same process, single-threaded, at the GMM's shapes:
//   tri_solve_sq_norms  vs  (x - mu) copy + cblas_dtrsm (left, lower) + column sum of squares
//   syrk_lower_acc      vs  cblas_dsyrk (lower, no transpose, beta = 1)
//   gemm_panels         vs  cblas_dgemm C = A X, A [K,J], X [J,P] a block of a [J,N] matrix (ld N)
//   gemm_nt_panels_acc  vs  cblas_dgemm S += R Xᵀ, same X
// (the diag mixture's E-step and moments: K = 10 components, J = 2D = 100, blocks of P = 4096 of
// N = 60,000 points; ours reads X packed in panels once, outside the timing, as the mixture does)
// Prints one line per shape, `RESULT linalg_<kernel>_d<D>_p<P> ours=<GF/s> peer=<GF/s> ratio=<ours/peer>`,
// counting D²P flops for either (D²/2 multiply-adds).
//
//   bench_linalg [--seconds 0.3]
#include <cblas.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/linalg.hpp"
#include "tensor/ops.hpp"
#include "tensor/tensor.hpp"

using namespace lz;

namespace {

// GF/s of fn (D²P flops per call), run for about `seconds`, best of 3 rounds.
template <typename F>
double gflops(double flops, double seconds, F fn) {
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    int64_t calls = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double el = 0;
    while (el < seconds / 3) {
      fn();
      ++calls;
      el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    best = std::max(best, flops * static_cast<double>(calls) / el / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    double seconds = 0.3;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
      else throw std::invalid_argument("unknown flag " + a + " (expected --seconds S)");
    }
    set_blas_threads(1);
    Rng rng(1);
    for (int64_t D : {16, 50})
      for (int64_t P : {64, 256, 1308}) {
        TensorD L = TensorD::normal({D, D}, 0, 0.1, rng);
        for (int64_t i = 0; i < D; ++i) {
          L[i * D + i] = 1 + std::abs(L[i * D + i]);
          for (int64_t j = i + 1; j < D; ++j) L[i * D + j] = 0;
        }
        const TensorD X = TensorD::normal({D, P}, 0, 1, rng), mu = TensorD::normal({D}, 0, 1, rng);
        std::vector<double> q(P), Z(D * P), S(D * D);
        const double flops = static_cast<double>(D * D * P);
        const double ours = gflops(flops, seconds, [&] {
          linalg::tri_solve_sq_norms(D, L.data(), D, X.data(), P, mu.data(), P, q.data());
        });
        const double peer = gflops(flops, seconds, [&] {
          for (int64_t d = 0; d < D; ++d)
            for (int64_t p = 0; p < P; ++p) Z[d * P + p] = X[d * P + p] - mu[d];
          cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, D, P, 1.0, L.data(), D,
                      Z.data(), P);
          std::fill(q.begin(), q.end(), 0.0);
          for (int64_t d = 0; d < D; ++d)
            for (int64_t p = 0; p < P; ++p) q[p] += Z[d * P + p] * Z[d * P + p];
        });
        std::printf("RESULT linalg_tri_solve_sq_norms_d%lld_p%lld ours=%.1f peer=%.1f ratio=%.2f GF/s\n",
                    static_cast<long long>(D), static_cast<long long>(P), ours, peer, ours / peer);
        const double ours_s = gflops(flops, seconds, [&] { linalg::syrk_lower_acc(D, X.data(), P, P, S.data(), D); });
        const double peer_s = gflops(flops, seconds, [&] {
          cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, D, P, 1.0, X.data(), P, 1.0, S.data(), D);
        });
        std::printf("RESULT linalg_syrk_lower_acc_d%lld_p%lld ours=%.1f peer=%.1f ratio=%.2f GF/s\n",
                    static_cast<long long>(D), static_cast<long long>(P), ours_s, peer_s, ours_s / peer_s);
      }
    for (int64_t K : {8, 10})
      for (int64_t J : {32, 100}) {
        const int64_t N = 60000, P = 4096;
        const TensorD X = TensorD::normal({J, N}, 0, 1, rng), A = TensorD::normal({K, J}, 0, 1, rng);
        std::vector<double> Xp(linalg::panel_size(J, P)), C(K * P), S(K * J);
        linalg::pack_panels(J, P, X.data(), N, Xp.data());
        const double flops = 2.0 * static_cast<double>(K * J * P);
        const double ours = gflops(flops, seconds, [&] {
          linalg::gemm_panels(K, J, A.data(), J, Xp.data(), P, C.data(), P);
        });
        const double peer = gflops(flops, seconds, [&] {
          cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, P, J, 1.0, A.data(), J, X.data(), N, 0.0, C.data(),
                      P);
        });
        std::printf("RESULT linalg_gemm_panels_k%lld_j%lld_p%lld ours=%.1f peer=%.1f ratio=%.2f GF/s\n",
                    static_cast<long long>(K), static_cast<long long>(J), static_cast<long long>(P), ours, peer,
                    ours / peer);
        const double ours_m = gflops(flops, seconds, [&] {
          linalg::gemm_nt_panels_acc(K, J, C.data(), P, Xp.data(), P, S.data(), J);
        });
        const double peer_m = gflops(flops, seconds, [&] {
          cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, J, P, 1.0, C.data(), P, X.data(), N, 1.0, S.data(),
                      J);
        });
        std::printf("RESULT linalg_gemm_nt_panels_acc_k%lld_j%lld_p%lld ours=%.1f peer=%.1f ratio=%.2f GF/s\n",
                    static_cast<long long>(K), static_cast<long long>(J), static_cast<long long>(P), ours_m, peer_m,
                    ours_m / peer_m);
      }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
