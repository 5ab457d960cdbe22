// The E and M steps, written as the equations, on blocks of points so that each block and its
// per-component copy stay in cache while BLAS-3 calls (trsm, syrk, gemm) do the heavy work.
#include "models/gmm_steps.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

#include "tensor/vec.hpp"

namespace lz::gmm {

namespace {
constexpr double kLog2Pi = 1.8378770664093453;  // log 2π

// X - c for rows [r0, r0+B) of X, c a row of D values.
void shifted_block(const double* X, int64_t B, int64_t D, const double* c, double* out) {
  for (int64_t n = 0; n < B; ++n)
    vec::zip(D, X + n * D, c, out + n * D, [](auto x, auto m) { return x - m; });
}

double row_sq(const double* y, int64_t D) {
  return vec::dot(D, y, y);
}

// A row of D values: the centre the diag/spherical/tied formulas expand around. Any point gives
// the same densities in exact arithmetic; the mixture's mean keeps x² - 2xμ + μ² free of
// cancellation when the data sit far from the origin.
std::vector<double> mixture_centre(const GmmParams& p) {
  const int64_t K = p.n_components(), D = p.n_features();
  std::vector<double> c(D, 0.0);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t d = 0; d < D; ++d) c[d] += p.weights[k] * p.means[k * D + d];
  return c;
}

// Turns a block of log w_k + log N(x_n; k) into responsibilities in place:
// log p(x_n) = logsumexp_k(...), r_nk = exp(... - log p(x_n)).
void normalize_block(double* lp, int64_t B, int64_t K, double* log_px) {
  for (int64_t n = 0; n < B; ++n) {
    double* row = lp + n * K;
    const double m = *std::max_element(row, row + K);
    // A point no component can explain (all -inf) gets log p = -inf and uniform responsibilities.
    const double shift = std::isfinite(m) ? m : 0.0;
    for (int64_t k = 0; k < K; ++k) row[k] -= shift;
    log_px[n] = shift;
  }
  vec::map(B * K, lp, lp, [](auto x) {
    using std::exp;
    using xsimd::exp;
    return exp(x);
  });
  for (int64_t n = 0; n < B; ++n) {
    double* row = lp + n * K;
    const double s = vec::sum(K, row);
    log_px[n] += std::log(s);
    const double inv = s > 0 ? 1.0 / s : 0.0;
    for (int64_t k = 0; k < K; ++k) row[k] = s > 0 ? row[k] * inv : 1.0 / static_cast<double>(K);
  }
}
}  // namespace

int64_t block_rows(int64_t D) {
  if (const char* e = std::getenv("LZ_GMM_BLOCK")) return std::atoll(e);
  return std::clamp<int64_t>(16384 / std::max<int64_t>(D, 1), 64, 4096);
}

TensorD cholesky(const TensorD& a, const std::string& what) {
  const int64_t D = a.size(0);
  TensorD L = a.clone();
  const lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', static_cast<lapack_int>(D), L.data(),
                                         static_cast<lapack_int>(D));
  if (info != 0)
    throw std::invalid_argument(what + ": covariance is not positive definite (LAPACKE_dpotrf info=" +
                                std::to_string(info) + "); increase reg_covar or check the data");
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = i + 1; j < D; ++j) L[i * D + j] = 0.0;
  return L;
}

