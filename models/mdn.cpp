#include "models/mdn.hpp"

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/gmm.hpp"
#include "tensor/math.hpp"

namespace lz {

void MdnConfig::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("MdnConfig: " + what); };
  if (condition_dim < 1) bad("condition_dim must be >= 1, got " + std::to_string(condition_dim));
  if (target_dim < 1) bad("target_dim must be >= 1, got " + std::to_string(target_dim));
  if (components < 1) bad("components (M) must be >= 1, got " + std::to_string(components));
  for (int64_t h : hidden)
    if (h < 1) bad("every hidden size must be >= 1, got " + std::to_string(h));
  if (!(std::isfinite(logit_scale) && logit_scale > 0))
    bad("logit_scale must be finite and > 0, got " + std::to_string(logit_scale));
  if (!(std::isfinite(min_scale) && min_scale >= 0))
    bad("min_scale must be finite and >= 0, got " + std::to_string(min_scale));
  if (rank < 0 || rank > 2) bad("rank must be 0, 1 or 2, got " + std::to_string(rank));
  parse_activation(activation);  // throws listing the accepted names
}

template <typename T>
MDN<T>::MDN(const MdnConfig& cfg, Rng& rng) : cfg_(cfg) {
  cfg_.validate();
  std::vector<int64_t> sizes{cfg_.condition_dim};
  sizes.insert(sizes.end(), cfg_.hidden.begin(), cfg_.hidden.end());
  sizes.push_back(mixture_output_size(cfg_.components, cfg_.target_dim) + cfg_.components * cfg_.rank * cfg_.target_dim);
  net_ = this->register_module("net", std::make_shared<MLP<T>>(sizes, parse_activation(cfg_.activation), rng));
  if (cfg_.rank > 0) {
    // The factors start near 0 (the last layer's factor rows scaled by 1e-2): a covariance that
    // starts diagonal, and grows a factor only where the data correlate.
    auto params = net_->named_parameters();
    Tensor<T>& w = params[params.size() - 2].second.value_mut();
    Tensor<T>& b = params.back().second.value_mut();
    const int64_t first = mixture_output_size(cfg_.components, cfg_.target_dim), in = w.size(1);
    for (int64_t row = first; row < w.size(0); ++row) {
      b[row] *= T(0.01);
      for (int64_t j = 0; j < in; ++j) w[row * in + j] *= T(0.01);
    }
  }
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

namespace {

// Least squares y ≈ [c, 1] B in double (normal equations with a ridge of 1e-8 · trace / P, by
// Cholesky through LAPACKE), returning the residuals y − [c, 1] B -> [N, D].
template <typename T>
TensorD linear_residuals(const Tensor<T>& c, const Tensor<T>& y) {
  const int64_t N = c.size(0), C = c.size(1), D = y.size(1), P = C + 1;
  auto x = [&](int64_t n, int64_t j) { return j < C ? static_cast<double>(c[n * C + j]) : 1.0; };
  std::vector<double> G(static_cast<size_t>(P * P)), R(static_cast<size_t>(P * D));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < P; ++i) {
      const double xi = x(n, i);
      for (int64_t j = 0; j < P; ++j) G[i * P + j] += xi * x(n, j);
      for (int64_t d = 0; d < D; ++d) R[i * D + d] += xi * static_cast<double>(y[n * D + d]);
    }
  double trace = 0;
  for (int64_t i = 0; i < P; ++i) trace += G[i * P + i];
  for (int64_t i = 0; i < P; ++i) G[i * P + i] += 1e-8 * trace / static_cast<double>(P) + 1e-12;
  // G B = R by Cholesky (LAPACKE_dposv: G = L Lᵀ, then the two triangular solves); R becomes B.
  const lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', static_cast<lapack_int>(P), static_cast<lapack_int>(D),
                                        G.data(), static_cast<lapack_int>(P), R.data(), static_cast<lapack_int>(D));
  if (info != 0)
    throw std::runtime_error("MDN::mode_labels: the linear fit's normal equations are singular (LAPACKE_dposv info=" +
                             std::to_string(info) + ")");
  const std::vector<double>& B = R;
  TensorD res({N, D});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      double f = 0;
      for (int64_t i = 0; i < P; ++i) f += x(n, i) * B[i * D + d];
      res[n * D + d] = static_cast<double>(y[n * D + d]) - f;
    }
  return res;
}

}  // namespace

template <typename T>
Var<T> MDN<T>::labelled_loss(const Var<T>& c, const Var<T>& y, const std::vector<int64_t>& k) {
  const int64_t N = c.size(0), M = cfg_.components;
  if (static_cast<int64_t>(k.size()) != N)
    throw ShapeError(describe() + "::labelled_loss: expected one label per row of c (" + std::to_string(N) + "), got " +
                     std::to_string(k.size()));
  Tensor<T> onehot({N, M});
  for (int64_t n = 0; n < N; ++n) {
    if (k[n] < 0 || k[n] >= M)
      throw std::invalid_argument(describe() + "::labelled_loss: label " + std::to_string(k[n]) + " of row " +
                                  std::to_string(n) + " is not a component in [0, " + std::to_string(M) + ")");
    onehot[n * M + k[n]] = T(1);
  }
  check_target("labelled_loss", c, y);
  const Var<T> per_component = component_log_prob(c, y);  // [N, M]
  return neg(lz::mean(sum(mul(per_component, Var<T>(onehot)), 1)));
}

