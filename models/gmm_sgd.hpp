// The same Gaussian mixture fitted by gradient ascent: its mean log-likelihood is an autodiff
// graph, maximised with Adam (nn/optim.hpp). The contrast with EM (models/gmm.hpp) is the point:
// EM's closed-form steps against a generic optimiser on an unconstrained parameterisation.
//
// Parameterisation (every value unconstrained):
//   w = softmax(logits)                                     logits:   [K]
//   μ_k = means[k]                                          means:    [K,D]
//   Σ_k = L_k L_k^T,  L_k = strict_lower(off[k]) + diag(exp(log_diag[k]))
//                                                           off:      [K,D,D] (full; absent for diag)
//                                                           log_diag: [K,D]
//   log N(x; μ_k, Σ_k) = -½ ||L_k^{-1}(x-μ_k)||² - Σ_i log L_k,ii - ½ D log 2π
//   mean log-likelihood = (1/N) Σ_n logsumexp_k (log w_k + log N(x_n; μ_k, Σ_k))
#pragma once

#include <vector>

#include "autodiff/var.hpp"
#include "models/gmm.hpp"

namespace lz {

// The mean log-likelihood above as a graph. `off` undefined (Var()) means diagonal covariances.
VarD gmm_mean_log_likelihood(const TensorD& X, const VarD& logits, const VarD& means, const VarD& off,
                             const VarD& log_diag);

struct GmmSgdOptions {
  int64_t n_components = 1;
  CovarianceType covariance_type = CovarianceType::full;  // full or diag
  double lr = 0.05;
  int steps = 500;
  double tol = 0;  // stop when |Δ mean log-likelihood| < tol over a step (0: run every step)
};

struct GmmSgdReport {
  std::vector<double> log_likelihood;  // mean log-likelihood before each Adam step
  std::vector<double> seconds;         // wall time since the start, per step
  double final_log_likelihood = 0;
  int steps = 0;
};

class GmmGradientAscent {
 public:
  explicit GmmGradientAscent(GmmSgdOptions opt);
  // Start from given parameters (e.g. the same k-means start as EM) and run Adam.
  const GmmSgdReport& fit_from(const TensorD& X, const GmmParams& init);
  // The fitted mixture in GaussianMixture's terms (covariances L L^T).
  GmmParams params() const;
  const GmmSgdReport& report() const { return report_; }

 private:
  GmmSgdOptions opt_;
  VarD logits_, means_, off_, log_diag_;
  GmmSgdReport report_;
};

}  // namespace lz