Factors factorize(const GmmParams& p) {
  const int64_t K = p.n_components(), D = p.n_features();
  Factors f;
  f.half_logdet.assign(K, 0.0);
  auto half_logdet_of = [D](const double* L) {
    double s = 0;
    for (int64_t i = 0; i < D; ++i) s += std::log(L[i * D + i]);
    return s;
  };
  switch (p.type) {
    case CovarianceType::full: {
      f.chol = TensorD::empty({K, D, D});
      for (int64_t k = 0; k < K; ++k) {
        TensorD Sk = TensorD::from(std::vector<double>(p.covariances.data() + k * D * D,
                                                       p.covariances.data() + (k + 1) * D * D),
                                   {D, D});
        TensorD L = cholesky(Sk, "component " + std::to_string(k));
        std::copy(L.data(), L.data() + D * D, f.chol.data() + k * D * D);
        f.half_logdet[k] = half_logdet_of(L.data());
      }
      break;
    }
    case CovarianceType::tied: {
      f.chol = cholesky(p.covariances, "tied covariance");
      std::fill(f.half_logdet.begin(), f.half_logdet.end(), half_logdet_of(f.chol.data()));
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical: {
      f.prec = TensorD::empty(p.covariances.shape());
      const int64_t per = p.type == CovarianceType::diag ? D : 1;
      for (int64_t k = 0; k < K; ++k) {
        double s = 0;
        for (int64_t d = 0; d < per; ++d) {
          const double v = p.covariances[k * per + d];
          if (!(v > 0))
            throw std::invalid_argument("component " + std::to_string(k) + ": variance " + std::to_string(v) +
                                        " is not positive; increase reg_covar or check the data");
          f.prec[k * per + d] = 1.0 / v;
          s += std::log(v);
        }
        f.half_logdet[k] = 0.5 * s * static_cast<double>(D / per);
      }
      break;
    }
  }
  return f;
}

// ---- E-step ------------------------------------------------------------------------------
// log w_k + log N(x; μ_k, Σ_k) = log w_k - ½ (D log 2π + ||L_k^{-1}(x - μ_k)||²) - ½ log|Σ_k|
double e_step(const TensorD& X, const GmmParams& p, const Factors& f, TensorD* resp, TensorD* log_px) {
  const int64_t N = X.size(0), D = X.size(1), K = p.n_components();
  const int64_t BR = block_rows(D);
  std::vector<double> lp(BR * K), lpx(BR), Y(BR * D), Y2(BR * D), M(K * D), c = mixture_centre(p);
  std::vector<double> bias(K);  // the per-component constant of each row
  for (int64_t k = 0; k < K; ++k) bias[k] = std::log(p.weights[k]) - 0.5 * D * kLog2Pi - f.half_logdet[k];

  // Per-component rows that every block reuses: μ-c (diag, spherical), L^{-1}(μ-c) (tied).
  for (int64_t k = 0; k < K; ++k)
    for (int64_t d = 0; d < D; ++d) M[k * D + d] = p.means[k * D + d] - c[d];
  std::vector<double> MP(K * D), muPmu(K, 0.0);  // diag: (μ-c)∘P and Σ_d (μ-c)² P
  if (p.type == CovarianceType::tied)
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, K, D, 1.0, f.chol.data(), D,
                M.data(), D);
  if (p.type == CovarianceType::diag)
    for (int64_t i = 0; i < K * D; ++i) {
      MP[i] = M[i] * f.prec[i];
      muPmu[i / D] += M[i] * MP[i];
    }

  double total = 0;
  for (int64_t r0 = 0; r0 < N; r0 += BR) {
    const int64_t B = std::min(BR, N - r0);
    const double* Xb = X.data() + r0 * D;
    switch (p.type) {
      case CovarianceType::full:
        for (int64_t k = 0; k < K; ++k) {  // Y = (X - μ_k) L_k^{-T}, rows are L_k^{-1}(x - μ_k)
          shifted_block(Xb, B, D, p.means.data() + k * D, Y.data());
          cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, B, D, 1.0,
                      f.chol.data() + k * D * D, D, Y.data(), D);
          for (int64_t n = 0; n < B; ++n) lp[n * K + k] = bias[k] - 0.5 * row_sq(Y.data() + n * D, D);
        }
        break;
      case CovarianceType::tied:  // one solve for all components: ||L^{-1}(x-c) - L^{-1}(μ_k-c)||²
        shifted_block(Xb, B, D, c.data(), Y.data());
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, B, D, 1.0, f.chol.data(), D,
                    Y.data(), D);
        for (int64_t n = 0; n < B; ++n)
          for (int64_t k = 0; k < K; ++k) {
            const double* y = Y.data() + n * D;
            const double* m = M.data() + k * D;
            double s = 0;
            for (int64_t d = 0; d < D; ++d) s += (y[d] - m[d]) * (y[d] - m[d]);
            lp[n * K + k] = bias[k] - 0.5 * s;
          }
        break;
      case CovarianceType::diag:  // Σ_d P_kd (x_d - μ_kd)² = (x∘x) P_k^T - 2 x (μ_k∘P_k)^T + μ_k P_k μ_k^T
        shifted_block(Xb, B, D, c.data(), Y.data());
        vec::map(B * D, Y.data(), Y2.data(), [](auto y) { return y * y; });
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, D, 1.0, Y2.data(), D, f.prec.data(), D, 0.0,
                    lp.data(), K);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, D, -2.0, Y.data(), D, MP.data(), D, 1.0,
                    lp.data(), K);
        for (int64_t n = 0; n < B; ++n)
          for (int64_t k = 0; k < K; ++k) lp[n * K + k] = bias[k] - 0.5 * (lp[n * K + k] + muPmu[k]);
        break;
      case CovarianceType::spherical:  // P_k (||x||² - 2 x·μ_k + ||μ_k||²)
        shifted_block(Xb, B, D, c.data(), Y.data());
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, D, 1.0, Y.data(), D, M.data(), D, 0.0,
                    lp.data(), K);
        for (int64_t n = 0; n < B; ++n) {
          const double xx = row_sq(Y.data() + n * D, D);
          for (int64_t k = 0; k < K; ++k) {
            const double mm = row_sq(M.data() + k * D, D);
            lp[n * K + k] = bias[k] - 0.5 * f.prec[k] * (xx - 2.0 * lp[n * K + k] + mm);
          }
        }
        break;
    }
    normalize_block(lp.data(), B, K, lpx.data());
    for (int64_t n = 0; n < B; ++n) total += lpx[n];
    if (resp) std::copy(lp.data(), lp.data() + B * K, resp->data() + r0 * K);
    if (log_px) std::copy(lpx.data(), lpx.data() + B, log_px->data() + r0);
  }
  return total;
}

