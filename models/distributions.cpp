#include "models/distributions.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace lz {

template <typename T>
Tensor<T> standard_normal(const Shape& shape, Rng& rng) {
  Tensor<T> eps = Tensor<T>::empty(shape);
  for (int64_t i = 0; i < eps.numel(); ++i) eps[i] = static_cast<T>(rng.normal());
  return eps;
}

template <typename T>
Var<T> DiagGaussian<T>::log_prob(const Var<T>& z) const {
  return sum(gaussian_log_density(z, mean, logvar), -1);
}

template <typename T>
Var<T> DiagGaussian<T>::rsample(const Tensor<T>& eps) const {
  return mean + exp(logvar * T(0.5)) * Var<T>(eps);
}

template <typename T>
Var<T> DiagGaussian<T>::kl_std_normal() const {
  return sum(lz::kl_std_normal(mean, logvar), -1);
}

template <typename T>
Tensor<T> DiagGaussian<T>::stddev() const {
  return lz::map(logvar.value(), [](auto v) {
    using std::exp;
    using xsimd::exp;
    return exp(v * decltype(v)(0.5));
  });
}

template <typename T>
Var<T> std_normal_log_prob(const Var<T>& z) {
  const T log_2pi = static_cast<T>(std::log(2.0 * std::numbers::pi));
  const T dim = static_cast<T>(z.size(-1));
  return sum(square(z), -1) * T(-0.5) - T(0.5) * dim * log_2pi;
}

// One fused node instead of bce_with_logits + sum: for k·B·D logits this skips three [k, B, D]
// temporaries (the elementwise loss, the broadcast gradient of the sum, the product with it), which
// dominate an IWAE step's memory traffic. d/dl_j = x_j − σ(l_j). When x needs a gradient too (it
// never does for data) the composed ops are used.
template <typename T>
Var<T> bernoulli_log_prob(const Var<T>& logits, const Var<T>& x) {
  const Tensor<T> lv = logits.value(), xv = x.value();
  const Shape& ls = lv.shape();
  const bool repeats = xv.dim() <= lv.dim() && xv.numel() > 0 && lv.numel() % xv.numel() == 0 &&
                       std::equal(xv.shape().begin(), xv.shape().end(), ls.end() - xv.dim());
  if (x.requires_grad() || !repeats || ls.empty()) return -sum(bce_with_logits(logits, x), -1);
  const int64_t D = ls.back(), rows = lv.numel() / D, xrows = xv.numel() / D;
  Tensor<T> out = Tensor<T>::empty(Shape(ls.begin(), ls.end() - 1));
  auto nll = [](auto l, auto t) {  // −log Bernoulli(t | σ(l)) = max(l, 0) − l t + log(1 + e^{−|l|})
    using B = decltype(l);
    using std::abs, std::exp, std::log1p, std::max;
    using xsimd::abs, xsimd::exp, xsimd::log1p, xsimd::max;
    return max(l, B(0)) - l * t + log1p(exp(-abs(l)));
  };
  std::vector<T> tmp(static_cast<size_t>(D));
  for (int64_t r = 0; r < rows; ++r) {
    vec::zip(D, lv.data() + r * D, xv.data() + (r % xrows) * D, tmp.data(), nll);
    out[r] = -vec::sum(D, tmp.data());
  }
  return Var<T>::record(std::move(out), {logits}, "bernoulli_log_prob",
                        [lv, xv, D, rows, xrows](const Tensor<T>& g, GradSink<T>& s) {
                          Tensor<T> gl = Tensor<T>::empty(lv.shape());
                          for (int64_t r = 0; r < rows; ++r) {
                            const T gr = g[r];
                            vec::zip(D, lv.data() + r * D, xv.data() + (r % xrows) * D, gl.data() + r * D,
                                     [gr](auto l, auto t) {
                                       using B = decltype(l);
                                       using std::exp;
                                       using xsimd::exp;
                                       return B(gr) * (t - B(1) / (B(1) + exp(-l)));
                                     });
                          }
                          s.add(0, std::move(gl));
                        });
}

template <typename T>
Var<T> gaussian_log_prob(const Var<T>& x, const Var<T>& mean, const Var<T>& logvar) {
  return sum(gaussian_log_density(x, mean, logvar), -1);
}

double log_mean_exp_values(const double* a, int64_t n) {
  if (n <= 0) throw std::invalid_argument("log_mean_exp_values: need at least one value, got n = " + std::to_string(n));
  const double m = *std::max_element(a, a + n);
  if (!std::isfinite(m)) return m;  // all -inf stays -inf; +inf or NaN propagates
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(a[i] - m);
  return m + std::log(s / static_cast<double>(n));
}

#define LZ_INSTANTIATE(T)                                                       \
  template Tensor<T> standard_normal<T>(const Shape&, Rng&);                    \
  template struct DiagGaussian<T>;                                              \
  template Var<T> std_normal_log_prob(const Var<T>&);                           \
  template Var<T> bernoulli_log_prob(const Var<T>&, const Var<T>&);             \
  template Var<T> gaussian_log_prob(const Var<T>&, const Var<T>&, const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
