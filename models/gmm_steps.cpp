// The E and M steps made fast (their equations, written out, are gmm_reference.cpp's, which
// tests/models/test_gmm_reference.cpp holds these to), on blocks of points (columns of Xc) so that each
// block and its per-component copy stay in cache while BLAS-3 calls (trsm, syrk, gemm) do the
// heavy work and every other pass is a SIMD loop over points. With full covariances the E-step
// first screens out the (point, component) pairs too improbable to matter (gmm_screen.cpp).
#include "models/gmm_steps.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

#include "models/gmm_blas.hpp"
#include "models/gmm_screen.hpp"
#include "tensor/linalg.hpp"
#include "tensor/math.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/vec.hpp"

namespace lz::gmm {

namespace {
// Yt[d, 0:B] = Xc[d, r0:r0+B] - m[d]: a block of centred points, shifted by m (itself centred).
void shifted_block(const Points& x, int64_t r0, int64_t B, const double* m, double* Yt) {
  for (int64_t d = 0; d < x.D; ++d)
    vec::zip_scalar_right(B, x.Xc.data() + d * x.N + r0, m[d], Yt + d * B, [](auto v, auto c) { return v - c; });
}

// lp [K,B] holds log w_k + log N(x_n; k); turn it into responsibilities in place:
// log p(x_n) = logsumexp_k lp[k,n],  r_kn = exp(lp[k,n] - log p(x_n)).
void normalize_block(double* lp, int64_t B, int64_t K, double* log_px, double* s) {
  // lp becomes exp(lp - max_k), s their sum over k; a point no component explains (all -inf)
  // gets log p = -inf and, below, uniform responsibilities.
  math::logsumexp_cols(K, B, lp, log_px, s, lp);
  vec::map(B, s, s, [](auto v) { return 1.0 / v; });  // s = 0 (all -inf) gives inf, caught below
  for (int64_t k = 0; k < K; ++k) vec::zip(B, lp + k * B, s, lp + k * B, [](auto r, auto inv) { return r * inv; });
  for (int64_t n = 0; n < B; ++n)
    if (!std::isfinite(s[n]))
      for (int64_t k = 0; k < K; ++k) lp[k * B + n] = 1.0 / static_cast<double>(K);
}
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

}  // namespace

Points points(const TensorD& X, const Sum& sum) {
  Points x;
  x.N = X.size(0);
  x.D = X.size(1);
  x.c.assign(x.D + 1, 0.0);  // the column sums, then (a sum's last entry) the number of rows
  for (int64_t n = 0; n < x.N; ++n)
    for (int64_t d = 0; d < x.D; ++d) x.c[d] += X[n * x.D + d];
  x.c[x.D] = static_cast<double>(x.N);
  if (sum) sum(x.c.data(), x.D + 1);
  const double rows = x.c[x.D];
  x.c.pop_back();
  for (auto& v : x.c) v /= rows;
  x.XX = TensorD::empty({2 * x.D, x.N});
  x.Xc = x.XX.view(0, {x.D, x.N});
  x.Xc2 = x.XX.view(x.D * x.N, {x.D, x.N});
  for (int64_t d = 0; d < x.D; ++d)
    for (int64_t n = 0; n < x.N; ++n) x.Xc[d * x.N + n] = X[n * x.D + d] - x.c[d];
  vec::map(x.D * x.N, x.Xc.data(), x.Xc2.data(), [](auto v) { return v * v; });
  return x;
}

void pack_diag(Points& x) {
  const int64_t W = 2 * x.D;
  x.XXp = TensorD::empty({linalg::panel_size(W, x.N)});
  linalg::pack_panels(W, x.N, x.XX.data(), x.N, x.XXp.data());
}

int64_t block_rows(int64_t D) { return std::clamp<int64_t>(16384 / std::max<int64_t>(D, 1), 64, 4096); }
// Points per block of a packed diag E-step: the block's XXp (256 x 2D doubles, 200 KB at D = 50)
// is still in L2 when the moments read it after the E-step's product. bench_gmm --cov diag, 1
// thread, 3 alternated rounds: fashion 0.0137-0.0177 s/iter at 128, 0.0145-0.0161 at 256,
// 0.0133-0.0177 at 512, 0.0209-0.0247 at 4096; synth 0.0092-0.0115 at 256, 0.0100-0.0124 otherwise.
constexpr int64_t kPackedBlock = 256;

// ---- E-step ------------------------------------------------------------------------------
// log w_k + log N(x; μ_k, Σ_k) = log w_k - ½ (D log 2π + ||L_k^{-1}(x - μ_k)||²) - ½ log|Σ_k|
// Every formula works on centred points x - c and means μ - c (M below): the densities are the
// same, and diag/spherical's expanded x² - 2xμ + μ² keeps its digits when data sit far from 0.
//
// m > 0 (full covariances only): screen on the m leading rows where it pays (gmm_screen.hpp).
static double e_step_blocks(const Points& x, const GmmParams& p, const Factors& f, TensorD* R, TensorD* log_px,
                            int64_t m, std::vector<double>* moments) {
  const SerialBlas serial;
  const int64_t N = x.N, D = x.D, K = p.n_components();
  // More points per gathered solve when screening; for diag through OpenBLAS (points not packed),
  // blocks of 4096 points whatever D: a block's two GEMMs are [K,D] x [D,B], and with
  // B = block_rows(D) (327 points at D = 50) they ran OpenBLAS's small-matrix path and the
  // Fashion-MNIST diag iteration was ~25% slower (bench_gmm: 0.0170 against 0.0133 s at 1 thread;
  // synth, D = 16: 4096 as fast as 1024, 12,288 slower).
  const int64_t BR = p.type == CovarianceType::diag ? (x.packed() ? kPackedBlock : 4096)
                    : m > 0                         ? 4 * block_rows(D)
                                                    : block_rows(D);
  const int T = serial.threads(N, BR);
  std::vector<double> bias(K), M(K * D);
  for (int64_t k = 0; k < K; ++k) bias[k] = std::log(p.weights[k]) - 0.5 * D * math::kLog2Pi - f.half_logdet[k];
  for (int64_t i = 0; i < K * D; ++i) M[i] = p.means[i] - x.c[i % D];
  std::vector<double> MP(K * D), muPmu(K, 0.0), mm(K, 0.0);  // (μ-c)∘P, Σ_d (μ-c)² P, ||μ-c||²
  std::vector<double> AP(p.type == CovarianceType::diag ? 2 * K * D : 0);  // diag: [-2 (μ-c)∘P | P] per row
  if (p.type == CovarianceType::tied)  // M becomes L^{-1}(μ-c), row by row
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, K, D, 1.0, f.chol.data(), D,
                M.data(), D);
  for (int64_t i = 0; i < K * D; ++i) {
    if (p.type == CovarianceType::diag) MP[i] = M[i] * f.prec[i];
    muPmu[i / D] += M[i] * MP[i];
    mm[i / D] += M[i] * M[i];
    if (p.type == CovarianceType::diag) {
      AP[i / D * 2 * D + i % D] = -2.0 * MP[i];
      AP[i / D * 2 * D + D + i % D] = f.prec[i];
    }
  }
  const std::vector<double> zero(D, 0.0);

