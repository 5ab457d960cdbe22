#include "models/distributions.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "tensor/math.hpp"

namespace lz {

namespace {
Shape prepend(int64_t n, const Shape& s) {
  Shape r{n};
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

void check_draws(int64_t n, const char* who) {
  if (n < 0) throw std::invalid_argument(std::string(who) + ": expected n >= 0 draws, got " + std::to_string(n));
}
}  // namespace

template <typename T>
Tensor<T> standard_normal(const Shape& shape, Rng& rng) {
  Tensor<T> eps = Tensor<T>::empty(shape);
  for (int64_t i = 0; i < eps.numel(); ++i) eps[i] = static_cast<T>(rng.normal());
  return eps;
}

template <typename T>
Var<T> std_normal_log_prob(const Var<T>& z) {
  const T log_2pi = static_cast<T>(math::kLog2Pi);
  const T dim = static_cast<T>(z.size(-1));
  return sum(square(z), -1) * T(-0.5) - T(0.5) * dim * log_2pi;
}

template <typename T>
Var<T> laplace_log_prob(const Var<T>& x, const Var<T>& loc, const Var<T>& log_scale) {
  return -sum(abs(x - loc) * exp(-log_scale) + log_scale + static_cast<T>(std::log(2.0)), -1);
}

template <typename T>
Var<T> gaussian_log_prob(const Var<T>& x, const Var<T>& mean, const Var<T>& logvar) {
  return sum(gaussian_log_density(x, mean, logvar), -1);
}

// ---- StandardNormal ------------------------------------------------------------------------

template <typename T>
Var<T> StandardNormal<T>::log_prob(const Var<T>& x) const {
  if (x.dim() == 0 || x.size(-1) != dim)
    throw ShapeError("StandardNormal::log_prob: expected x:[...," + std::to_string(dim) + "], got " + shape_str(x.shape()));
  return std_normal_log_prob(x);
}

template <typename T>
Tensor<T> StandardNormal<T>::sample(int64_t n, Rng& rng) const {
  check_draws(n, "StandardNormal::sample");
  return standard_normal<T>({n, dim}, rng);
}

template <typename T>
Var<T> StandardNormal<T>::rsample(const Tensor<T>& eps) const {
  if (eps.dim() == 0 || eps.size(-1) != dim)
    throw ShapeError("StandardNormal::rsample: expected eps:[...," + std::to_string(dim) + "], got " + shape_str(eps.shape()));
  return Var<T>(eps);
}

template <typename T>
Var<T> StandardNormal<T>::rsample(int64_t n, Rng& rng) const {
  return Var<T>(sample(n, rng));
}

// ---- DiagGaussian --------------------------------------------------------------------------

template <typename T>
Var<T> DiagGaussian<T>::log_prob(const Var<T>& z) const {
  return sum(gaussian_log_density(z, mean, logvar), -1);
}

template <typename T>
Var<T> DiagGaussian<T>::rsample(const Tensor<T>& eps) const {
  return mean + exp(logvar * T(0.5)) * Var<T>(eps);
}

template <typename T>
Var<T> DiagGaussian<T>::rsample(int64_t n, Rng& rng) const {
  check_draws(n, "DiagGaussian::rsample");
  return rsample(standard_normal<T>(prepend(n, mean.shape()), rng));
}

template <typename T>
Tensor<T> DiagGaussian<T>::sample(int64_t n, Rng& rng) const {
  check_draws(n, "DiagGaussian::sample");
  const Tensor<T> eps = standard_normal<T>(prepend(n, mean.shape()), rng);
  return lz::add(mean.value(), lz::mul(stddev(), eps));
}

template <typename T>
Var<T> DiagGaussian<T>::kl_std_normal() const {
  return sum(lz::kl_std_normal(mean, logvar), -1);
}

template <typename T>
Var<T> DiagGaussian<T>::kl_to(const DiagGaussian& p) const {
  return sum(kl_diag_gaussians(mean, logvar, p.mean, p.logvar), -1);
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
DiagGaussian<T> diag_gaussian_from_output(const Var<T>& out) {
  if (out.dim() == 0 || out.size(-1) % 2 != 0)
    throw ShapeError("diag_gaussian_from_output: expected out:[..., 2Z] (mean then logvar), got " + shape_str(out.shape()));
  const int64_t Z = out.size(-1) / 2;
  return {narrow(out, -1, 0, Z), narrow(out, -1, Z, Z)};
}

// ---- Bernoulli -----------------------------------------------------------------------------

template <typename T>
Tensor<T> Bernoulli<T>::probs() const {
  return lz::map(logits.value(), [](auto l) { return math::sigmoid(l); });
}

template <typename T>
Tensor<T> Bernoulli<T>::sample(int64_t n, Rng& rng) const {
  check_draws(n, "Bernoulli::sample");
  const Tensor<T> p = probs();
  Tensor<T> out = Tensor<T>::empty(prepend(n, p.shape()));
  const int64_t m = p.numel();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) out[i * m + j] = rng.uniform() < static_cast<double>(p[j]) ? T(1) : T(0);
  return out;
}

// ---- MixtureOfDiagGaussians ----------------------------------------------------------------

template <typename T>
MixtureOfDiagGaussians<T>::MixtureOfDiagGaussians(Var<T> l, Var<T> mu, Var<T> ls, T floor_scale)
    : logits(std::move(l)), means(std::move(mu)), log_scales(std::move(ls)), min_scale(floor_scale) {
  const bool ok = logits.dim() == 2 && means.dim() == 3 && means.size(0) == logits.size(0) &&
                  means.size(1) == logits.size(1) && log_scales.shape() == means.shape() && logits.size(1) > 0;
  if (!ok)
    throw ShapeError("MixtureOfDiagGaussians: expected logits:[N,M] means:[N,M,D] log_scales:[N,M,D] with M >= 1, got " +
                     shape_str(logits.shape()) + " " + shape_str(means.shape()) + " " + shape_str(log_scales.shape()));
  if (!(min_scale >= T(0)) || !std::isfinite(static_cast<double>(min_scale)))
    throw std::invalid_argument("MixtureOfDiagGaussians: expected a finite min_scale >= 0, got " +
                                std::to_string(static_cast<double>(min_scale)));
}

template <typename T>
Var<T> MixtureOfDiagGaussians<T>::scale() const {
  return exp(log_scales) + min_scale;
}

template <typename T>
Var<T> MixtureOfDiagGaussians<T>::component_log_prob(const Var<T>& x) const {
  const int64_t N = rows(), D = dim();
  if (x.dim() < 2 || x.size(-1) != D || (N != 1 && x.size(-2) != N))
    throw ShapeError("MixtureOfDiagGaussians::log_prob: expected x:[..., " + (N == 1 ? "n" : std::to_string(N)) +
                     ", " + std::to_string(D) + "], got " + shape_str(x.shape()));
  // x:[..., N, D] -> [..., N, 1, D] against the components' [N, M, D].
  Shape s = x.shape();
  s.insert(s.end() - 1, 1);
  // Without a floor log σ² = 2 log_scale exactly (no exp/log round trip to underflow in float).
  const Var<T> logvar = min_scale == T(0) ? log_scales * T(2) : log(scale()) * T(2);
  const Var<T> per_component = sum(gaussian_log_density(reshape(x, s), means, logvar), -1);  // [..., N, M]
  return log_softmax(logits, 1) + per_component;
}

template <typename T>
Var<T> MixtureOfDiagGaussians<T>::log_prob(const Var<T>& x) const {
  return logsumexp(component_log_prob(x), -1);
}

template <typename T>
Tensor<T> MixtureOfDiagGaussians<T>::sample(int64_t n, Rng& rng) const {
  check_draws(n, "MixtureOfDiagGaussians::sample");
  const NoGrad no_graph;
  const int64_t N = rows(), M = components(), D = dim();
  const Tensor<T> w = softmax(logits, 1).value(), mu = means.value(), sd = scale().value();
  Tensor<T> out = Tensor<T>::empty({n, N, D});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < N; ++r) {
      const int64_t m = categorical_inverse_cdf(w.data() + r * M, M, rng.uniform());
      const int64_t base = (r * M + m) * D;
      for (int64_t d = 0; d < D; ++d)
        out[(i * N + r) * D + d] = mu[base + d] + sd[base + d] * static_cast<T>(rng.normal());
    }
  return out;
}

template <typename T>
Tensor<T> MixtureOfDiagGaussians<T>::mean() const {
  const NoGrad no_graph;
  const int64_t N = rows(), M = components(), D = dim();
  const Tensor<T> w = softmax(logits, 1).value(), mu = means.value();
  Tensor<T> out = Tensor<T>::zeros({N, D});
  for (int64_t r = 0; r < N; ++r)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t d = 0; d < D; ++d) out[r * D + d] += w[r * M + m] * mu[(r * M + m) * D + d];
  return out;
}

