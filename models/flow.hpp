// Normalizing flows: the layers (RealNVP affine coupling, Glow's ActNorm, an LU-parameterised
// invertible linear map) and Flow<T>, a composition of them over a standard normal base.
//
//   log p(x | c) = log N(f(x; c); 0, I) + Σ_k log|det ∂f_k/∂h_{k-1}|     (change of variables)
//   sample: z ~ N(0, I), x = f^{-1}(z; c)
//
// Every layer is a Transform (models/transform.hpp) and is registered in the transform harness
// (tests/models/test_transforms.cpp): round trip, log-det against the autodiff Jacobian,
// cancelling log-dets, gradcheck through forward and inverse.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/distributions.hpp"
#include "models/spline_coupling.hpp"
#include "models/transform.hpp"
#include "nn/activation.hpp"
#include "nn/mlp.hpp"

namespace lz {

// RealNVP's affine coupling. A binary mask m over the D coordinates (m_j = 1 when j % 2 == parity)
// picks the half that passes unchanged; an MLP of that half (the other coordinates zeroed, as in
// the RealNVP paper, so the net is D(+C) -> hidden... -> 2D) and of the condition c, concatenated,
// gives raw log-scales and shifts for the other half:
//   s = (1 − m) ⊙ scale ⊙ tanh(raw),  t = (1 − m) ⊙ shift
//   y = m ⊙ x + (1 − m) ⊙ (x ⊙ exp(s) + t),      log|det ∂y/∂x| = Σ_j s_j
// tanh bounds |s_j| by |scale_j| (learned, initialised to 1) so one step cannot blow a coordinate
// up by e^50. The MLP's last layer starts at zero, so a new coupling is the identity.
template <typename T>
class AffineCoupling : public Transform<T> {
 public:
  // hidden: the MLP's hidden widths (at least one). condition_dim 0: no condition.
  AffineCoupling(int64_t dim, std::vector<int64_t> hidden, int parity, Rng& rng, int64_t condition_dim = 0,
                 Activation act = Activation::ReLU);

  int parity() const { return parity_; }
  MLP<T>& net() { return *net_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  // The net's output [N, 2D] (raw log-scale half, raw shift half) from the passed half of x.
  Var<T> net_out(const Var<T>& x, const Var<T>& c);

  int parity_;
  Var<T> mask_;     // constant [D]: the passed half (m)
  Tensor<T> keep_;  // [D]: the transformed half (1 − m)
  Var<T> scale_;    // [D], the tanh bound
  std::shared_ptr<MLP<T>> net_;
};

// Glow's ActNorm: y = x ⊙ exp(log_scale) + bias, log|det| = Σ_j log_scale_j.
// Data-dependent initialisation: the first forward() sets log_scale = −log std_j and
// bias = −mean_j exp(log_scale_j) over its batch, so that batch leaves with mean 0 and std 1 per
// dimension. Whether that has happened is read from the parameters themselves: an ActNorm
// initialises only while both log_scale and bias are exactly at their sentinel, zero. So a module
// whose parameters were loaded from a checkpoint (or set by hand, or perturbed by a test) never
// re-initialises, with no separate flag to save: the state survives a checkpoint because it is
// the parameters. (A data set whose every batch already has mean exactly 0 and std exactly 1
// would be re-"initialised" to the same values: harmless.) inverse() never initialises.
template <typename T>
class ActNorm : public Transform<T> {
 public:
  explicit ActNorm(int64_t dim);

  // True once the parameters have left the sentinel (data init done, or loaded / set).
  bool initialised() const;
  // Data-dependent initialisation from x:[N, D] now (N >= 2); what the first forward does.
  void initialise(const Tensor<T>& x);

  Var<T>& log_scale() { return log_scale_; }
  Var<T>& bias() { return bias_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  Var<T> log_scale_, bias_;
};

// An invertible linear map y = x W^T with W = P L U (Glow's invertible 1x1 convolution for
// vectors): P a fixed permutation, L unit lower triangular (the strict lower part of `lower` is
// learned), U upper triangular with the strict upper part of `upper` learned and its diagonal
// exp(log_diag), so log|det W| = Σ_i log_diag_i and W stays invertible whatever the optimizer does.
// Starts as W = P (L = U = I). The diagonal is positive, so sign(det W) = sign(det P) is fixed:
// the continuous path of an optimizer could not change it anyway.
//
// inverse: x = y W^{-T}. There is no triangular-solve op in autodiff/, so W^{-1} = U^{-1} L^{-1} P^T
// is computed by two triangular solves on plain numbers and enters the graph as a constant M in one
// Newton correction of the solve, x = x0 + (y − x0 W^T) M^T with x0 = y M^T: its value is x0 (the
// residual is rounding), and its first derivatives with respect to y and to every parameter are
// the exact ones (−W^{-1} dW x at the solution). Second derivatives through inverse are not exact.
template <typename T>
class LULinear : public Transform<T> {
 public:
  LULinear(int64_t dim, Rng& rng);                // P uniformly random
  LULinear(int64_t dim, std::vector<int64_t> perm);  // P given: row i of P is e_{perm[i]}

