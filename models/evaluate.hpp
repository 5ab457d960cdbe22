// Estimating log p(x) (or log p(x|c)) of a trained latent model (VAE, IWAE, CVAE: models/latent.hpp),
// and the diagnostics of Burda et al. A condition c, where the model takes one, is a [N, C] Var
// whose rows go with x's rows; without one, leave it undefined.
//
// Importance sampling with the encoder as proposal:
//   log p(x|c) ≈ log (1/k) Σ_i p(x|z_i, c) p(z_i|c) / q(z_i|x, c),  z_i ~ q    (= the IWAE bound L_k)
// and the naive estimator that samples the prior instead:
//   log p(x|c) ≈ log (1/K) Σ_k p(x|z_k, c),  z_k ~ p(z|c)
// which is unbiased for p(x) too but whose variance is astronomically larger: almost no prior
// sample lands where the posterior mass is, so it underestimates log p(x) badly for any K we can afford.
// Every function here runs without a graph (NoGrad) and decodes in chunks so memory stays bounded.
#pragma once

#include <cstdint>
#include <vector>

#include "models/latent.hpp"

namespace lz {

// A sample mean with its standard error (the figures every summary.json reports as "x ± se").
struct MeanEstimate {
  double mean = 0, se = 0;  // se = sample standard deviation / sqrt(n)
  int64_t n = 0;
};
MeanEstimate estimate_mean(const std::vector<double>& v);

// Per-example estimates from one set of k samples of q(z|x) per row of x:[N, D].
struct BoundEstimates {
  std::vector<int64_t> ks;                  // the bounds requested, each dividing into k
  std::vector<std::vector<double>> bound;   // bound[j][n] ≈ L_{ks[j]}(x_n): the mean over the k/ks[j]
                                            // disjoint groups of ks[j] samples (an unbiased estimate of L_k)
  std::vector<double> log_px;               // L_k(x_n) with all k samples: the log p(x) estimate
  std::vector<double> reconstruction;       // E_q[log p(x|z)] averaged over the k samples
  std::vector<double> kl;                   // KL(q(z|x) || p(z)): analytic, or (a mixture prior) the
                                            // mean of log q − log p over the k samples
  std::vector<double> elbo;                 // reconstruction − kl
};

// `max_rows` caps the number of decoded rows (samples × examples) held at once.
template <typename T>
BoundEstimates estimate_bounds(LatentModel<T>& model, const Tensor<T>& x, int64_t k, const std::vector<int64_t>& ks,
                               Rng& rng, int64_t max_rows = 8192, const Var<T>& c = {});

// The naive prior-sampling estimate of log p(x_n) for each row of x:[N, D], with K prior samples.
// Without a condition the K samples are shared by all rows (each row's estimate is still the
// estimator above; sharing turns N·K decoder passes into K, and a Bernoulli decoder scores them in
// one GEMM); with one, each row draws its own from p(z|c_n), `chunk` decoded rows at a time.
template <typename T>
std::vector<double> naive_log_px(LatentModel<T>& model, const Tensor<T>& x, int64_t K, Rng& rng, int64_t chunk = 4096,
                                 const Var<T>& c = {});

// Burda et al.'s active units: dimension u is active if Var_x(E_q[z_u | x]) over the rows of x
// exceeds `threshold` (1e-2 in the paper).
struct ActiveUnits {
  int64_t count = 0;
  std::vector<double> variance;  // per latent dimension
};
template <typename T>
ActiveUnits active_units(LatentModel<T>& model, const Tensor<T>& x, double threshold = 1e-2, int64_t batch = 1000,
                         const Var<T>& c = {});

// The posterior means E_q[z|x, c] of every row of x:[N, D] -> [N, Z] (for pictures and active units).
template <typename T>
Tensor<T> posterior_means(LatentModel<T>& model, const Tensor<T>& x, int64_t batch = 1000, const Var<T>& c = {});

}  // namespace lz