template <typename T>
std::vector<int64_t> MDN<T>::mode_labels(const Tensor<T>& c, const Tensor<T>& y, Rng& rng, const LabelOptions& opt) {
  const int64_t M = cfg_.components, D = cfg_.target_dim;
  if (c.dim() != 2 || c.size(1) != cfg_.condition_dim || y.dim() != 2 || y.size(0) != c.size(0) || y.size(1) != D ||
      c.size(0) < M)
    throw ShapeError(describe() + "::mode_labels: expected c:[N," + std::to_string(cfg_.condition_dim) + "] and y:[N," +
                     std::to_string(D) + "] with N >= M = " + std::to_string(M) + ", got " + shape_str(c.shape()) + " and " +
                     shape_str(y.shape()));
  if (opt.gmm_iterations < 1)
    throw std::invalid_argument(describe() + "::mode_labels: expected gmm_iterations >= 1, got " +
                                std::to_string(opt.gmm_iterations));
  const int64_t N = c.size(0);
  if (M == 1) return std::vector<int64_t>(static_cast<size_t>(N), 0);
  TensorD residuals;
  if (opt.residuals) {
    residuals = linear_residuals(c, y);
  } else {
    residuals = TensorD({N, D});
    for (int64_t i = 0; i < N * D; ++i) residuals[i] = static_cast<double>(y[i]);
  }
  GmmOptions go;
  go.n_components = M;
  go.covariance_type = CovarianceType::diag;
  go.max_iter = opt.gmm_iterations;
  GaussianMixture gmm(go);
  gmm.fit(residuals, rng);
  return gmm.predict(residuals);
}

template <typename T>
Tensor<T> MDN<T>::mode_mean(const Tensor<T>& c) {
  NoGrad ng;
  check_condition("mode_mean", Var<T>(c));
  const MixtureOfDiagGaussians<T> d = head(Var<T>(c)).diag;
  const int64_t N = d.rows(), M = d.components(), D = d.dim();
  const Tensor<T>& logits = d.logits.value();
  const Tensor<T>& mu = d.means.value();
  Tensor<T> out({N, D});
  for (int64_t n = 0; n < N; ++n) {
    const int64_t m = std::max_element(logits.data() + n * M, logits.data() + (n + 1) * M) - (logits.data() + n * M);
    std::copy(mu.data() + (n * M + m) * D, mu.data() + (n * M + m + 1) * D, out.data() + n * D);
  }
  return out;
}

template <typename T>
std::string MDN<T>::describe() const {
  std::string h;
  for (int64_t s : cfg_.hidden) h += std::to_string(s) + "-";
  const int64_t out = mixture_output_size(cfg_.components, cfg_.target_dim) + cfg_.components * cfg_.rank * cfg_.target_dim;
  return "MDN(M=" + std::to_string(cfg_.components) + (cfg_.rank > 0 ? ", rank " + std::to_string(cfg_.rank) : "") + ", " +
         std::to_string(cfg_.condition_dim) + "-" + h + std::to_string(out) + ", " + cfg_.activation + ")";
}

template <typename T>
void MDN<T>::check_condition(const char* where, const Var<T>& c) const {
  if (c.dim() != 2 || c.size(1) != cfg_.condition_dim)
    throw ShapeError(describe() + "::" + where + ": expected c:[N," + std::to_string(cfg_.condition_dim) + "], got " +
                     shape_str(c.shape()));
}

template <typename T>
void MDN<T>::check_target(const char* where, const Var<T>& c, const Var<T>& y) const {
  check_condition(where, c);
  if (y.dim() != 2 || y.size(0) != c.size(0) || y.size(1) != cfg_.target_dim)
    throw ShapeError(describe() + "::" + where + ": expected y:[" + std::to_string(c.size(0)) + "," +
                     std::to_string(cfg_.target_dim) + "] (one row per row of c), got " + shape_str(y.shape()));
}

template <typename T>
typename MDN<T>::Head MDN<T>::head(const Var<T>& c) {
  const int64_t M = cfg_.components, D = cfg_.target_dim, R = cfg_.rank;
  const Var<T> out = net_->forward(c);
  Var<T> mix = out, factors;
  if (R > 0) {
    const std::vector<Var<T>> p = split(out, {mixture_output_size(M, D), M * R * D}, 1);
    mix = p[0];
    factors = reshape(p[1], {c.size(0), M, R, D});
  }
  MixtureOfDiagGaussians<T> d = mixture_from_output(mix, M, D, static_cast<T>(cfg_.min_scale));
  if (cfg_.logit_scale != 1.0) d.logits = mul(d.logits, static_cast<T>(cfg_.logit_scale));
  return {d, factors};
}