  const int64_t W = moment_width(p.type, D);
  auto part = [&](int64_t begin, int64_t end, double* total) {
    std::vector<double> lp(K * BR), lpx(BR), s(BR), Yt(D * BR), q(BR);
    ScreenScratch scratch(K, D, m > 0 ? BR : 0);
    bool screen_block = m > 0;  // decided block by block, from the last one (gmm_screen.hpp)
    for (int64_t r0 = begin; r0 < end; r0 += BR) {
      const int64_t B = std::min(BR, end - r0);
      const double* Xc = x.Xc.data() + r0;  // [D,B] block of columns, leading dimension N
      const double* Xc2 = x.Xc2.data() + r0;
      switch (p.type) {
        case CovarianceType::full:  // ||L_k^{-1}(x - μ_k)||², one triangular solve per component
          if (screen_block) {
            const int64_t solved = full_log_terms_screened(x, r0, B, K, M.data(), f, bias, m, lp.data(), scratch);
            screen_block = screen_next(true, solved, K, B);
            break;
          }
          for (int64_t k = 0; k < K; ++k) {
            linalg::tri_solve_sq_norms(D, f.chol.data() + k * D * D, D, Xc, N, M.data() + k * D, B, q.data());
            const double b = bias[k];
            vec::map(B, q.data(), lp.data() + k * B, [b](auto v) { return b - 0.5 * v; });
          }
          if (m > 0) screen_block = screen_next(false, drop_below_gap(lp.data(), B, K, q.data()), K, B);
          break;
        case CovarianceType::tied:  // one solve for all: ||L^{-1}(x-c) - L^{-1}(μ_k-c)||²
          shifted_block(x, r0, B, zero.data(), Yt.data());
          cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, D, B, 1.0, f.chol.data(), D,
                      Yt.data(), B);
          for (int64_t k = 0; k < K; ++k) {
            std::fill(q.begin(), q.begin() + B, 0.0);
            for (int64_t d = 0; d < D; ++d) {
              const double mu_kd = M[k * D + d];  // (m is the screening margin, captured above)
              vec::zip(B, Yt.data() + d * B, q.data(), q.data(),
                       [mu_kd](auto y, auto a) { return a + (y - mu_kd) * (y - mu_kd); });
            }
            const double b = bias[k];
            vec::map(B, q.data(), lp.data() + k * B, [b](auto v) { return b - 0.5 * v; });
          }
          break;
        case CovarianceType::diag:  // Σ_d P_kd (x_d - μ_kd)² = -2 (μ_k∘P_k)·x + P_k·(x∘x) + μ_k·P_k μ_k:
          // one product, [K,2D] x [2D,B] over the block's columns of XX (Xc's rows, then Xc2's);
          // r0 is a multiple of BR, so the block starts at a panel of XXp
          if (x.packed())
            linalg::gemm_panels(K, 2 * D, AP.data(), 2 * D, x.XXp.data() + r0 * 2 * D, B, lp.data(), B);
          else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, B, 2 * D, 1.0, AP.data(), 2 * D, Xc, N, 0.0,
                        lp.data(), B);
          for (int64_t k = 0; k < K; ++k) {
            const double b = bias[k] - 0.5 * muPmu[k];
            vec::map(B, lp.data() + k * B, lp.data() + k * B, [b](auto v) { return b - 0.5 * v; });
          }
          break;
        case CovarianceType::spherical:  // P_k (||x||² - 2 μ_k·x + ||μ_k||²)
          std::copy(Xc2, Xc2 + B, q.data());
          for (int64_t d = 1; d < D; ++d) vec::add_into(B, Xc2 + d * N, q.data());
          cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, B, D, 1.0, M.data(), D, Xc, N, 0.0, lp.data(), B);
          for (int64_t k = 0; k < K; ++k) {
            const double b = bias[k], pk = f.prec[k], m2 = mm[k];
            vec::zip(B, lp.data() + k * B, q.data(), lp.data() + k * B,
                     [b, pk, m2](auto xm, auto xx) { return b - 0.5 * pk * (xx - 2.0 * xm + m2); });
          }
          break;
      }
      normalize_block(lp.data(), B, K, lpx.data(), s.data());
      for (int64_t n = 0; n < B; ++n) *total += lpx[n];
      if (R)
        for (int64_t k = 0; k < K; ++k) std::copy(lp.data() + k * B, lp.data() + (k + 1) * B, R->data() + k * N + r0);
      if (log_px) std::copy(lpx.data(), lpx.data() + B, log_px->data() + r0);
      // the M-step's Σ_n r_kn XX[:,n] over this block, while the block is still in cache
      if (moments && x.packed())
        linalg::gemm_nt_panels_acc(K, W, lp.data(), B, x.XXp.data() + r0 * W, B, total + 1, W);
      else if (moments)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, W, B, 1.0, lp.data(), B, x.XX.data() + r0, N, 1.0,
                    total + 1, W);
    }
  };
  std::vector<double> acc = parallel_accumulate(N, BR, T, 1 + (moments ? K * W : 0), part);
  if (moments) moments->assign(acc.begin() + 1, acc.end());
  return acc[0];
}

