#include "models/transform.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace lz {

// ---- Transform --------------------------------------------------------------------------------

template <typename T>
Transform<T>::Transform(int64_t dim, int64_t condition_dim) : dim_(dim), condition_dim_(condition_dim) {
  if (dim < 1) throw std::invalid_argument("Transform: dimension must be >= 1, got " + std::to_string(dim));
  if (condition_dim < 0)
    throw std::invalid_argument("Transform: condition dimension must be >= 0 (0 = none), got " +
                                std::to_string(condition_dim));
}

template <typename T>
void Transform<T>::check_input(const Var<T>& x, const Var<T>& c, const char* which) const {
  const std::string where = this->describe() + "::" + which;
  if (!x.defined()) throw std::invalid_argument(where + ": the input is undefined");
  if (x.dim() != 2 || x.size(1) != dim_)
    throw ShapeError(where + ": expected input [N," + std::to_string(dim_) + "], got " + shape_str(x.shape()));
  if (condition_dim_ == 0) return;  // c, if given, is meant for another step of a composite
  if (!c.defined())
    throw std::invalid_argument(where + ": this transform needs a condition c:[N," + std::to_string(condition_dim_) +
                                "], got none");
  if (c.dim() != 2 || c.size(0) != x.size(0) || c.size(1) != condition_dim_)
    throw ShapeError(where + ": expected condition [" + std::to_string(x.size(0)) + "," +
                     std::to_string(condition_dim_) + "] for input " + shape_str(x.shape()) + ", got " +
                     shape_str(c.shape()));
}

// A transform's own bug (a log-det summed over the wrong axis) surfaces here, named, rather than
// as a broadcast into an [N,N] log-likelihood somewhere in the flow.
template <typename T>
void Transform<T>::check_output(const TransformOut<T>& r, int64_t n, const char* which) const {
  const std::string where = this->describe() + "::" + which;
  if (!r.out.defined() || r.out.shape() != Shape{n, dim_})
    throw ShapeError(where + ": implementation returned output " +
                     (r.out.defined() ? shape_str(r.out.shape()) : std::string("<undefined>")) + ", expected [" +
                     std::to_string(n) + "," + std::to_string(dim_) + "]");
  if (!r.log_det.defined() || r.log_det.shape() != Shape{n})
    throw ShapeError(where + ": implementation returned log-det " +
                     (r.log_det.defined() ? shape_str(r.log_det.shape()) : std::string("<undefined>")) +
                     ", expected [" + std::to_string(n) + "] (one per row)");
}

template <typename T>
TransformOut<T> Transform<T>::forward(const Var<T>& x, const Var<T>& c) {
  check_input(x, c, "forward");
  TransformOut<T> r = do_forward(x, c);
  check_output(r, x.size(0), "forward");
  return r;
}

template <typename T>
TransformOut<T> Transform<T>::inverse(const Var<T>& y, const Var<T>& c) {
  check_input(y, c, "inverse");
  TransformOut<T> r = do_inverse(y, c);
  check_output(r, y.size(0), "inverse");
  return r;
}

// ---- Composite --------------------------------------------------------------------------------

namespace {
template <typename T>
int64_t common_dim(const std::vector<TransformPtr<T>>& steps) {
  if (steps.empty()) throw std::invalid_argument("Composite: needs at least one transform");
  for (size_t i = 0; i < steps.size(); ++i) {
    if (!steps[i]) throw std::invalid_argument("Composite: step " + std::to_string(i) + " is null");
    if (steps[i]->dim() != steps[0]->dim())
      throw std::invalid_argument("Composite: step " + std::to_string(i) + " (" + steps[i]->describe() +
                                  ") has dimension " + std::to_string(steps[i]->dim()) + ", step 0 (" +
                                  steps[0]->describe() + ") has " + std::to_string(steps[0]->dim()));
  }
  return steps[0]->dim();
}

template <typename T>
int64_t common_condition_dim(const std::vector<TransformPtr<T>>& steps) {
  int64_t c = 0;
  size_t first = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t ci = steps[i]->condition_dim();
    if (ci == 0) continue;
    if (c == 0) {
      c = ci;
      first = i;
    } else if (ci != c) {
      throw std::invalid_argument("Composite: step " + std::to_string(i) + " takes a condition of width " +
                                  std::to_string(ci) + ", step " + std::to_string(first) + " one of width " +
                                  std::to_string(c) + " (they share one c)");
    }
  }
  return c;
}
}  // namespace