template <typename T>
Tensor<T> MixtureOfDiagGaussians<T>::top_component_mean() const {
  const NoGrad no_graph;
  const int64_t N = rows(), M = components(), D = dim();
  const Tensor<T> l = logits.value(), mu = means.value();
  Tensor<T> out = Tensor<T>::empty({N, D});
  for (int64_t r = 0; r < N; ++r) {
    int64_t best = 0;
    for (int64_t m = 1; m < M; ++m)
      if (l[r * M + m] > l[r * M + best]) best = m;
    for (int64_t d = 0; d < D; ++d) out[r * D + d] = mu[(r * M + best) * D + d];
  }
  return out;
}

template <typename T>
Tensor<T> MixtureOfDiagGaussians<T>::variance() const {
  const NoGrad no_graph;
  const int64_t N = rows(), M = components(), D = dim();
  const Tensor<T> w = softmax(logits, 1).value(), mu = means.value(), sd = scale().value();
  Tensor<T> out = mean();
  // Var x = E[x²] − (E x)², with E[x²] = Σ_m π_m (σ_m² + μ_m²) (the law of total variance).
  for (int64_t r = 0; r < N; ++r)
    for (int64_t d = 0; d < D; ++d) {
      T second = 0;
      for (int64_t m = 0; m < M; ++m) {
        const int64_t i = (r * M + m) * D + d;
        second += w[r * M + m] * (sd[i] * sd[i] + mu[i] * mu[i]);
      }
      const T m1 = out[r * D + d];
      out[r * D + d] = second - m1 * m1;
    }
  return out;
}

