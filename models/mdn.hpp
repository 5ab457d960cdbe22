// The mixture-density network (Bishop 1994): an MLP of the condition c whose output row is read
// as a mixture of M diagonal Gaussians over the target y (models/distributions.hpp's
// MixtureOfDiagGaussians, through mixture_from_output):
//
//   p(y | c) = Σ_m π_m(c) Π_d N(y_d; μ_md(c), σ_md(c)²),   π = softmax(logits),  σ = min_scale + exp(log_scale)
//   loss     = −(1/N) Σ_n log p(y_n | c_n)                  (exact: one log-sum-exp over m per row)
//
// M = 1 is the unimodal Gaussian regression baseline (a mean and a scale per input, trained by the
// same likelihood), so the two differ by nothing but M. Its mean is E[y | c], which for a
// multimodal target lies between the modes, often where the data never is; the mixture keeps the
// modes apart (a mixture's mean() is that same average: the modes are in distribution(), not in
// mean()).
//
// Shapes: c:[N, C], y:[N, D]; log_prob -> [N]; sample -> [n, N, D]; mean -> [N, D].
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/distributions.hpp"
#include "nn/mlp.hpp"

namespace lz {

struct MdnConfig {
  int64_t condition_dim = 1;             // C: the input's width
  int64_t target_dim = 1;                // D: the target's width
  int64_t components = 5;                // M (1: unimodal Gaussian regression)
  std::vector<int64_t> hidden = {64, 64};
  std::string activation = "tanh";       // any name nn/activation.hpp parses
  // The scale floor, in the target's units: keep it well below the noise level. Without it, the
  // likelihood is unbounded (one component collapsing onto one training point).
  double min_scale = MixtureOfDiagGaussians<double>::kDefaultMinScale;
  // The mixture logits are logit_scale × the network's logit outputs. Below 1 it slows the weights'
  // learning under Adam (whose steps are about lr in every weight whatever the gradient's size):
  // their gradient, responsibility − π, is a noisy one, and at logit_scale 1 the weights wander by
  // ±0.05 in π between epochs (docs/mdn.md). 1: the plain MDN.
  double logit_scale = 1.0;
  // R: each component's covariance is diag(σ) (I + W Wᵀ) diag(σ) = diag(σ²) + V Vᵀ with V = σ ⊙ W,
  // W:[D, R] another output of the network (0: diagonal, the plain MDN; 1 or 2, in closed form by
  // the Woodbury identity and the matrix-determinant lemma on the R×R capacitance I + WᵀW). A
  // chunk's waypoints move together (a bump's amplitude); a diagonal component makes that
  // independent noise per waypoint and samples jagged paths. W is in units of σ, not V itself:
  // Adam moves an output by about lr × fan-in per step, far more than a chunk's V (~0.01), and the
  // likelihood's pull on a too-large V is weak (log|K| grows like log|V|), so a raw V wandered to
  // |V| ≈ 3 and the samples with it (docs/mdn.md).
  int64_t rank = 0;

  // Throws std::invalid_argument naming the field.
  void validate() const;
};

template <typename T>
class MDN : public Module<T> {
 public:
  MDN(const MdnConfig& cfg, Rng& rng);

  const MdnConfig& config() const { return cfg_; }
  int64_t components() const { return cfg_.components; }
  std::string describe() const override;

  // p(y | c) for each row of c:[N, C] (rank 0 only: a low-rank mixture is not a MixtureOfDiagGaussians;
  // throws for rank > 0).
  MixtureOfDiagGaussians<T> distribution(const Var<T>& c);
  // log π_m(c) + log N(y; μ_m(c), Σ_m(c)) -> [N, M], any rank; c:[N, C], y:[N, D].
  Var<T> component_log_prob(const Var<T>& c, const Var<T>& y);
  // log p(y_n | c_n) -> [N].
  Var<T> log_prob(const Var<T>& c, const Var<T>& y);
  // The training loss: −mean_n log p(y_n | c_n), a scalar.
  Var<T> loss(const Var<T>& c, const Var<T>& y);

  // Without a graph, in chunks of `chunk` rows (evaluation): log p(y_n | c_n) per row.
  std::vector<double> log_prob_values(const Tensor<T>& c, const Tensor<T>& y, int64_t chunk = 4096);
  // n draws of y for each row of c -> [n, N, D].
  Tensor<T> sample(const Tensor<T>& c, int64_t n, Rng& rng);
  // E[y | c] = Σ_m π_m μ_m -> [N, D]: for M = 1 the regression's prediction.
  Tensor<T> mean(const Tensor<T>& c);
  // The mean of each row's most probable component (largest π_m(c)) -> [N, D]: a deterministic
  // action that picks a mode where mean() averages them (for M = 1 the two are the same).
  Tensor<T> mode_mean(const Tensor<T>& c);

  // Data-dependent start (as k-means++ starts a mixture from data points): component m's mean
  // starts at targets[m] (the output layer's bias), its dependence on c scaled down by `shrink`.
  // In high dimension the responsibilities are nearly hard from the first step, so components
  // started together compete for the same points and all but one starve: the network ends at the
  // unimodal solution. Started at different targets, each takes the points nearest it.
  void init_means(const Tensor<T>& targets, T shrink = T(0.1));

  // A warm-up that separates the modes before maximum likelihood takes over (init_means's fixed
  // chunks do not on 40-dimensional action chunks: docs/mdn.md). mode_labels gives each training
  // row a component:
  //   1. least squares y ≈ A c + b, the part of y every mode shares (in double, with a small ridge);
  //   2. a diagonal Gaussian mixture of M components fitted by EM (models/gmm.hpp) to the residuals
  //      y − A c − b; each row's most likely component is its label. The residuals keep what the
  //      modes do not share (for the action chunks, the side of each obstacle).
  // The driver then trains the first steps on labelled_loss (each row scored by its own component
  // only: every component learns its mode's mean as a function of c, the weights learn the labels'
  // shares, and no component starves), then on loss(), with the same optimiser: a fresh Adam's
  // first steps move every weight by about the learning rate, enough to undo the separation.
  // c:[N, C], y:[N, D] with N >= M; M = 1 gives every row label 0 (nothing is fitted).
  struct LabelOptions {
    int gmm_iterations = 50;
    bool residuals = true;  // false: the mixture fits y itself (step 1 skipped; an ablation arm)
  };
  std::vector<int64_t> mode_labels(const Tensor<T>& c, const Tensor<T>& y, Rng& rng, const LabelOptions& opt);
  std::vector<int64_t> mode_labels(const Tensor<T>& c, const Tensor<T>& y, Rng& rng) {
    return mode_labels(c, y, rng, LabelOptions{});
  }

  // The complete-data loss: −mean_n [log π_{k_n}(c_n) + log N(y_n; μ_{k_n}(c_n), σ_{k_n}(c_n)²)], a
  // scalar; k:[N] in [0, M).
  Var<T> labelled_loss(const Var<T>& c, const Var<T>& y, const std::vector<int64_t>& k);

  MLP<T>& net() { return *net_; }

 private:
  void check_condition(const char* where, const Var<T>& c) const;
  void check_target(const char* where, const Var<T>& c, const Var<T>& y) const;
  // The network's output read as the diagonal mixture and, for rank > 0, the factors V:[N, M, R, D].
  struct Head {
    MixtureOfDiagGaussians<T> diag;
    Var<T> factors;
  };
  Head head(const Var<T>& c);

  MdnConfig cfg_;
  std::shared_ptr<MLP<T>> net_;
};

}  // namespace lz
