// The E and M steps of the Gaussian mixture written as their equations: the place to learn EM
// from, and the reference that tests/models/test_gmm_reference.cpp holds the fast steps
// (gmm_steps.cpp: blocks, threads, screening, hand-tuned kernels) to on every covariance type.
//
// Whole-tensor code through tensor/ops.hpp, one component at a time, no threads, no screening.
// Points are rows, as the equations write them: X:[N,D], responsibilities r:[N,K]. It is slower
// than gmm_steps.cpp and makes an [N,D] temporary per component; fit with GaussianMixture.
//
// EM alternates the two until log L = Σ_n log p(x_n) stops rising (it never falls):
//   GmmParams p = GaussianMixture(opt).initialize(X, rng);
//   for (int it = 0; it < 100; ++it) {
//     const EStep e = e_step(X, p);                // r_nk under the current parameters
//     p = m_step(X, e.resp, p.type, 1e-6);         // the parameters that best explain them
//   }
#pragma once

#include "models/gmm.hpp"

namespace lz::gmm::reference {

// log N(x_n | μ_k, Σ_k) for every point x_n (row of X:[N,D]) and component k of p -> [N,K].
// Throws std::invalid_argument if a shape does not match or a covariance is not positive definite.
TensorD log_gaussians(const TensorD& X, const GmmParams& p);

struct EStep {
  TensorD resp;                // [N,K] r_nk, each row sums to 1
  TensorD log_px;              // [N] log p(x_n)
  double log_likelihood = 0;   // Σ_n log p(x_n)
};
EStep e_step(const TensorD& X, const GmmParams& p);

// The parameters of covariance type `type` that maximise the expected complete-data
// log-likelihood under responsibilities resp:[N,K], with reg_covar added to every variance.
GmmParams m_step(const TensorD& X, const TensorD& resp, CovarianceType type, double reg_covar);

}  // namespace lz::gmm::reference
