// Deliberately wrong transforms, each with one bug that exactly one family of harness checks must
// catch (tests/models/test_transforms.cpp asserts that the check fails and names the problem).
#pragma once

#include "models/transform.hpp"

namespace lz::test {

// y = exp(s) ⊙ x + t reporting log-det Σ s_j + s_0 (s_0 counted twice). Its inverse reports the
// negation, so the round trip and the cancellation pass: only the Jacobian check can catch it.
template <typename T>
class WrongLogDet : public Transform<T> {
 public:
  explicit WrongLogDet(int64_t dim) : Transform<T>(dim) {
    s_ = this->register_parameter("log_scale", Tensor<T>::zeros({dim}));
    t_ = this->register_parameter("shift", Tensor<T>::zeros({dim}));
  }
  std::string describe() const override { return "WrongLogDet"; }

 protected:
  Var<T> wrong_log_det(int64_t n) const { return expand(sum(s_) + sum(narrow(s_, 0, 0, 1)), Shape{n}); }
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>&) override {
    return {x * exp(s_) + t_, wrong_log_det(x.size(0))};
  }
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>&) override {
    return {(y - t_) * exp(-s_), -wrong_log_det(y.size(0))};
  }
  Var<T> s_, t_;
};

// The inverse forgets the shift; the inverse log-det has the wrong sign.
template <typename T>
class WrongInverse : public WrongLogDet<T> {
 public:
  using WrongLogDet<T>::WrongLogDet;
  std::string describe() const override { return "WrongInverse"; }

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>&) override {
    return {x * exp(this->s_) + this->t_, expand(sum(this->s_), Shape{x.size(0)})};
  }
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>&) override {
    return {y * exp(-this->s_), expand(sum(this->s_), Shape{y.size(0)})};
  }
};

// y = x + ½ mean over the batch of x: invertible (x = y − ⅓ mean(y)) but not row by row, so no
// per-row log-det is right; it claims 0.
template <typename T>
class RowMixing : public Transform<T> {
 public:
  explicit RowMixing(int64_t dim) : Transform<T>(dim) {}
  std::string describe() const override { return "RowMixing"; }

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>&) override {
    return {x + T(0.5) * mean(x, 0, true), Var<T>(Tensor<T>::zeros({x.size(0)}))};
  }
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>&) override {
    return {y - (T(1) / 3) * mean(y, 0, true), Var<T>(Tensor<T>::zeros({y.size(0)}))};
  }
};

// Right values, but the scale in y is detached from the graph: ∂y/∂log_scale never arrives.
template <typename T>
class DetachedScale : public WrongLogDet<T> {
 public:
  using WrongLogDet<T>::WrongLogDet;
  std::string describe() const override { return "DetachedScale"; }

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>&) override {
    return {x * exp(this->s_.detach()) + this->t_, expand(sum(this->s_), Shape{x.size(0)})};
  }
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>&) override {
    return {(y - this->t_) * exp(-this->s_), expand(-sum(this->s_), Shape{y.size(0)})};
  }
};

// Returns its log-det as [N,1] instead of [N].
template <typename T>
class BadLogDetShape : public Transform<T> {
 public:
  explicit BadLogDetShape(int64_t dim) : Transform<T>(dim) {}
  std::string describe() const override { return "BadLogDetShape"; }

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>&) override {
    return {x, Var<T>(Tensor<T>::zeros({x.size(0), 1}))};
  }
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>&) override {
    return {y, Var<T>(Tensor<T>::zeros({y.size(0), 1}))};
  }
};

}  // namespace lz::test