template <typename T>
MixtureOfDiagGaussians<T> MDN<T>::distribution(const Var<T>& c) {
  check_condition("distribution", c);
  if (cfg_.rank > 0)
    throw std::invalid_argument(describe() + "::distribution: a rank-" + std::to_string(cfg_.rank) +
                                " mixture is not diagonal; use component_log_prob, log_prob, sample or mean");
  return head(c).diag;
}

template <typename T>
Var<T> MDN<T>::component_log_prob(const Var<T>& c, const Var<T>& y) {
  check_target("component_log_prob", c, y);
  const Head h = head(c);
  if (cfg_.rank == 0) return h.diag.component_log_prob(y);
  // Σ = diag(σ) (I + W Wᵀ) diag(σ), W the network's factors (V = σ ⊙ W). Woodbury with
  // e = (y − μ)/σ: the capacitance K = I + WᵀW, b = Wᵀe; (y − μ)ᵀ Σ⁻¹ (y − μ) = eᵀe − bᵀ K⁻¹ b and
  // log|Σ| = 2 Σ_d log σ_d + log|K|.
  const int64_t N = c.size(0), M = cfg_.components, D = cfg_.target_dim;
  const Var<T> sd = h.diag.scale();                                           // [N, M, D]
  const Var<T> e = div(sub(reshape(y, {N, 1, D}), h.diag.means), sd);        // [N, M, D]
  auto factor = [&](int64_t r) { return reshape(narrow(h.factors, 2, r, 1), {N, M, D}); };
  auto dot = [](const Var<T>& a, const Var<T>& b) { return sum(mul(a, b), -1); };  // [N, M]
  Var<T> quad = dot(e, e), logdet = mul(sum(log(sd), -1), T(2));
  const Var<T> w1 = factor(0), k11 = add(dot(w1, w1), T(1)), b1 = dot(w1, e);
  if (cfg_.rank == 1) {
    quad = sub(quad, div(square(b1), k11));
    logdet = add(logdet, log(k11));
  } else {
    const Var<T> w2 = factor(1), k22 = add(dot(w2, w2), T(1)), k12 = dot(w1, w2), b2 = dot(w2, e);
    const Var<T> det = sub(mul(k11, k22), square(k12));
    const Var<T> bkb = add(sub(mul(k22, square(b1)), mul(mul(k12, T(2)), mul(b1, b2))), mul(k11, square(b2)));
    quad = sub(quad, div(bkb, det));
    logdet = add(logdet, log(det));
  }
  const Var<T> log_normal = mul(add(add(quad, logdet), static_cast<T>(D * math::kLog2Pi)), T(-0.5));
  return add(log_softmax(h.diag.logits, 1), log_normal);
}

template <typename T>
Var<T> MDN<T>::log_prob(const Var<T>& c, const Var<T>& y) {
  check_target("log_prob", c, y);
  return logsumexp(component_log_prob(c, y), -1);
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
  check_condition("sample", Var<T>(c));
  const Head h = head(Var<T>(c));
  if (cfg_.rank == 0) return h.diag.sample(n, rng);
  if (n < 1) throw std::invalid_argument(describe() + "::sample: expected n >= 1 draws, got " + std::to_string(n));
  // y = μ_m + σ_m ⊙ (ε + W_m η), m ~ π, ε ~ N(0, I_D), η ~ N(0, I_R).
  const int64_t N = h.diag.rows(), M = cfg_.components, D = cfg_.target_dim, R = cfg_.rank;
  const Tensor<T> w = softmax(h.diag.logits, 1).value(), mu = h.diag.means.value(), sd = h.diag.scale().value(),
                  v = h.factors.value();
  Tensor<T> out = Tensor<T>::empty({n, N, D});
  std::vector<T> eta(static_cast<size_t>(R));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < N; ++r) {
      const int64_t m = categorical_inverse_cdf(w.data() + r * M, M, rng.uniform());
      for (int64_t k = 0; k < R; ++k) eta[k] = static_cast<T>(rng.normal());
      const int64_t base = (r * M + m) * D;
      for (int64_t d = 0; d < D; ++d) {
        T z = static_cast<T>(rng.normal());
        for (int64_t k = 0; k < R; ++k) z += v[((r * M + m) * R + k) * D + d] * eta[k];
        out[(i * N + r) * D + d] = mu[base + d] + sd[base + d] * z;
      }
    }
  return out;
}

template <typename T>
Tensor<T> MDN<T>::mean(const Tensor<T>& c) {
  NoGrad ng;
  check_condition("mean", Var<T>(c));
  return head(Var<T>(c)).diag.mean();
}

template class MDN<float>;
template class MDN<double>;

}  // namespace lz
