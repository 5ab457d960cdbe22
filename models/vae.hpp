// The variational autoencoder (Kingma & Welling) and, given a condition c, the conditional VAE
// (Sohn et al. 2015): an encoder q(z|x, c) = N(μ(x, c), diag σ²(x, c)), a prior p(z|c) and a
// decoder p(x|z, c), trained by maximising the evidence lower bound
//
//   ELBO(x|c) = E_q[log p(x|z, c)] − KL(q(z|x, c) || p(z|c))  ≤  log p(x|c),
//
// with the expectation estimated by the reparameterisation z = μ + σ ⊙ ε, ε ~ N(0, I), and the KL in
// closed form (models/latent.hpp writes the objectives once). The prior is N(0, I), or with
// `learned_prior` a network of c giving a diagonal Gaussian, or with `prior_components` = M > 0 a
// network of c giving a mixture of M diagonal Gaussians p(z|c) = Σ_m π_m(c) N(z; μ_m(c), σ_m²(c)),
// which can leave a gap between the modes of a multimodal target (a Gaussian prior cannot: samples
// from its middle decode to chunks between the modes). The mixture's KL has no closed form: it is
// estimated by Monte Carlo at the reparameterised draws, log q(z|x, c) − log p(z|c) (latent.hpp). The condition enters the encoder as
// [x, c] and the decoder as [z, c] (concatenated); c_dim = 0 is the plain VAE, with the same
// parameters and names as before the condition existed. The IWAE (models/iwae.hpp) uses exactly
// these networks; only the objective differs.
//
// Shapes: x:[B, D], c:[B, C]; z:[B, Z], or [k, B, Z] for k samples per example (decoded as one
// [k·B, Z] batch, one GEMM per layer). Every per-example quantity comes back as [B] (or [k, B]).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/flow.hpp"
#include "models/latent.hpp"
#include "nn/module.hpp"

namespace lz {

enum class VaeLikelihood {
  Bernoulli,  // binary (or binarised) pixels: the decoder outputs logits
  Gaussian,   // continuous data: the decoder outputs a mean; the variance is a [D] row, fixed or learned
  Laplace,    // continuous data, L1 reconstruction: the decoder outputs the location; log scale a [D] row
};

struct VaeConfig {
  int64_t x_dim = 784;
  std::vector<int64_t> hidden = {200, 200};  // encoder hidden sizes; the decoder mirrors them
  int64_t z_dim = 50;
  std::string activation = "tanh";  // any name nn/activation.hpp parses: tanh, relu, ...
  VaeLikelihood likelihood = VaeLikelihood::Bernoulli;
  bool learn_variance = true;  // Gaussian and Laplace decoders: learn the [D] (log) scale row
  double init_logvar = 0.0;    // Gaussian: log σ² of p(x|z); Laplace: log b (fixed, or the start when learned)
  int64_t c_dim = 0;           // size of the condition c; 0: no condition (the plain VAE)
  bool learned_prior = false;  // p(z|c) from a network of c (needs c_dim > 0); otherwise N(0, I)
  std::vector<int64_t> prior_hidden = {200};  // the prior network's hidden sizes
  // > 0: p(z|c) a mixture of this many diagonal Gaussians from a network of c (needs c_dim > 0;
  // learned_prior is then implied), the KL by Monte Carlo. 0: learned_prior decides.
  int64_t prior_components = 0;
  bool mixture_prior() const { return prior_components > 0; }
  // > 0: p(z|c) a conditional flow over N(0, I) (models/flow.hpp: this many RealNVP affine
  // couplings, each an MLP of [half of z, c] with prior_hidden), the KL by Monte Carlo.
  int64_t prior_flow_couplings = 0;
  bool flow_prior() const { return prior_flow_couplings > 0; }

  // Throws std::invalid_argument naming the field for a size < 1, an unknown activation, or a
  // learned (or mixture) prior without a condition.
  void validate() const;
};

template <typename T>
class VAE : public LatentModel<T> {
 public:
  VAE(const VaeConfig& cfg, Rng& rng);

  const VaeConfig& config() const { return cfg_; }
  std::string describe() const override;
  int64_t x_dim() const override { return cfg_.x_dim; }
  int64_t z_dim() const override { return cfg_.z_dim; }
  int64_t c_dim() const override { return cfg_.c_dim; }

  // q(z|x, c): one encoder pass producing [B, 2Z], split into μ and log σ².
  DiagGaussian<T> encode(const Var<T>& x, const Var<T>& c = {}) override;
  // The decoder's output for z:[..., Z]: Bernoulli logits or the Gaussian mean, [..., D].
  Var<T> decode(const Var<T>& z, const Var<T>& c = {});
  Var<T> log_likelihood(const Var<T>& x, const Var<T>& z, const Var<T>& c = {}) override;
  // log p(x|z, c) from a decoder output already computed (out = decode(z, c)).
  Var<T> log_likelihood_of_output(const Var<T>& x, const Var<T>& out) const;
  Var<T> prior_log_prob(const Var<T>& z, const Var<T>& c = {}) override;
  // Closed form for N(0, I) and the diagonal learned prior; throws std::logic_error for the mixture
  // (no closed form: elbo and the evaluator use LatentModel::kl_estimate).
  Var<T> kl_to_prior(const DiagGaussian<T>& q, const Var<T>& c = {}) override;
  bool analytic_kl() const override { return !cfg_.mixture_prior() && !cfg_.flow_prior(); }
  Tensor<T> sample_prior(int64_t n, Rng& rng, const Var<T>& c = {}) override;
  Tensor<T> log_likelihood_all_pairs(const Tensor<T>& x, const Tensor<T>& z) override;
  // The learned prior p(z|c) for c:[B, C] (learned_prior without prior_components only).
  DiagGaussian<T> prior(const Var<T>& c);
  // The mixture prior p(z|c) for c:[B, C]: logits [B, M], means and log scales [B, M, Z]
  // (prior_components > 0 only).
  MixtureOfDiagGaussians<T> mixture_prior(const Var<T>& c);
  // The conditional flow prior (prior_flow_couplings > 0 only).
  Flow<T>& flow_prior() const;
  // The z of the deterministic action, a mode of the prior rather than a point between modes:
  // the mean of the most probable component (mixture), the prior's mean (learned), 0 (N(0, I)),
  // the flow's image of the base's mode f⁻¹(0; c) (flow)
  // -> [B, Z] (c:[B, C]; without a condition, one row [1, Z]). No graph.
  Tensor<T> prior_mode(const Var<T>& c = {});
  // The decoder's log σ² row [D] (Gaussian; log b for Laplace; undefined for Bernoulli).
  const Var<T>& decoder_logvar() const { return dec_logvar_; }

  // Decoder output as data: sigmoid(logits) for Bernoulli, the mean for Gaussian (no graph).
  Tensor<T> mean_of_output(const Var<T>& out) const;

 private:
  VaeConfig cfg_;
  std::shared_ptr<Layer<T>> encoder_, decoder_, prior_;
  std::shared_ptr<Flow<T>> flow_;
  Var<T> dec_logvar_;
};

// KL warm-up: β rises linearly from 0 to `beta` over `warmup_steps` (β = `beta` from the start if 0).
double kl_weight(int64_t step, int64_t warmup_steps, double beta = 1.0);

}  // namespace lz
