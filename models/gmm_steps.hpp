// The E and M steps of the Gaussian mixture, shared by GaussianMixture (EM) and the driver.
// Internal to models/: not part of the public API, but a reader looking for the equations
// finds them in gmm_steps.cpp.
#pragma once

#include <vector>

#include "models/gmm.hpp"

namespace lz::gmm {

// What the log-densities need from the covariances, computed once per parameter update:
// full: chol [K,D,D] lower, Σ_k = L_k L_k^T; tied: chol [D,D]; diag: prec [K,D] = 1/σ²;
// spherical: prec [K]. half_logdet[k] = ½ log|Σ_k| = Σ_i log L_ii.
struct Factors {
  TensorD chol;
  TensorD prec;
  std::vector<double> half_logdet;
};

// Throws std::invalid_argument naming the component if a covariance is not positive definite.
Factors factorize(const GmmParams& p);

// Lower Cholesky factor of the symmetric positive-definite a:[D,D] (row-major, upper triangle
// zeroed); throws naming `what` if it is not positive definite.
TensorD cholesky(const TensorD& a, const std::string& what);

// E-step over the whole block X:[N,D]. Fills resp [N,K] (r_nk) and log_px [N] (log p(x_n)) when
// given, and returns Σ_n log p(x_n).
double e_step(const TensorD& X, const GmmParams& p, const Factors& f, TensorD* resp, TensorD* log_px);

// M-step: new weights, means, covariances from resp; returns N_k = Σ_n r_nk (without the
// 10 eps that keeps an empty component finite, as scikit-learn adds).
std::vector<double> m_step(const TensorD& X, const TensorD& resp, double reg_covar, GmmParams& p);

// Rows per block: the block of points and its per-component copy stay in L2 cache.
int64_t block_rows(int64_t D);

}  // namespace lz::gmm
