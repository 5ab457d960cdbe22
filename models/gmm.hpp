// Gaussian mixture fitted by expectation-maximisation (scikit-learn's GaussianMixture semantics).
//
//   p(x) = Σ_k w_k N(x; μ_k, Σ_k)
//   E-step: log r_nk = log w_k + log N(x_n; μ_k, Σ_k) - log Σ_j w_j N(x_n; μ_j, Σ_j)
//   M-step: N_k = Σ_n r_nk,  w_k = N_k / N,  μ_k = Σ_n r_nk x_n / N_k,
//           Σ_k = Σ_n r_nk (x_n - μ_k)(x_n - μ_k)^T / N_k + reg_covar I
//
// Log-densities go through the Cholesky factor L of each covariance (LAPACKE dpotrf) and a
// triangular solve (cblas_dtrsm) on a whole block of points; no explicit inverse or determinant
// (log|Σ| = 2 Σ_i log L_ii). Parameters are double. The E and M steps are written as their equations
// in gmm_reference.cpp (gmm::reference::e_step, m_step); the fast ones fit() runs are in gmm_steps.cpp
// (written once over the covariance policies of gmm_covariance.hpp, one type per covariance type),
// held to the reference by tests/models/test_gmm_reference.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace lz {

enum class CovarianceType { full, diag, spherical, tied };
// "full" | "diag" | "spherical" | "tied"; anything else throws std::invalid_argument naming `where`.
CovarianceType parse_covariance_type(const std::string& s, const std::string& where = "covariance_type");
const char* to_string(CovarianceType t);

// The mixture itself. covariances' shape depends on the type:
// full [K,D,D], diag [K,D], spherical [K], tied [D,D].
struct GmmParams {
  CovarianceType type = CovarianceType::full;
  TensorD weights;      // [K], positive, sums to 1
  TensorD means;        // [K,D]
  TensorD covariances;  // see above
  int64_t n_components() const { return weights.numel(); }
  int64_t n_features() const { return means.defined() ? means.size(1) : 0; }
};

// Converts scikit-learn style precisions (inverse covariances, same shapes as covariances) to
// covariances, e.g. for precisions_init. The one place an inverse is taken: of user input.
TensorD precisions_to_covariances(CovarianceType type, const TensorD& precisions);

enum class GmmInit { kmeans, random };

struct GmmOptions {
  int64_t n_components = 1;
  CovarianceType covariance_type = CovarianceType::full;
  double tol = 1e-3;        // stop when |Δ mean log-likelihood| < tol
  double reg_covar = 1e-6;  // added to every variance
  int max_iter = 100;
  int n_init = 1;           // restarts; the best final log-likelihood is kept
  GmmInit init = GmmInit::kmeans;
  int kmeans_iter = 20;     // Lloyd iterations after k-means++ seeding
  // Data split over processes (MPI, apps/gmm.cpp): fit_from's X is this process's share of the
  // rows, and `sum` adds a buffer over every process in place (MPI_Allreduce). EM then sums its
  // sufficient statistics (the data mean, Σ_n log p(x_n), N_k = Σ r, Σ r·x, and Σ r·(x-μ)(x-μ)ᵀ or
  // Σ r·x²) over the shares before each M-step, so the result is the one-process fit whatever the
  // number of shares (to rounding). Empty: X is all the data. initialize() and the scoring
  // functions always see the rows they are given.
  std::function<void(double* data, int64_t n)> sum = {};
};

// What one fit did. log_likelihood[t] is the mean log-likelihood computed by the E-step of
// iteration t+1 (under the parameters before that iteration's M-step), as scikit-learn's lower_bound_.
struct GmmFitReport {
  std::vector<double> log_likelihood;
  std::vector<double> seconds;        // wall time since the start of the run, per iteration
  double final_log_likelihood = 0;    // mean log-likelihood of the returned parameters
  int n_iter = 0;
  bool converged = false;
  int best_init = 0;
  std::vector<std::string> warnings;  // constant columns, re-seeded components, no convergence
};

class GaussianMixture {
 public:
  explicit GaussianMixture(GmmOptions opt);

  // X:[N,D]. Initialises (k-means++ + Lloyd, or random responsibilities) n_init times, runs EM,
  // keeps the best. Throws std::invalid_argument on bad input (NaN, K > N, fewer distinct points than K).
  const GmmFitReport& fit(const TensorD& X, Rng& rng);
  // The starting parameters fit() would use for one restart (k-means++ and Lloyd, or random
  // responsibilities, followed by one M-step): lets EM and gradient ascent start alike.
  GmmParams initialize(const TensorD& X, Rng& rng) const;
  // One EM run from given parameters (scikit-learn's weights_init/means_init/precisions_init).
  const GmmFitReport& fit_from(const TensorD& X, const GmmParams& init);

  TensorD predict_proba(const TensorD& X) const;       // [N,K], rows sum to 1
  std::vector<int64_t> predict(const TensorD& X) const;  // most likely component
  TensorD score_samples(const TensorD& X) const;       // [N] log p(x_n)
  double score(const TensorD& X) const;                 // mean log p(x_n)
  // n points and, if `labels`, the component each was drawn from.
  TensorD sample(int64_t n, Rng& rng, std::vector<int64_t>* labels = nullptr) const;
  int64_t n_parameters() const;
  double bic(const TensorD& X) const;  // -2 N score + p log N
  double aic(const TensorD& X) const;  // -2 N score + 2 p

  const GmmParams& params() const { return params_; }
  // Validates shapes and positive-definiteness (throws), then adopts the parameters.
  void set_params(GmmParams p);
  const GmmOptions& options() const { return opt_; }
  const GmmFitReport& report() const { return report_; }
  bool fitted() const { return params_.weights.defined(); }

 private:
  // EM from p (updated in place to the final parameters): picks p.type's covariance policy
  // (models/gmm_covariance.hpp) and runs run_em_with on it.
  GmmFitReport run_em(const TensorD& X, GmmParams& p) const;
  template <class Cov>
  GmmFitReport run_em_with(Cov cov, const TensorD& X, GmmParams& p) const;
  void require_fitted(const TensorD& X, const char* where) const;

  GmmOptions opt_;
  GmmParams params_;
  GmmFitReport report_;
};

}  // namespace lz
