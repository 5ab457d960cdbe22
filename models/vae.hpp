// The variational autoencoder (Kingma & Welling): an encoder q(z|x) = N(μ(x), diag σ²(x)), a prior
// p(z) = N(0, I) and a decoder p(x|z), trained by maximising the evidence lower bound
//
//   ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) || p(z))  ≤  log p(x),
//
// with the expectation estimated by the reparameterisation z = μ + σ ⊙ ε, ε ~ N(0, I), and the KL in
// closed form. The IWAE (models/iwae.hpp) uses exactly these networks; only the objective differs.
//
// Shapes: x:[B, D]; z:[B, Z], or [k, B, Z] for k samples per example (decoded as one [k·B, Z] batch,
// one GEMM per layer). Every per-example quantity comes back as [B] (or [k, B]).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/distributions.hpp"
#include "nn/module.hpp"

namespace lz {

enum class VaeLikelihood {
  Bernoulli,  // binary (or binarised) pixels: the decoder outputs logits
  Gaussian,   // continuous data: the decoder outputs a mean; the variance is a [D] row, fixed or learned
};

struct VaeConfig {
  int64_t x_dim = 784;
  std::vector<int64_t> hidden = {200, 200};  // encoder hidden sizes; the decoder mirrors them
  int64_t z_dim = 50;
  std::string activation = "tanh";  // any name nn/activation.hpp parses: tanh, relu, ...
  VaeLikelihood likelihood = VaeLikelihood::Bernoulli;
  bool learn_variance = true;  // Gaussian decoder only
  double init_logvar = 0.0;    // Gaussian decoder only: log σ² of p(x|z) (fixed, or the start when learned)

  // Throws std::invalid_argument naming the field for a size < 1 or an unknown activation.
  void validate() const;
};

// The three numbers of the ELBO, one per example.
template <typename T>
struct ElboTerms {
  Var<T> reconstruction;  // E_q[log p(x|z)], single-sample (or k-sample average) estimate  [B]
  Var<T> kl;              // KL(q(z|x) || p(z)), analytic                                  [B]
  Var<T> elbo;            // reconstruction − kl                                            [B]
};

template <typename T>
class VAE : public Module<T> {
 public:
  VAE(const VaeConfig& cfg, Rng& rng);

  const VaeConfig& config() const { return cfg_; }
  std::string describe() const override;

  // q(z|x): one encoder pass producing [B, 2Z], split into μ and log σ².
  DiagGaussian<T> encode(const Var<T>& x);
  // The decoder's output for z:[..., Z]: Bernoulli logits or the Gaussian mean, [..., D].
  Var<T> decode(const Var<T>& z);
  // log p(x|z) summed over pixels; z:[B, Z] or [k, B, Z] (x:[B, D] broadcasts) -> [B] or [k, B].
  Var<T> log_likelihood(const Var<T>& x, const Var<T>& z);
  // log p(x|z) from a decoder output already computed (out = decode(z)).
  Var<T> log_likelihood_of_output(const Var<T>& x, const Var<T>& out) const;
  // The decoder's log σ² row [D] (Gaussian only; undefined for Bernoulli).
  const Var<T>& decoder_logvar() const { return dec_logvar_; }

  // ELBO with the analytic KL; eps:[B, Z] (or [k, B, Z]: the reconstruction term averaged over k).
  ElboTerms<T> elbo(const Var<T>& x, const Tensor<T>& eps);
  // The training loss: mean over the batch of −(E_q[log p(x|z)] − β·KL). β < 1 during KL warm-up.
  Var<T> loss(const Var<T>& x, const Tensor<T>& eps, T beta = T(1));
  // The same ELBO estimated entirely by sampling: log p(x|z) + log p(z) − log q(z|x) at z = μ + σε.
  // Unbiased for the ELBO but noisier; with the same ε it is what the IWAE bound reduces to at k = 1.
  Var<T> elbo_sampled_kl(const Var<T>& x, const Tensor<T>& eps);

  // Decoder output as data: sigmoid(logits) for Bernoulli, the mean for Gaussian (no graph).
  Tensor<T> mean_of_output(const Var<T>& out) const;

 private:
  VaeConfig cfg_;
  std::shared_ptr<Layer<T>> encoder_, decoder_;
  Var<T> dec_logvar_;
};

// KL warm-up: β rises linearly from 0 to `beta` over `warmup_steps` (β = `beta` from the start if 0).
double kl_weight(int64_t step, int64_t warmup_steps, double beta = 1.0);

}  // namespace lz
