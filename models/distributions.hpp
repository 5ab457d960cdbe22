// The probability distributions every latent-variable model of the zoo shares: the standard normal
// (the VAE's prior, a flow's base), a diagonal Gaussian parameterised by its log-variance (an
// encoder's posterior, a conditional prior), Bernoulli with logits (binary pixels), and a mixture
// of diagonal Gaussians whose parameters come per row from a network (the mixture-density head).
// Each formula exists once; the models read their objectives out of these.
//
// The interface (a concept, not a base class: the hot paths pay no virtual call):
//   Var<T>    log_prob(x)        log-density of each row, summed over the event axis (the last):
//                                x:[N, D] -> [N]; a leading sample axis x:[k, N, D] -> [k, N].
//   Tensor<T> sample(n, rng)     n draws, no graph: [n, ...batch, D].
//   Var<T>    rsample(eps)       where reparameterisable: a draw differentiable in the parameters,
//   Var<T>    rsample(n, rng)    from a given ε ~ N(0, I) or from rng.
// A conditional distribution p(· | c) is a function of c that returns one of these (usually a
// network's output split by diag_gaussian_from_output or mixture_from_output): log p(x | c) is
// `p(c).log_prob(x)`, a draw `p(c).sample(n, rng)`. `Conditional<D, T>` names that type.
#pragma once

#include <concepts>
#include <functional>

#include "autodiff/ops.hpp"
#include "tensor/rng.hpp"

namespace lz {

template <typename Dist, typename T>
concept Distribution = requires(const Dist& d, const Var<T>& x, int64_t n, Rng& rng) {
  { d.log_prob(x) } -> std::same_as<Var<T>>;
  { d.sample(n, rng) } -> std::same_as<Tensor<T>>;
};

template <typename Dist, typename T>
concept Reparameterisable = Distribution<Dist, T> && requires(const Dist& d, const Tensor<T>& eps, int64_t n, Rng& rng) {
  { d.rsample(eps) } -> std::same_as<Var<T>>;
  { d.rsample(n, rng) } -> std::same_as<Var<T>>;
};

// p(· | c): a network of c (or any function) giving the distribution for each row of c.
template <typename Dist, typename T>
using Conditional = std::function<Dist(const Var<T>& c)>;

// ε ~ N(0, I) of the given shape, drawn from `rng` (the only randomness of the reparameterisation).
template <typename T>
Tensor<T> standard_normal(const Shape& shape, Rng& rng);

// One draw of a categorical with probabilities w[0..M) given u ~ U[0, 1): the inverse CDF, the
// last category taking any rounding remainder (the mixtures' sample() pick a component with it).
template <typename T>
int64_t categorical_inverse_cdf(const T* w, int64_t M, double u) {
  double c = 0;
  int64_t m = 0;
  for (; m < M - 1; ++m) {
    c += static_cast<double>(w[m]);
    if (u < c) break;
  }
  return m;
}

// log N(z; 0, I) = Σ_j −½(z_j² + log 2π) -> z's shape without its last axis.
template <typename T>
Var<T> std_normal_log_prob(const Var<T>& z);

// log N(x; mean, diag(exp(logvar))) summed over the last axis; logvar may be a [D] row shared by
// every example (a learned or fixed decoder variance) -> mean's shape minus D.
template <typename T>
Var<T> gaussian_log_prob(const Var<T>& x, const Var<T>& mean, const Var<T>& logvar);

// log Laplace(x; loc, scale = exp(log_scale)) = Σ_j −(|x_j − loc_j| / scale_j + log scale_j + log 2),
// summed over the last axis (an L1 reconstruction loss made a likelihood, as ACT's L1 loss is);
// log_scale may be a [D] row shared by every example -> loc's shape minus D.
template <typename T>
Var<T> laplace_log_prob(const Var<T>& x, const Var<T>& loc, const Var<T>& log_scale);

// N(0, I_D): no parameters, so rsample is ε itself.
template <typename T>
struct StandardNormal {
  int64_t dim;

  Var<T> log_prob(const Var<T>& x) const;           // x:[..., D] -> [...]
  Tensor<T> sample(int64_t n, Rng& rng) const;      // -> [n, D]
  Var<T> rsample(const Tensor<T>& eps) const;       // eps:[..., D] -> eps
  Var<T> rsample(int64_t n, Rng& rng) const;        // -> [n, D]
};

// q(z) = N(mean, diag(exp(logvar))), rows independent. mean, logvar: [..., Z] (per row from a
// network, or one [Z] row).
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
  Var<T> rsample(int64_t n, Rng& rng) const;    // -> [n, ...mean's shape]
  Tensor<T> sample(int64_t n, Rng& rng) const;  // -> [n, ...mean's shape], no graph
  // KL(q || N(0, I)) = ½ Σ_j (σ_j² + μ_j² − 1 − log σ_j²), in closed form -> [...].
  Var<T> kl_std_normal() const;
  // KL(q || p) = ½ Σ_j (log σp_j² − log σq_j² + (σq_j² + (μq_j − μp_j)²) / σp_j² − 1) for p of q's
  // shape (a CVAE's posterior against its conditional prior) -> [...].
  Var<T> kl_to(const DiagGaussian& p) const;
  // exp(½ logvar), without a graph (for pictures and diagnostics).
  Tensor<T> stddev() const;
};