template <typename T>
MixtureOfDiagGaussians<T> mixture_from_output(const Var<T>& out, int64_t M, int64_t D, T min_scale) {
  if (M < 1 || D < 1 || out.dim() != 2 || out.size(1) != mixture_output_size(M, D))
    throw ShapeError("mixture_from_output: expected out:[N, M + 2MD] = [N, " +
                     std::to_string(M < 1 || D < 1 ? 0 : mixture_output_size(M, D)) + "] for M = " +
                     std::to_string(M) + ", D = " + std::to_string(D) + ", got " + shape_str(out.shape()));
  const int64_t N = out.size(0);
  const std::vector<Var<T>> p = split(out, {M, M * D, M * D}, 1);
  return {p[0], reshape(p[1], {N, M, D}), reshape(p[2], {N, M, D}), min_scale};
}

#define LZ_INSTANTIATE(T)                                                                        \
  template Tensor<T> standard_normal<T>(const Shape&, Rng&);                                     \
  template Var<T> std_normal_log_prob(const Var<T>&);                                            \
  template Var<T> gaussian_log_prob(const Var<T>&, const Var<T>&, const Var<T>&);                \
  template struct StandardNormal<T>;                                                             \
  template struct DiagGaussian<T>;                                                               \
  template DiagGaussian<T> diag_gaussian_from_output(const Var<T>&);                             \
  template Var<T> laplace_log_prob(const Var<T>&, const Var<T>&, const Var<T>&);                             \
  template struct Bernoulli<T>;                                                                  \
  template struct MixtureOfDiagGaussians<T>;                                                     \
  template MixtureOfDiagGaussians<T> mixture_from_output(const Var<T>&, int64_t, int64_t, T);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