template <typename T>
Composite<T>::Composite(std::vector<TransformPtr<T>> steps)
    : Transform<T>(common_dim(steps), common_condition_dim(steps)), steps_(std::move(steps)) {
  for (size_t i = 0; i < steps_.size(); ++i) this->register_module(std::to_string(i), steps_[i]);
}

template <typename T>
TransformOut<T> Composite<T>::do_forward(const Var<T>& x, const Var<T>& c) {
  TransformOut<T> r = steps_[0]->forward(x, c);
  for (size_t i = 1; i < steps_.size(); ++i) {
    TransformOut<T> s = steps_[i]->forward(r.out, c);
    r = {s.out, add(r.log_det, s.log_det)};
  }
  return r;
}

template <typename T>
TransformOut<T> Composite<T>::do_inverse(const Var<T>& y, const Var<T>& c) {
  TransformOut<T> r = steps_.back()->inverse(y, c);
  for (size_t i = steps_.size() - 1; i-- > 0;) {
    TransformOut<T> s = steps_[i]->inverse(r.out, c);
    r = {s.out, add(r.log_det, s.log_det)};
  }
  return r;
}

template <typename T>
std::string Composite<T>::describe() const {
  std::string s = "Composite(";
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (i) s += ", ";
    s += steps_[i]->describe();
  }
  return s + ")";
}

// ---- ElementwiseAffine ------------------------------------------------------------------------

template <typename T>
ElementwiseAffine<T>::ElementwiseAffine(int64_t dim) : Transform<T>(dim) {
  log_scale_ = this->register_parameter("log_scale", Tensor<T>::zeros({dim}));
  shift_ = this->register_parameter("shift", Tensor<T>::zeros({dim}));
}

// x:[N,D] log_scale,shift:[D] -> y:[N,D], log-det Σ_j log_scale_j broadcast to [N]
template <typename T>
TransformOut<T> ElementwiseAffine<T>::do_forward(const Var<T>& x, const Var<T>&) {
  const Var<T> y = add(mul(x, exp(log_scale_)), shift_);
  return {y, expand(sum(log_scale_), Shape{x.size(0)})};
}

// x = (y − shift) ⊙ exp(−log_scale): multiplying by exp(−s) rather than dividing by exp(s) keeps
// the round trip exact to rounding for large |s| as well.
template <typename T>
TransformOut<T> ElementwiseAffine<T>::do_inverse(const Var<T>& y, const Var<T>&) {
  const Var<T> x = mul(sub(y, shift_), exp(neg(log_scale_)));
  return {x, expand(neg(sum(log_scale_)), Shape{y.size(0)})};
}

template <typename T>
std::string ElementwiseAffine<T>::describe() const {
  return "ElementwiseAffine(" + std::to_string(this->dim()) + ")";
}

// ---- Permutation ------------------------------------------------------------------------------

namespace {
std::vector<int64_t> inverse_permutation(const std::vector<int64_t>& perm) {
  const int64_t d = static_cast<int64_t>(perm.size());
  std::vector<int64_t> inv(perm.size(), -1);
  for (int64_t j = 0; j < d; ++j) {
    const int64_t p = perm[j];
    if (p < 0 || p >= d)
      throw std::invalid_argument("Permutation: entry " + std::to_string(j) + " is " + std::to_string(p) +
                                  ", expected an index in [0," + std::to_string(d) + ")");
    if (inv[p] != -1)
      throw std::invalid_argument("Permutation: index " + std::to_string(p) + " appears at positions " +
                                  std::to_string(inv[p]) + " and " + std::to_string(j) + " (must appear once)");
    inv[p] = j;
  }
  return inv;
}

// y[n][j] = x[n][take[j]] for every row, through `gather` so the gradient is scattered back.
template <typename T>
Var<T> take_columns(const Var<T>& x, const std::vector<int64_t>& take) {
  const int64_t n = x.size(0), d = static_cast<int64_t>(take.size());
  std::vector<int64_t> index(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) std::copy(take.begin(), take.end(), index.begin() + i * d);
  return gather(x, 1, index, Shape{n, d});
}
}  // namespace

template <typename T>
Permutation<T>::Permutation(std::vector<int64_t> perm)
    : Transform<T>(perm.empty() ? throw std::invalid_argument("Permutation: empty permutation")
                                : static_cast<int64_t>(perm.size())),
      perm_(std::move(perm)),
      inv_(inverse_permutation(perm_)) {}

