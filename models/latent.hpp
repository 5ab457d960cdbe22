// The latent-variable model every estimator of the zoo is written against: an encoder q(z|x, c), a
// prior p(z|c) and a decoder p(x|z, c), with an optional condition c (a label, the observed part of
// an image, an observation an action chunk is predicted from). Without a condition (an undefined
// Var, the default) it is the VAE's p(z) p(x|z); the CVAE is the same model given c.
//
//   log w(z) = log p(x|z, c) + log p(z|c) − log q(z|x, c)       (one importance weight)
//   ELBO     = E_q[log p(x|z, c)] − KL(q(z|x, c) || p(z|c))    (the KL in closed form where the
//              prior has one; otherwise by Monte Carlo at the same draws: log q(z|x, c) − log p(z|c))
//   L_k      = log (1/k) Σ_i w(z_i),  z_i ~ q                  (IWAE bound; → log p(x|c) as k grows)
//
// The ELBO is below; the importance weights and the IWAE bound in models/iwae.hpp.
// models/iwae.hpp, models/evaluate.hpp and the drivers call only these methods, so the IWAE bound,
// the log-likelihood estimators and the diagnostics exist once for the VAE and the CVAE alike.
// A virtual call per batch costs nothing next to a batch's GEMMs.
#pragma once

#include "models/distributions.hpp"
#include "nn/module.hpp"

namespace lz {

template <typename T>
class LatentModel : public Module<T> {
 public:
  virtual int64_t x_dim() const = 0;
  virtual int64_t z_dim() const = 0;
  virtual int64_t c_dim() const = 0;  // 0: the model takes no condition

  // q(z|x, c) for x:[B, D] (and c:[B, C]).
  virtual DiagGaussian<T> encode(const Var<T>& x, const Var<T>& c = {}) = 0;
  // log p(x|z, c) summed over the data axis; z:[B, Z] or [k, B, Z] (x and c broadcast over k) -> [B] or [k, B].
  virtual Var<T> log_likelihood(const Var<T>& x, const Var<T>& z, const Var<T>& c = {}) = 0;
  // log p(z|c) -> z's shape without its last axis.
  virtual Var<T> prior_log_prob(const Var<T>& z, const Var<T>& c = {}) = 0;
  // KL(q || p(z|c)) in closed form -> [B] (a model whose prior has none throws: see analytic_kl).
  virtual Var<T> kl_to_prior(const DiagGaussian<T>& q, const Var<T>& c = {}) = 0;
  // Whether kl_to_prior has a closed form (false for a mixture prior).
  virtual bool analytic_kl() const { return true; }
  // KL(q || p(z|c)) for the reparameterised draws z = q.rsample(ε), z:[B, Z] or [k, B, Z]: the
  // closed form where there is one (z unused), else the Monte Carlo estimate, the mean over the k
  // draws of log q(z|x, c) − log p(z|c) (unbiased; differentiable through z) -> [B].
  Var<T> kl_estimate(const DiagGaussian<T>& q, const Var<T>& z, const Var<T>& c = {});
  // n draws of z ~ p(z|c), no graph: [n, Z] without a condition, [n, B, Z] for c:[B, C].
  virtual Tensor<T> sample_prior(int64_t n, Rng& rng, const Var<T>& c = {}) = 0;
  // log p(x_n | z_i) for every row of x:[N, D] and every z_i of z:[K, Z] -> [K, N], no graph, for a
  // model without a condition (the naive prior-sampling estimator shares its K draws over all rows).
  virtual Tensor<T> log_likelihood_all_pairs(const Tensor<T>& x, const Tensor<T>& z) = 0;

  // Throws naming `who` unless c is undefined for a model without a condition, or c:[B, c_dim] for one with.
  void check_condition(const Var<T>& c, int64_t rows, const char* who) const;
};

// The model's objectives, written once on the interface above.
template <typename T>
struct ElboTerms {
  Var<T> reconstruction;  // E_q[log p(x|z, c)], single-sample (or k-sample average) estimate  [B]
  Var<T> kl;              // KL(q(z|x, c) || p(z|c)): analytic, or by Monte Carlo (kl_estimate) [B]
  Var<T> elbo;            // reconstruction − kl                                                [B]
};

// ELBO with the analytic KL (Monte Carlo at the same draws without one); eps:[B, Z] (or [k, B, Z]:
// the reconstruction term, and a Monte Carlo KL, averaged over k).
template <typename T>
ElboTerms<T> elbo(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c = {});
// The training loss: mean over the batch of −(E_q[log p(x|z, c)] − β·KL). β < 1 during KL warm-up.
template <typename T>
Var<T> elbo_loss(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, T beta = T(1), const Var<T>& c = {});
}  // namespace lz
