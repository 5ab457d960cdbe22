// EM for the Gaussian mixture p(x) = Σ_k π_k N(x | μ_k, Σ_k), written as the equations.
// See gmm_reference.hpp; the fast version of the same two steps is gmm_steps.cpp.
#include "models/gmm_reference.hpp"

#include <lapacke.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "models/gmm_steps.hpp"  // cholesky
#include "tensor/math.hpp"
#include "tensor/ops.hpp"

namespace lz::gmm::reference {

namespace {

using math::kLog2Pi;  // log 2π, one constant for the whole engine

TensorD exp_of(const TensorD& a) {
  return map(a, [](auto v) {
    using std::exp;
    using xsimd::exp;
    return exp(v);
  });
}
TensorD log_of(const TensorD& a) {
  return map(a, [](auto v) {
    using std::log;
    using xsimd::log;
    return log(v);
  });
}
TensorD square(const TensorD& a) { return mul(a, a); }
TensorD row(const TensorD& a, int64_t k) {  // a:[K,...] -> a[k]:[...]
  Shape s(a.shape().begin() + 1, a.shape().end());
  return narrow(a, 0, k, 1).reshape(s);
}
TensorD column(const TensorD& a, int64_t k) { return narrow(a, 1, k, 1); }  // a:[N,K] -> [N,1]
TensorD reg_identity(int64_t D, double reg_covar) {
  TensorD I = TensorD::zeros({D, D});
  for (int64_t i = 0; i < D; ++i) I[i * D + i] = reg_covar;
  return I;
}

void expect_shape(const TensorD& t, const Shape& want, const std::string& what) {
  if (t.shape() != want)
    throw std::invalid_argument("gmm::reference: " + what + " expected shape " + shape_str(want) + ", found " +
                                shape_str(t.shape()));
}

// log Σ_k exp(a_nk) over each row of a:[N,K] -> [N]. Shifting by the row's largest term m_n
// (log Σ_k exp(a_nk) = m_n + log Σ_k exp(a_nk - m_n)) keeps exp from underflowing to 0 for
// every k when the log-densities are all far below 0, as they are in high dimension.
TensorD logsumexp_rows(const TensorD& a) {
  const TensorD m = max(a, 1, true);  // [N,1]
  return add(log_of(sum(exp_of(sub(a, m)), 1)), m.reshape({a.size(0)}));
}

// Z = L^{-1} B for lower-triangular L:[D,D] and B:[D,N] (forward substitution; no inverse).
TensorD solve_lower(const TensorD& L, const TensorD& B) {
  TensorD Z = B.clone();
  const auto D = static_cast<lapack_int>(L.size(0)), N = static_cast<lapack_int>(B.size(1));
  const lapack_int info = LAPACKE_dtrtrs(LAPACK_ROW_MAJOR, 'L', 'N', 'N', D, N, L.data(), D, Z.data(), N);
  if (info != 0) throw std::invalid_argument("gmm::reference: singular Cholesky factor (dtrtrs info=" +
                                             std::to_string(info) + ")");
  return Z;
}

// log N(x | μ, Σ) = -½ [ D log 2π + log|Σ| + (x - μ)^T Σ^{-1} (x - μ) ]  for the rows of X:[N,D].
// With Σ = L L^T (Cholesky): (x - μ)^T Σ^{-1} (x - μ) = ||L^{-1}(x - μ)||² and log|Σ| = 2 Σ_i log L_ii.
TensorD log_gaussian_full(const TensorD& X, const TensorD& mu, const TensorD& Sigma, const std::string& what) {
  const int64_t D = X.size(1);
  const TensorD L = cholesky(Sigma, what);
  const TensorD Z = solve_lower(L, transpose(sub(X, mu)));  // [D,N]: column n is L^{-1}(x_n - μ)
  const TensorD mahalanobis = sum(square(Z), 0);           // [N]
  double log_det = 0;
  for (int64_t i = 0; i < D; ++i) log_det += 2.0 * std::log(L[i * D + i]);
  const double c = D * kLog2Pi + log_det;
  return map(mahalanobis, [c](auto q) { return -0.5 * (c + q); });
}

// Σ = diag(σ²):  (x - μ)^T Σ^{-1} (x - μ) = Σ_d (x_d - μ_d)² / σ²_d  and  log|Σ| = Σ_d log σ²_d.
TensorD log_gaussian_diag(const TensorD& X, const TensorD& mu, const TensorD& var, const std::string& what) {
  for (int64_t d = 0; d < var.numel(); ++d)
    if (!(var[d] > 0))
      throw std::invalid_argument("gmm::reference: " + what + ": variance " + std::to_string(var[d]) +
                                  " is not positive");
  const int64_t D = X.size(1);
  const TensorD mahalanobis = sum(div(square(sub(X, mu)), var), 1);  // [N]
  const double c = D * kLog2Pi + sum_all(log_of(var));
  return map(mahalanobis, [c](auto q) { return -0.5 * (c + q); });
}

}  // namespace

TensorD log_gaussians(const TensorD& X, const GmmParams& p) {
  if (X.dim() != 2) throw std::invalid_argument("gmm::reference: X expected [N,D], found " + shape_str(X.shape()));
  const int64_t N = X.size(0), D = X.size(1), K = p.n_components();
  expect_shape(p.means, {K, D}, "means");
  TensorD out = TensorD::empty({N, K});
  for (int64_t k = 0; k < K; ++k) {
    const std::string what = "component " + std::to_string(k);
    const TensorD mu = row(p.means, k);
    TensorD lk;
    switch (p.type) {
      case CovarianceType::full:  // Σ_k:[D,D] for each k
        expect_shape(p.covariances, {K, D, D}, "full covariances");
        lk = log_gaussian_full(X, mu, row(p.covariances, k), what);
        break;
      case CovarianceType::tied:  // one Σ:[D,D] shared by every k
        expect_shape(p.covariances, {D, D}, "tied covariance");
        lk = log_gaussian_full(X, mu, p.covariances, "tied covariance");
        break;
      case CovarianceType::diag:  // Σ_k = diag(σ²_k1 .. σ²_kD)
        expect_shape(p.covariances, {K, D}, "diag covariances");
        lk = log_gaussian_diag(X, mu, row(p.covariances, k), what);
        break;
      case CovarianceType::spherical:  // Σ_k = σ²_k I
        expect_shape(p.covariances, {K}, "spherical covariances");
        lk = log_gaussian_diag(X, mu, TensorD::full({D}, p.covariances[k]), what);
        break;
    }
    narrow_assign(out, lk.reshape({N, 1}), 1, k, false);
  }
  return out;
}

// ---- E-step: how much each component explains each point, under the current parameters --------
EStep e_step(const TensorD& X, const GmmParams& p) {
  expect_shape(p.weights, {p.n_components()}, "weights");
  const int64_t N = X.size(0);
  EStep s;
  // log π_k + log N(x_n | μ_k, Σ_k)                                                      [N,K]
  const TensorD log_joint = add(log_gaussians(X, p), log_of(p.weights));
  // log p(x_n) = log Σ_j π_j N(x_n | μ_j, Σ_j)                                            [N]
  s.log_px = logsumexp_rows(log_joint);
  // r_nk = π_k N(x_n | μ_k, Σ_k) / Σ_j π_j N(x_n | μ_j, Σ_j) = exp(log_joint_nk - log p(x_n))
  s.resp = exp_of(sub(log_joint, s.log_px.reshape({N, 1})));
  // log L = Σ_n log p(x_n): EM never decreases it
  s.log_likelihood = sum_all(s.log_px);
  return s;
}

// ---- M-step: each component refitted to the points, each point weighted by r_nk ---------------
GmmParams m_step(const TensorD& X, const TensorD& resp, CovarianceType type, double reg_covar) {
  if (X.dim() != 2) throw std::invalid_argument("gmm::reference: X expected [N,D], found " + shape_str(X.shape()));
  const int64_t N = X.size(0), D = X.size(1);
  if (resp.dim() != 2 || resp.size(0) != N)
    throw std::invalid_argument("gmm::reference: resp expected [" + std::to_string(N) + ",K], found " +
                                shape_str(resp.shape()));
  const int64_t K = resp.size(1);
  GmmParams p;
  p.type = type;
  // N_k = Σ_n r_nk, the number of points component k explains. As scikit-learn does (and
  // gmm_steps.cpp), 10 ε is added so that a component that explains no point keeps finite means.
  const double tiny = 10 * std::numeric_limits<double>::epsilon();
  const TensorD Nk = map(sum(resp, 0), [tiny](auto v) { return v + tiny; });  // [K]
  // π_k = N_k / N  (Σ_k N_k = N)
  p.weights = scale(Nk, 1.0 / sum_all(Nk));
  // μ_k = Σ_n r_nk x_n / N_k, all components at once: R^T X:[K,D], row k divided by N_k
  p.means = div(matmul(resp, X, true, false), Nk.reshape({K, 1}));

  // reg_covar I keeps each Σ_k positive definite when a component sits on fewer than D + 1
  // points, or on data with a constant column; it is added after dividing by N_k, as scikit-learn does.
  switch (type) {
    case CovarianceType::full:  // Σ_k = Σ_n r_nk (x_n - μ_k)(x_n - μ_k)^T / N_k + reg_covar I
      p.covariances = TensorD::empty({K, D, D});
      for (int64_t k = 0; k < K; ++k) {
        const TensorD Y = sub(X, row(p.means, k));                        // [N,D] rows x_n - μ_k
        const TensorD scatter = matmul(mul(Y, column(resp, k)), Y, true);  // Y^T diag(r_k) Y:[D,D]
        const TensorD Sk = add(scale(scatter, 1.0 / Nk[k]), reg_identity(D, reg_covar));
        narrow_assign(p.covariances, Sk.reshape({1, D, D}), 0, k, false);
      }
      break;
    case CovarianceType::tied: {  // Σ = Σ_k Σ_n r_nk (x_n - μ_k)(x_n - μ_k)^T / N + reg_covar I
      TensorD scatter = TensorD::zeros({D, D});
      for (int64_t k = 0; k < K; ++k) {
        const TensorD Y = sub(X, row(p.means, k));
        scatter = add(scatter, matmul(mul(Y, column(resp, k)), Y, true));
      }
      p.covariances = add(scale(scatter, 1.0 / sum_all(Nk)), reg_identity(D, reg_covar));
      break;
    }
    case CovarianceType::diag:       // σ²_kd = Σ_n r_nk (x_nd - μ_kd)² / N_k + reg_covar
    case CovarianceType::spherical:  // σ²_k = (1/D) Σ_d σ²_kd: the diag variances averaged
    {
      TensorD var = TensorD::empty({K, D});
      for (int64_t k = 0; k < K; ++k) {
        const TensorD v = sum(mul(square(sub(X, row(p.means, k))), column(resp, k)), 0);  // [D]
        narrow_assign(var, map(v, [n = Nk[k], reg_covar](auto s) { return s / n + reg_covar; }).reshape({1, D}),
                      0, k, false);
      }
      // reg_covar is inside every σ²_kd, so the average adds it once, as scikit-learn does
      p.covariances = type == CovarianceType::diag ? var : mean(var, 1);
      break;
    }
  }
  return p;
}

}  // namespace lz::gmm::reference