  const std::vector<int64_t>& perm() const { return perm_; }
  Tensor<T> weight() const;  // W = P L U:[D, D], no graph
  Var<T>& lower() { return lower_; }
  Var<T>& upper() { return upper_; }
  Var<T>& log_diag() { return log_diag_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  Var<T> build_weight() const;  // W = P L U through the graph
  std::vector<int64_t> perm_;
  Var<T> p_, strict_lower_, strict_upper_, eye_;  // constants [D, D]
  Var<T> lower_, upper_, log_diag_;
};

// The architecture of a Flow: `couplings` blocks, each [ActNorm] [LULinear] coupling with
// alternating parity (Glow's step of flow, with RealNVP's affine coupling or Durkan et al.'s
// rational-quadratic spline coupling, K = `bins` bins on [−tail_bound, tail_bound]). The default
// bound 3 holds two moons (x in [−1.3, 2.3], y in [−0.8, 1.3]) at the data end and 99.7% of each
// base N(0, 1) coordinate at the other; a spline coupling is the identity outside [−B, B], so toys
// reaching ±4 (checkerboard, pinwheel, eight Gaussians) want a larger bound or ActNorm first.
enum class CouplingKind { Affine, Spline };

struct FlowSpec {
  int64_t dim = 2;
  int64_t condition_dim = 0;
  int64_t couplings = 8;
  std::vector<int64_t> hidden = {128, 128};
  bool actnorm = false;
  bool lu = false;
  Activation activation = Activation::ReLU;
  CouplingKind coupling = CouplingKind::Affine;
  int64_t bins = 8;         // spline couplings only
  double tail_bound = 3.0;  // spline couplings only
};

// A normalizing flow: a Composite of the layers (x -> z) over a standard normal base N(0, I_D).
// Parameters are named as the Composite's: "0.net.fc1.weight", "1.log_scale", ...
template <typename T>
class Flow : public Composite<T> {
 public:
  explicit Flow(std::vector<TransformPtr<T>> steps);
  // Built from an architecture; rng draws the MLP weights and the LU permutations.
  static std::shared_ptr<Flow> build(const FlowSpec& spec, Rng& rng);

  // x:[N,D] c:[N,C] or undefined -> [N]: log N(f(x); 0, I) + log|det ∂f/∂x|
  Var<T> log_prob(const Var<T>& x, const Var<T>& c = Var<T>());
  // -> [n, D]: f^{-1}(z; c), z ~ N(0, I), without a graph. c:[n, C] when the flow is conditional.
  Tensor<T> sample(int64_t n, Rng& rng, const Tensor<T>& c = Tensor<T>());
  // log p(x_n | c_n) per row of x:[N,D], in chunks of 4096 rows, without a graph (evaluation).
  std::vector<double> log_prob_values(const Tensor<T>& x, const Tensor<T>& c = Tensor<T>());
  // The data pushed into z-space: f(x; c), without a graph.
  Tensor<T> push_forward(const Tensor<T>& x, const Tensor<T>& c = Tensor<T>());
  // The ActNorm layers' data-dependent initialisation from x, in order (each sees its input):
  // the same as one forward of x, made explicit for drivers that want it before training.
  void initialise(const Tensor<T>& x, const Tensor<T>& c = Tensor<T>());

  const StandardNormal<T>& base() const { return base_; }
  std::string describe() const override;

 private:
  StandardNormal<T> base_;
};

// log p(x) of a 2-D flow on a grid: [ny, nx] with row 0 at the top (y = ymax), columns from xmin,
// at cell centres, so the sum of exp(·) times the cell area is the midpoint rule for ∫ p over the
// box. In chunks, without a graph.
template <typename T>
Tensor<T> log_prob_grid(Flow<T>& flow, double xmin, double xmax, double ymin, double ymax, int64_t nx, int64_t ny);

}  // namespace lz