template <typename T>
std::shared_ptr<Permutation<T>> Permutation<T>::reverse(int64_t dim) {
  if (dim < 1) throw std::invalid_argument("Permutation::reverse: dimension must be >= 1, got " + std::to_string(dim));
  std::vector<int64_t> p(static_cast<size_t>(dim));
  for (int64_t j = 0; j < dim; ++j) p[j] = dim - 1 - j;
  return std::make_shared<Permutation>(std::move(p));
}

template <typename T>
std::shared_ptr<Permutation<T>> Permutation<T>::random(int64_t dim, Rng& rng) {
  if (dim < 1) throw std::invalid_argument("Permutation::random: dimension must be >= 1, got " + std::to_string(dim));
  std::vector<int64_t> p(static_cast<size_t>(dim));
  for (int64_t j = 0; j < dim; ++j) p[j] = j;
  for (int64_t j = dim - 1; j > 0; --j)
    std::swap(p[j], p[static_cast<int64_t>(rng.below(static_cast<uint64_t>(j + 1)))]);
  return std::make_shared<Permutation>(std::move(p));
}

template <typename T>
TransformOut<T> Permutation<T>::do_forward(const Var<T>& x, const Var<T>&) {
  return {take_columns(x, perm_), Var<T>(Tensor<T>::zeros({x.size(0)}))};
}

template <typename T>
TransformOut<T> Permutation<T>::do_inverse(const Var<T>& y, const Var<T>&) {
  return {take_columns(y, inv_), Var<T>(Tensor<T>::zeros({y.size(0)}))};
}

template <typename T>
std::string Permutation<T>::describe() const {
  std::string s = "Permutation(";
  const size_t shown = perm_.size() <= 8 ? perm_.size() : 8;
  for (size_t j = 0; j < shown; ++j) {
    if (j) s += ' ';
    s += std::to_string(perm_[j]);
  }
  return s + (shown < perm_.size() ? " ...)" : ")");
}

// ---- LogitTransform ---------------------------------------------------------------------------

template <typename T>
LogitTransform<T>::LogitTransform(int64_t dim, double lambda) : Transform<T>(dim), lambda_(lambda) {
  if (!(lambda >= 0 && lambda < 0.5))
    throw std::invalid_argument("LogitTransform: lambda must be in [0, 0.5), got " + std::to_string(lambda));
}

// u:[N,D] -> y = logit(λ + (1 − 2λ) u):[N,D], log-det Σ_j log(1 − 2λ) − log p_j − log(1 − p_j)
template <typename T>
TransformOut<T> LogitTransform<T>::do_forward(const Var<T>& u, const Var<T>&) {
  const T squeeze = static_cast<T>(1 - 2 * lambda_);
  const Var<T> p = add(mul(u, squeeze), static_cast<T>(lambda_));
  const Var<T> log_p = log(p), log_q = log(sub(T(1), p));
  const Var<T> log_det = add(neg(sum(add(log_p, log_q), 1)), static_cast<T>(this->dim() * std::log1p(-2 * lambda_)));
  return {sub(log_p, log_q), log_det};
}

// y:[N,D] -> u = (σ(y) − λ) / (1 − 2λ), log-det Σ_j log σ(y_j) + log σ(−y_j) − log(1 − 2λ):
// log σ in its stable form, so a y of ±40 gives a finite log-det rather than log 0.
template <typename T>
TransformOut<T> LogitTransform<T>::do_inverse(const Var<T>& y, const Var<T>&) {
  const T squeeze = static_cast<T>(1 - 2 * lambda_);
  const Var<T> u = mul(add(sigmoid(y), static_cast<T>(-lambda_)), T(1) / squeeze);
  const Var<T> log_det = add(sum(add(log_sigmoid(y), log_sigmoid(neg(y))), 1),
                             static_cast<T>(-this->dim() * std::log1p(-2 * lambda_)));
  return {u, log_det};
}

template <typename T>
std::string LogitTransform<T>::describe() const {
  char b[64];
  std::snprintf(b, sizeof b, "Logit(%ld, lambda=%g)", static_cast<long>(this->dim()), lambda_);
  return b;
}

template class Transform<float>;
template class Transform<double>;
template class Composite<float>;
template class Composite<double>;
template class ElementwiseAffine<float>;
template class ElementwiseAffine<double>;
template class Permutation<float>;
template class Permutation<double>;
template class LogitTransform<float>;
template class LogitTransform<double>;

}  // namespace lz
