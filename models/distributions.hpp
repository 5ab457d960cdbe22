// The probability pieces every latent-variable model of the zoo shares: a diagonal Gaussian
// parameterised by its log-variance, the Bernoulli likelihood of binary pixels from logits, the
// standard-normal prior, the analytic KL to it, and log-mean-exp. The VAE, IWAE, CVAE and flow
// all read their objectives out of these, so each formula exists exactly once.
//
// Every log-density is summed over the last axis: a [N, D] batch gives one number per row, [N].
#pragma once

#include "autodiff/ops.hpp"
#include "tensor/rng.hpp"

namespace lz {

// ε ~ N(0, I) of the given shape, drawn from `rng` (the only randomness of the reparameterisation).
template <typename T>
Tensor<T> standard_normal(const Shape& shape, Rng& rng);

// q(z) = N(mean, diag(exp(logvar))), rows independent. mean, logvar: [..., Z].
template <typename T>
struct DiagGaussian {
  Var<T> mean;
  Var<T> logvar;

  // log q(z) = Σ_j −½(log 2π + logvar_j + (z_j − mean_j)² / exp(logvar_j)); z broadcasts against
  // mean (z:[k, N, Z] with mean:[N, Z] scores k samples at once) -> z's shape without its last axis.
  Var<T> log_prob(const Var<T>& z) const;
  // The reparameterisation z = mean + exp(½ logvar) ⊙ ε: differentiable in mean and logvar.
  // eps has mean's shape, or [k, ...mean's shape] for k samples per row.
  Var<T> rsample(const Tensor<T>& eps) const;
  // KL(q || N(0, I)) = ½ Σ_j (σ_j² + μ_j² − 1 − log σ_j²), in closed form -> [...].
  Var<T> kl_std_normal() const;
  // exp(½ logvar), without a graph (for pictures and diagnostics).
  Tensor<T> stddev() const;
};

// log N(z; 0, I) = Σ_j −½(z_j² + log 2π) -> z's shape without its last axis.
template <typename T>
Var<T> std_normal_log_prob(const Var<T>& z);

// log Bernoulli(x | sigmoid(logits)) = Σ_j x_j log σ(l_j) + (1−x_j) log(1−σ(l_j)) = −Σ_j BCE(l_j, x_j).
// logits:[..., D], x broadcasts against it (x:[N, D] with logits:[k, N, D]) -> logits' shape minus D.
// x may be any value in [0, 1] (the continuous-Bernoulli normaliser is not included).
template <typename T>
Var<T> bernoulli_log_prob(const Var<T>& logits, const Var<T>& x);

// log N(x; mean, diag(exp(logvar))) summed over the last axis; logvar may be a [D] row shared by
// every example (a learned or fixed decoder variance) -> mean's shape minus D.
template <typename T>
Var<T> gaussian_log_prob(const Var<T>& x, const Var<T>& mean, const Var<T>& logvar);

// log (1/n) Σ_i exp(a_i) along `axis`, stable (the IWAE bound and every importance-sampled estimate).
template <typename T>
Var<T> log_mean_exp_of(const Var<T>& a, int64_t axis) {
  return log_mean_exp(a, axis, false);
}

// The same on plain numbers, for evaluation code that never needs a gradient.
double log_mean_exp_values(const double* a, int64_t n);

}  // namespace lz