// ---- M-step ------------------------------------------------------------------------------
// N_k = Σ_n r_nk, w_k = N_k/N, μ_k = Σ_n r_nk x_n / N_k, Σ_k = Σ_n r_nk (x_n-μ_k)(x_n-μ_k)^T / N_k + reg I
std::vector<double> m_step(const TensorD& X, const TensorD& resp, double reg_covar, GmmParams& p) {
  const int64_t N = X.size(0), D = X.size(1), K = resp.size(1);
  const double tiny = 10 * std::numeric_limits<double>::epsilon();  // keeps an empty component finite
  std::vector<double> Nk(K, 0.0), nk(K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) Nk[k] += resp[n * K + k];
  double total = 0;
  for (int64_t k = 0; k < K; ++k) total += (nk[k] = Nk[k] + tiny);

  p.weights = TensorD::empty({K});
  for (int64_t k = 0; k < K; ++k) p.weights[k] = nk[k] / total;
  p.means = TensorD::empty({K, D});  // μ = R^T X / N_k
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, N, 1.0, resp.data(), K, X.data(), D, 0.0,
              p.means.data(), D);
  for (int64_t i = 0; i < K * D; ++i) p.means[i] /= nk[i / D];

  const int64_t BR = block_rows(D);
  std::vector<double> Y(BR * D), c(D, 0.0);
  switch (p.type) {
    case CovarianceType::full: {  // Σ_k = (√r ∘ (X-μ_k))^T (√r ∘ (X-μ_k)) / N_k: one syrk per block
      p.covariances = TensorD::zeros({K, D, D});
      for (int64_t r0 = 0; r0 < N; r0 += BR) {
        const int64_t B = std::min(BR, N - r0);
        for (int64_t k = 0; k < K; ++k) {
          for (int64_t n = 0; n < B; ++n) {
            const double s = std::sqrt(resp[(r0 + n) * K + k]);
            const double* x = X.data() + (r0 + n) * D;
            const double* mu = p.means.data() + k * D;
            for (int64_t d = 0; d < D; ++d) Y[n * D + d] = s * (x[d] - mu[d]);
          }
          cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, D, B, 1.0, Y.data(), D, 1.0,
                      p.covariances.data() + k * D * D, D);
        }
      }
      for (int64_t k = 0; k < K; ++k) {
        double* S = p.covariances.data() + k * D * D;
        for (int64_t i = 0; i < D; ++i) {
          for (int64_t j = 0; j <= i; ++j) S[j * D + i] = S[i * D + j] = S[i * D + j] / nk[k];
          S[i * D + i] += reg_covar;
        }
      }
      break;
    }
    case CovarianceType::tied: {  // Σ = (Σ_n (x-c)(x-c)^T - Σ_k N_k (μ_k-c)(μ_k-c)^T) / N, c = data mean
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d) c[d] += X[n * D + d] / static_cast<double>(N);
      p.covariances = TensorD::zeros({D, D});
      double* S = p.covariances.data();
      for (int64_t r0 = 0; r0 < N; r0 += BR) {
        const int64_t B = std::min(BR, N - r0);
        shifted_block(X.data() + r0 * D, B, D, c.data(), Y.data());
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, D, B, 1.0, Y.data(), D, 1.0, S, D);
      }
      std::vector<double> Mc(K * D);
      for (int64_t i = 0; i < K * D; ++i) Mc[i] = std::sqrt(nk[i / D]) * (p.means[i] - c[i % D]);
      cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, D, K, -1.0, Mc.data(), D, 1.0, S, D);
      for (int64_t i = 0; i < D; ++i) {
        for (int64_t j = 0; j <= i; ++j) S[j * D + i] = S[i * D + j] = S[i * D + j] / total;
        S[i * D + i] += reg_covar;
      }
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical: {  // σ²_kd = Σ_n r_nk (x_nd-c_d)² / N_k - (μ_kd-c_d)²
      for (int64_t n = 0; n < N; ++n)
        for (int64_t d = 0; d < D; ++d) c[d] += X[n * D + d] / static_cast<double>(N);
      TensorD V = TensorD::zeros({K, D});
      for (int64_t r0 = 0; r0 < N; r0 += BR) {
        const int64_t B = std::min(BR, N - r0);
        shifted_block(X.data() + r0 * D, B, D, c.data(), Y.data());
        vec::map(B * D, Y.data(), Y.data(), [](auto y) { return y * y; });
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, B, 1.0, resp.data() + r0 * K, K, Y.data(), D,
                    1.0, V.data(), D);
      }
      for (int64_t i = 0; i < K * D; ++i) {
        const double m = p.means[i] - c[i % D];
        V[i] = V[i] / nk[i / D] - m * m + reg_covar;
      }
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
