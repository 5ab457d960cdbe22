// Transform<T>: an invertible map of R^D with its log-Jacobian-determinant, as nflows and
// normflows write it, the building block of every normalizing flow.
//
//   forward(x [, c]) -> {y,  log|det ∂y/∂x|}     inverse(y [, c]) -> {x,  log|det ∂x/∂y|}
//
// x, y: [N, D], one example per row; the log-determinant is [N], one per row, because every
// transform here maps rows independently (the Jacobian of the whole batch is block diagonal; the
// test harness checks that too). c: [N, C] is an optional condition (a CVAE-style or
// class-conditional flow); an undefined Var means "none". A transform with condition_dim() == 0
// ignores c, so a Composite hands the same c to every child and only the conditional ones read it.
//
// A Transform is a Module, so it owns named parameters that optimizers and checkpoints walk.
// All math goes through the autodiff ops: gradients reach x, c and every parameter.
//
// forward/inverse are not const so that a transform may initialise itself from its first batch
// (Glow's ActNorm). The public forward/inverse check their inputs and the implementation's outputs once, here;
// subclasses implement do_forward/do_inverse and may assume x is [N, D] and c is [N, C] when
// condition_dim() > 0. tests/models/test_transforms.cpp is the harness every transform is
// registered in (round trip, log-det against the autodiff Jacobian, gradcheck).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "nn/module.hpp"
#include "tensor/rng.hpp"

namespace lz {

template <typename T>
struct TransformOut {
  Var<T> out;      // [N, D]: y for forward, x for inverse
  Var<T> log_det;  // [N]: log|det| of the Jacobian of the map that produced `out`
};

template <typename T>
class Transform : public Module<T> {
 public:
  // dim: D, the width of x and y. condition_dim: C, or 0 for a transform that takes no condition.
  explicit Transform(int64_t dim, int64_t condition_dim = 0);

  // x:[N,D] c:[N,C] or undefined -> {y:[N,D], log|det ∂y/∂x|:[N]}
  TransformOut<T> forward(const Var<T>& x, const Var<T>& c = Var<T>());
  // y:[N,D] c:[N,C] or undefined -> {x:[N,D], log|det ∂x/∂y|:[N]}
  TransformOut<T> inverse(const Var<T>& y, const Var<T>& c = Var<T>());

  int64_t dim() const { return dim_; }
  int64_t condition_dim() const { return condition_dim_; }

 protected:
  virtual TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) = 0;
  virtual TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) = 0;

 private:
  void check_input(const Var<T>& x, const Var<T>& c, const char* which) const;
  void check_output(const TransformOut<T>& r, int64_t n, const char* which) const;

  int64_t dim_;
  int64_t condition_dim_;
};

template <typename T>
using TransformPtr = std::shared_ptr<Transform<T>>;

// t_k ∘ ... ∘ t_1: forward runs the children in order and sums their log-determinants (the chain
// rule: det of a product is the product of dets); inverse runs them in reverse order. Children are
// registered as submodules "0", "1", ... (PyTorch's nn.Sequential), so a parameter reads
// "1.log_scale". Every child has the same D; the conditional ones share one C, and c is passed
// to all of them.
template <typename T>
class Composite : public Transform<T> {
 public:
  explicit Composite(std::vector<TransformPtr<T>> steps);

  const std::vector<TransformPtr<T>>& steps() const { return steps_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  std::vector<TransformPtr<T>> steps_;
};

// y = exp(log_scale) ⊙ x + shift with learnable log_scale, shift: [D], both initialised to 0 (the
// identity). log|det ∂y/∂x| = Σ_j log_scale_j, the same for every row. A positive scale through
// exp keeps the map invertible whatever the optimizer does.
template <typename T>
class ElementwiseAffine : public Transform<T> {
 public:
  explicit ElementwiseAffine(int64_t dim);

  Var<T>& log_scale() { return log_scale_; }
  Var<T>& shift() { return shift_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  Var<T> log_scale_, shift_;
};

// y_j = x_{perm[j]}: a fixed reordering of the coordinates (between couplings, so that every
// coordinate gets transformed). |det| = 1, so both log-determinants are 0. It has no parameters:
// a checkpoint of a flow with a random permutation must rebuild it from the same seed.
template <typename T>
class Permutation : public Transform<T> {
 public:
  // perm must hold each of 0..D-1 exactly once.
  explicit Permutation(std::vector<int64_t> perm);
  static std::shared_ptr<Permutation> reverse(int64_t dim);
  // A uniformly random permutation (Fisher-Yates) drawn from rng.
  static std::shared_ptr<Permutation> random(int64_t dim, Rng& rng);

  const std::vector<int64_t>& perm() const { return perm_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  std::vector<int64_t> perm_, inv_;
};

// The logit preprocessing of image flows (RealNVP §4.1, MAF §4.3): pixels dequantised into
// u ∈ (0, 1) are squeezed away from 0 and 1 and mapped to the whole real line,
//   p = λ + (1 − 2λ) u,   y = logit(p) = log p − log(1 − p),
//   log|det ∂y/∂u| = Σ_j [log(1 − 2λ) − log p_j − log(1 − p_j)],
// so that a flow on y is a density on u once this log-determinant is added (the flow driver's bits
// per dimension count it). The inverse, u = (σ(y) − λ) / (1 − 2λ), maps every real y back into
// (0, 1), which is how samples become images. No parameters; forward needs u in (−λ/(1−2λ),
// 1 + λ/(1−2λ)) (otherwise the log is of a negative number: NaN), which dequantised pixels are.
template <typename T>
class LogitTransform : public Transform<T> {
 public:
  explicit LogitTransform(int64_t dim, double lambda = 1e-6);

  double lambda() const { return lambda_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& u, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  double lambda_;
};

}  // namespace lz