// A network output out:[..., 2Z] read as (mean, logvar) = (out[..., :Z], out[..., Z:]).
template <typename T>
DiagGaussian<T> diag_gaussian_from_output(const Var<T>& out);

// x_j ~ Bernoulli(σ(logits_j)), independent. Not reparameterisable (a draw is discrete).
template <typename T>
struct Bernoulli {
  Var<T> logits;  // [..., D]

  // Σ_j x_j log σ(l_j) + (1 − x_j) log(1 − σ(l_j)), stable for any logit (one fused op);
  // x broadcasts against logits (x:[N, D] with logits:[k, N, D]) -> logits' shape minus D.
  Var<T> log_prob(const Var<T>& x) const { return bernoulli_log_prob(logits, x); }
  Tensor<T> sample(int64_t n, Rng& rng) const;  // -> [n, ...logits' shape] of 0s and 1s
  Tensor<T> probs() const;                      // σ(logits), the mean
};

// p(x) = Σ_m π_m Π_d N(x_d; μ_md, σ_md²) per row, π = softmax(logits),
// σ = min_scale + exp(log_scale): the floor keeps the density finite where a network drives a
// component's scale to zero on one point (the MDN likelihood is unbounded there otherwise), and
// it is in x's units (pick it well below the noise level). min_scale = 0 gives σ = exp(log_scale).
// logits:[N, M] means:[N, M, D] log_scales:[N, M, D]; N = 1 shares one mixture across every row.
// Not reparameterisable (the component choice is discrete); sample picks m ~ π, then a Gaussian.
template <typename T>
struct MixtureOfDiagGaussians {
  static constexpr double kDefaultMinScale = 1e-3;

  Var<T> logits;
  Var<T> means;
  Var<T> log_scales;
  T min_scale;

  MixtureOfDiagGaussians(Var<T> logits, Var<T> means, Var<T> log_scales, T min_scale = T(kDefaultMinScale));

  int64_t rows() const { return logits.size(0); }
  int64_t components() const { return logits.size(1); }
  int64_t dim() const { return means.size(2); }

  // log p(x) = logsumexp_m (log π_m + Σ_d log N(x_d; μ_md, σ_md²)).
  // x:[..., N, D] (or [..., n, D] when N = 1) -> [..., N].
  Var<T> log_prob(const Var<T>& x) const;
  // log π_m + log N(x; component m) before the log-sum-exp -> [..., N, M] (responsibilities are
  // its softmax over the last axis).
  Var<T> component_log_prob(const Var<T>& x) const;
  Var<T> scale() const;                         // σ = min_scale + exp(log_scale), [N, M, D]
  Tensor<T> sample(int64_t n, Rng& rng) const;  // -> [n, N, D]
  Tensor<T> mean() const;                       // Σ_m π_m μ_m, [N, D]
  // μ of each row's most probable component (argmax_m π_m; the first on a tie), [N, D]: a point
  // at one mode, where mean() may fall between them (a deterministic prediction that picks a mode).
  Tensor<T> top_component_mean() const;
  Tensor<T> variance() const;                   // Σ_m π_m (σ_m² + μ_m²) − mean², [N, D]
};

// The mixture-density head: one network output row out:[N, M + 2MD] read as
// [logits (M) | means (M·D, component-major) | log_scales (M·D)], so an MLP with
// mixture_output_size(M, D) outputs is the head.
inline int64_t mixture_output_size(int64_t M, int64_t D) { return M + 2 * M * D; }
template <typename T>
MixtureOfDiagGaussians<T> mixture_from_output(const Var<T>& out, int64_t M, int64_t D,
                                              T min_scale = T(MixtureOfDiagGaussians<T>::kDefaultMinScale));

// log (1/n) Σ_i exp(a_i): the autodiff op log_mean_exp (autodiff/ops.hpp) on Vars, and
// math::log_mean_exp (tensor/math.hpp) on plain numbers for evaluation code.

static_assert(Reparameterisable<StandardNormal<float>, float>);
static_assert(Reparameterisable<DiagGaussian<float>, float>);
static_assert(Distribution<Bernoulli<float>, float>);
static_assert(Distribution<MixtureOfDiagGaussians<float>, float>);

}  // namespace lz
