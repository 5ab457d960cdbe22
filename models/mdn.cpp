#include "models/mdn.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace lz {

void MdnConfig::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("MdnConfig: " + what); };
  if (condition_dim < 1) bad("condition_dim must be >= 1, got " + std::to_string(condition_dim));
  if (target_dim < 1) bad("target_dim must be >= 1, got " + std::to_string(target_dim));
  if (components < 1) bad("components (M) must be >= 1, got " + std::to_string(components));
  for (int64_t h : hidden)
    if (h < 1) bad("every hidden size must be >= 1, got " + std::to_string(h));
  if (!(std::isfinite(min_scale) && min_scale >= 0))
    bad("min_scale must be finite and >= 0, got " + std::to_string(min_scale));
  parse_activation(activation);  // throws listing the accepted names
}

template <typename T>
MDN<T>::MDN(const MdnConfig& cfg, Rng& rng) : cfg_(cfg) {
  cfg_.validate();
  std::vector<int64_t> sizes{cfg_.condition_dim};
  sizes.insert(sizes.end(), cfg_.hidden.begin(), cfg_.hidden.end());
  sizes.push_back(mixture_output_size(cfg_.components, cfg_.target_dim));
  net_ = this->register_module("net", std::make_shared<MLP<T>>(sizes, parse_activation(cfg_.activation), rng));
}

template <typename T>
void MDN<T>::init_means(const Tensor<T>& targets, T shrink) {
  const int64_t M = cfg_.components, D = cfg_.target_dim;
  if (targets.dim() != 2 || targets.size(0) < M || targets.size(1) != D)
    throw ShapeError(describe() + "::init_means: expected targets:[>=" + std::to_string(M) + "," + std::to_string(D) +
                     "], got " + shape_str(targets.shape()));
  auto params = net_->named_parameters();
  Tensor<T>& w = params[params.size() - 2].second.value_mut();  // the last Linear: [M + 2MD, hidden]
  Tensor<T>& b = params.back().second.value_mut();
  const int64_t in = w.size(1);
  NoGrad ng;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t row = M + m * D + d;  // means are component-major after the M logits
      b[row] = targets[m * D + d];
      for (int64_t j = 0; j < in; ++j) w[row * in + j] *= shrink;
    }
}

template <typename T>
std::string MDN<T>::describe() const {
  std::string h;
  for (int64_t s : cfg_.hidden) h += std::to_string(s) + "-";
  return "MDN(M=" + std::to_string(cfg_.components) + ", " + std::to_string(cfg_.condition_dim) + "-" + h +
         std::to_string(mixture_output_size(cfg_.components, cfg_.target_dim)) + ", " + cfg_.activation + ")";
}

template <typename T>
void MDN<T>::check_condition(const char* where, const Var<T>& c) const {
  if (c.dim() != 2 || c.size(1) != cfg_.condition_dim)
    throw ShapeError(describe() + "::" + where + ": expected c:[N," + std::to_string(cfg_.condition_dim) + "], got " +
                     shape_str(c.shape()));
}

template <typename T>
MixtureOfDiagGaussians<T> MDN<T>::distribution(const Var<T>& c) {
  check_condition("distribution", c);
  return mixture_from_output(net_->forward(c), cfg_.components, cfg_.target_dim, static_cast<T>(cfg_.min_scale));
}

template <typename T>
Var<T> MDN<T>::log_prob(const Var<T>& c, const Var<T>& y) {
  check_condition("log_prob", c);
  if (y.dim() != 2 || y.size(0) != c.size(0) || y.size(1) != cfg_.target_dim)
    throw ShapeError(describe() + "::log_prob: expected y:[" + std::to_string(c.size(0)) + "," +
                     std::to_string(cfg_.target_dim) + "] (one row per row of c), got " + shape_str(y.shape()));
  return distribution(c).log_prob(y);
}

template <typename T>
Var<T> MDN<T>::loss(const Var<T>& c, const Var<T>& y) {
  return neg(lz::mean(log_prob(c, y)));
}

template <typename T>
std::vector<double> MDN<T>::log_prob_values(const Tensor<T>& c, const Tensor<T>& y, int64_t chunk) {
  NoGrad ng;
  check_condition("log_prob_values", Var<T>(c));
  if (chunk < 1) throw std::invalid_argument("MDN::log_prob_values: chunk must be >= 1, got " + std::to_string(chunk));
  const int64_t n = c.size(0), cd = c.size(1), d = y.dim() == 2 ? y.size(1) : 0;
  if (y.dim() != 2 || y.size(0) != n)
    throw ShapeError(describe() + "::log_prob_values: expected y:[" + std::to_string(n) + ",D], got " + shape_str(y.shape()));
  std::vector<double> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t m = std::min(chunk, n - s);
    Tensor<T> cs({m, cd}), ys({m, d});
    std::copy(c.data() + s * cd, c.data() + (s + m) * cd, cs.data());
    std::copy(y.data() + s * d, y.data() + (s + m) * d, ys.data());
    const Tensor<T> lp = log_prob(Var<T>(cs), Var<T>(ys)).value();
    for (int64_t i = 0; i < m; ++i) out.push_back(static_cast<double>(lp[i]));
  }
  return out;
}

template <typename T>
Tensor<T> MDN<T>::sample(const Tensor<T>& c, int64_t n, Rng& rng) {
  NoGrad ng;
  return distribution(Var<T>(c)).sample(n, rng);
}

template <typename T>
Tensor<T> MDN<T>::mean(const Tensor<T>& c) {
  NoGrad ng;
  return distribution(Var<T>(c)).mean();
}

template class MDN<float>;
template class MDN<double>;

}  // namespace lz
