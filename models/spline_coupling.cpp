#include "models/spline_coupling.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace lz {

template <typename T>
SplineCoupling<T>::SplineCoupling(int64_t dim, std::vector<int64_t> hidden, int parity, Rng& rng, int64_t bins,
                                  double tail_bound, int64_t condition_dim, Activation act)
    : Transform<T>(dim, condition_dim), parity_(parity), bins_(bins), transformed_(0) {
  if (dim < 2) throw std::invalid_argument("SplineCoupling: needs D >= 2 (one half passes, one is transformed), got " +
                                           std::to_string(dim));
  if (parity != 0 && parity != 1)
    throw std::invalid_argument("SplineCoupling: parity must be 0 or 1, got " + std::to_string(parity));
  if (hidden.empty()) throw std::invalid_argument("SplineCoupling: needs at least one hidden layer");
  if (bins < 1 || bins > 1000) throw std::invalid_argument("SplineCoupling: bins must be in [1, 1000], got " + std::to_string(bins));
  if (!(tail_bound > 0) || !std::isfinite(tail_bound))
    throw std::invalid_argument("SplineCoupling: tail_bound must be a positive number, got " + std::to_string(tail_bound));
  opt_.tail_bound = tail_bound;
  std::vector<T> m(static_cast<size_t>(dim));
  std::vector<int64_t> cols;
  for (int64_t j = 0; j < dim; ++j) {
    m[j] = (j % 2 == parity) ? T(1) : T(0);
    if (m[j] == T(0)) cols.push_back(j);
  }
  transformed_ = static_cast<int64_t>(cols.size());
  std::vector<T> sel(static_cast<size_t>(dim * transformed_));
  for (int64_t t = 0; t < transformed_; ++t) sel[cols[t] * transformed_ + t] = T(1);
  mask_ = Var<T>(Tensor<T>::from(m, {dim}));
  select_ = Var<T>(Tensor<T>::from(sel, {dim, transformed_}));

  const int64_t per = 3 * bins - 1;
  std::vector<int64_t> sizes{dim + condition_dim};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(transformed_ * per);
  net_ = this->register_module("net", std::make_shared<MLP<T>>(sizes, act, rng));
  auto& last = *net_->layers().back();
  Tensor<T>& w = last.weight().value_mut();
  std::fill(w.data(), w.data() + w.numel(), T(0));
  if (!last.has_bias()) throw std::logic_error("SplineCoupling: the MLP's last layer needs a bias");
  Tensor<T>& b = last.bias().value_mut();
  const T offset = static_cast<T>(std::log(std::expm1(1 - opt_.min_derivative)));  // softplus(offset) + m_d = 1
  for (int64_t t = 0; t < transformed_; ++t)
    for (int64_t i = 0; i < per; ++i) b[t * per + i] = i >= 2 * bins ? offset : T(0);
}

template <typename T>
TransformOut<T> SplineCoupling<T>::apply(const Var<T>& x, const Var<T>& c, bool inverse) {
  const int64_t n = x.size(0), K = bins_;
  Var<T> in = mul(x, mask_);
  if (this->condition_dim() > 0) in = concat<T>({in, c}, 1);
  const std::vector<Var<T>> raw = split(reshape(net_->forward(in), {n, transformed_, 3 * K - 1}), {K, K, K - 1}, 2);
  const Var<T> xt = matmul(x, select_);  // [N, D_t]
  const WithLogDet<T> s = inverse ? rq_spline_inverse(xt, raw[0], raw[1], raw[2], opt_)
                                  : rq_spline(xt, raw[0], raw[1], raw[2], opt_);
  return {add(mul(x, mask_), matmul(s.out, transpose(select_))), sum(s.log_abs_det, 1)};
}

template <typename T>
TransformOut<T> SplineCoupling<T>::do_forward(const Var<T>& x, const Var<T>& c) {
  return apply(x, c, false);
}

template <typename T>
TransformOut<T> SplineCoupling<T>::do_inverse(const Var<T>& y, const Var<T>& c) {
  return apply(y, c, true);
}

template <typename T>
std::string SplineCoupling<T>::describe() const {
  char b[64];
  std::snprintf(b, sizeof b, "%g", opt_.tail_bound);
  std::string s = "SplineCoupling(" + std::to_string(this->dim()) + ", parity " + std::to_string(parity_) + ", " +
                  std::to_string(bins_) + " bins on [-" + b + ", " + b + "]";
  if (this->condition_dim() > 0) s += ", condition " + std::to_string(this->condition_dim());
  return s + ")";
}

template class SplineCoupling<float>;
template class SplineCoupling<double>;

}  // namespace lz