double e_step(const Points& x, const GmmParams& p, const Factors& f, TensorD* R, TensorD* log_px, bool screen,
              std::vector<double>* moments) {
  const int64_t m = p.type == CovarianceType::full && screen ? screen_rows(x.D) : 0;
  const double total = e_step_blocks(x, p, f, R, log_px, m, moments);
  // Screening moves each r_kn by less than 2e-22: nothing next to a component's mass N_k unless
  // that mass is itself below one point's worth. Then the E-step is redone without screening.
  if (m > 0 && R)
    for (int64_t k = 0; k < p.n_components(); ++k)
      if (vec::sum(x.N, R->data() + k * x.N) < 1.0) return e_step_blocks(x, p, f, R, log_px, 0, moments);
  return total;
}

// ---- M-step ------------------------------------------------------------------------------
// N_k = Σ_n r_kn, w_k = N_k/N, μ_k = Σ_n r_kn x_n / N_k, Σ_k = Σ_n r_kn (x_n-μ_k)(x_n-μ_k)^T / N_k + reg I
int64_t moment_width(CovarianceType type, int64_t D) {
  return type == CovarianceType::diag || type == CovarianceType::spherical ? 2 * D : D;
}

std::vector<double> m_step(const Points& x, const TensorD& R, double reg_covar, GmmParams& p, const Sum& sum,
                           const std::vector<double>* moments) {
  const SerialBlas serial;
  const int64_t N = x.N, D = x.D, K = R.size(0), BR = block_rows(D);
  const int T = serial.threads(N, BR);
  const double tiny = 10 * std::numeric_limits<double>::epsilon();  // keeps an empty component finite
  // μ_k - c = Σ_n r_kn (x_n - c) / N_k: one GEMM, R:[K,N] times Xc^T:[N,D]; for diag and spherical
  // the same GEMM also gives Σ_n r_kn (x_n - c)², R times XX^T:[N,2D] (the variances below)
  const bool squares = p.type == CovarianceType::diag || p.type == CovarianceType::spherical;
  const int64_t W = moment_width(p.type, D);
  if (moments && static_cast<int64_t>(moments->size()) != K * W)
    throw std::logic_error("gmm::m_step: moments of size " + std::to_string(moments->size()) + ", expected " +
                           std::to_string(K * W));
  std::vector<double> MV = moments ? *moments : parallel_accumulate(N, BR, T, K * W, [&](int64_t begin, int64_t end, double* acc) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, W, end - begin, 1.0, R.data() + begin, N,
                x.XX.data() + begin, N, 0.0, acc, W);
  });
  std::vector<double> M(K * D), V2(squares ? K * D : 0);
  for (int64_t k = 0; k < K; ++k) {
    std::copy(MV.begin() + k * W, MV.begin() + k * W + D, M.begin() + k * D);
    if (squares) std::copy(MV.begin() + k * W + D, MV.begin() + (k + 1) * W, V2.begin() + k * D);
  }
  std::vector<double> Nk(K), nk(K);
  for (int64_t k = 0; k < K; ++k) Nk[k] = vec::sum(N, R.data() + k * N);
  if (sum) {  // the shares' N_k and Σ r (x - c) in one all-reduce
    M.insert(M.end(), Nk.begin(), Nk.end());
    sum(M.data(), K * D + K);
    std::copy(M.begin() + K * D, M.end(), Nk.begin());
    M.resize(K * D);
  }
  double total = 0;
  for (int64_t k = 0; k < K; ++k) total += (nk[k] = Nk[k] + tiny);
  p.weights = TensorD::empty({K});
  for (int64_t k = 0; k < K; ++k) p.weights[k] = nk[k] / total;
  for (int64_t i = 0; i < K * D; ++i) M[i] /= nk[i / D];
  // the covariance sums of the shares (around the all-share means), before they are scaled
  auto add_shares = [&](std::vector<double> v) {
    if (sum) sum(v.data(), static_cast<int64_t>(v.size()));
    return v;
  };
  p.means = TensorD::empty({K, D});
  for (int64_t i = 0; i < K * D; ++i) p.means[i] = M[i] + x.c[i % D];

  // S += Y Y^T for a [D,B] block of columns Y (leading dimension ld), lower triangle
  auto syrk = [&](const double* Y, int64_t B, int64_t ld, double* S) { linalg::syrk_lower_acc(D, Y, ld, B, S, D); };
  auto symmetrize = [&](double* S, double scale) {
    for (int64_t i = 0; i < D; ++i) {
      for (int64_t j = 0; j <= i; ++j) S[j * D + i] = S[i * D + j] = S[i * D + j] * scale;
      S[i * D + i] += reg_covar;
    }
  };
  switch (p.type) {
    case CovarianceType::full: {  // Σ_k = (√r_k ∘ (X-μ_k)) (√r_k ∘ (X-μ_k))^T / N_k: one syrk per block,
      // over the block's points with r_kn > 0 only when most are 0 (as the E-step's screening leaves them)
      const int64_t BF = 4 * BR;
      auto part = [&](int64_t begin, int64_t end, double* S) {
        std::vector<double> Yt(D * BF), w(BF);
        std::vector<int64_t> idx(BF);
        for (int64_t r0 = begin; r0 < end; r0 += BF) {
          const int64_t B = std::min(BF, end - r0);
          for (int64_t k = 0; k < K; ++k) {
            const double* r = R.data() + k * N + r0;
            int64_t n_in = 0;
            for (int64_t n = 0; n < B; ++n) {  // branch-free compaction of the points with r_kn > 0
              idx[n_in] = n;
              w[n_in] = r[n];
              n_in += r[n] > 0;
            }
            if (n_in == 0) continue;
            const bool gather = 2 * n_in < B;  // else the zeros cost less than gathering around them
            if (!gather) {
              n_in = B;
              std::copy(r, r + B, w.data());
            }
            vec::map(n_in, w.data(), w.data(), [](auto v) {
              using std::sqrt;
              using xsimd::sqrt;
              return sqrt(v);
            });
            for (int64_t d = 0; d < D; ++d) {
              const double m = M[k * D + d];
              const double* xd = x.Xc.data() + d * N + r0;
              auto shift_scale = [m](auto v, auto sr) { return sr * (v - m); };
              if (gather)
                vec::gather_zip(n_in, xd, idx.data(), w.data(), Yt.data() + d * n_in, shift_scale);
              else
                vec::zip(n_in, xd, w.data(), Yt.data() + d * n_in, shift_scale);
            }
            syrk(Yt.data(), n_in, n_in, S + k * D * D);
          }
        }
      };
      p.covariances = TensorD::from(add_shares(parallel_accumulate(N, BR, T, K * D * D, part)), {K, D, D});
      for (int64_t k = 0; k < K; ++k) symmetrize(p.covariances.data() + k * D * D, 1.0 / nk[k]);
      break;
    }
    case CovarianceType::tied: {  // Σ = (Σ_n (x-c)(x-c)^T - Σ_k N_k (μ_k-c)(μ_k-c)^T) / N
      auto part = [&](int64_t begin, int64_t end, double* S) {
        for (int64_t r0 = begin; r0 < end; r0 += BR) syrk(x.Xc.data() + r0, std::min(BR, end - r0), N, S);
      };
      p.covariances = TensorD::from(add_shares(parallel_accumulate(N, BR, T, D * D, part)), {D, D});
      std::vector<double> Ms(K * D);
      for (int64_t i = 0; i < K * D; ++i) Ms[i] = std::sqrt(nk[i / D]) * M[i];
      cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, D, K, -1.0, Ms.data(), D, 1.0, p.covariances.data(), D);
      symmetrize(p.covariances.data(), 1.0 / total);
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical: {  // σ²_kd = Σ_n r_kn (x_nd-c_d)² / N_k - (μ_kd-c_d)², the sums from the
      // means' GEMM above
      TensorD V = TensorD::from(add_shares(V2), {K, D});
      for (int64_t i = 0; i < K * D; ++i) V[i] = V[i] / nk[i / D] - M[i] * M[i] + reg_covar;
      if (p.type == CovarianceType::diag) {
        p.covariances = V;
      } else {
        p.covariances = TensorD::empty({K});
        for (int64_t k = 0; k < K; ++k) p.covariances[k] = vec::sum(D, V.data() + k * D) / static_cast<double>(D);
      }
      break;
    }
  }
  return Nk;
}

}  // namespace lz::gmm
