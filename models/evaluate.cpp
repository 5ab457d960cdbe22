#include "models/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/iwae.hpp"
#include "tensor/math.hpp"

namespace lz {

MeanEstimate estimate_mean(const std::vector<double>& v) {
  MeanEstimate r;
  r.n = static_cast<int64_t>(v.size());
  if (r.n == 0) return r;
  for (double a : v) r.mean += a;
  r.mean /= static_cast<double>(r.n);
  if (r.n < 2) return r;
  double ss = 0;
  for (double a : v) ss += (a - r.mean) * (a - r.mean);
  r.se = std::sqrt(ss / static_cast<double>(r.n - 1) / static_cast<double>(r.n));
  return r;
}

namespace {
template <typename T>
Tensor<T> rows(const Tensor<T>& x, int64_t start, int64_t n) {
  return narrow(x, 0, start, n);
}
// Rows [start, start + n) of a condition, or no condition.
template <typename T>
Var<T> rows(const Var<T>& c, int64_t start, int64_t n) {
  return c.defined() ? Var<T>(narrow(c.value(), 0, start, n)) : Var<T>();
}
}  // namespace

template <typename T>
BoundEstimates estimate_bounds(LatentModel<T>& model, const Tensor<T>& x, int64_t k, const std::vector<int64_t>& ks,
                               Rng& rng, int64_t max_rows, const Var<T>& c) {
  if (k < 1) throw std::invalid_argument("estimate_bounds: k must be >= 1, got " + std::to_string(k));
  for (int64_t kk : ks)
    if (kk < 1 || kk > k)
      throw std::invalid_argument("estimate_bounds: every bound's k must be in [1, " + std::to_string(k) + "], got " +
                                  std::to_string(kk));
  NoGrad ng;
  const int64_t N = x.size(0), Z = model.z_dim();
  model.check_condition(c, N, "estimate_bounds");
  BoundEstimates r;
  r.ks = ks;
  r.bound.assign(ks.size(), std::vector<double>(N));
  r.log_px.resize(N);
  r.reconstruction.resize(N);
  r.kl.resize(N);
  r.elbo.resize(N);
  // B examples at a time, their k samples in chunks of kc, so that kc·B decoded rows fit in max_rows.
  const int64_t B = std::max<int64_t>(1, std::min<int64_t>(N, max_rows / k));
  const int64_t kc = std::max<int64_t>(1, std::min<int64_t>(k, max_rows / B));
  std::vector<double> logw(static_cast<size_t>(B * k));
  for (int64_t n0 = 0; n0 < N; n0 += B) {
    const int64_t b = std::min(B, N - n0);
    const Var<T> xb(rows(x, n0, b)), cb = rows(c, n0, b);
    const DiagGaussian<T> q = model.encode(xb, cb);
    // The KL in closed form, or (a mixture prior) the mean over the k draws of log q − log p = ll − log w.
    const bool analytic = model.analytic_kl();
    const Tensor<T> kl = analytic ? model.kl_to_prior(q, cb).value() : Tensor<T>();
    std::vector<double> rec(b, 0.0), kl_mc(b, 0.0);
    for (int64_t i0 = 0; i0 < k; i0 += kc) {
      const int64_t m = std::min(kc, k - i0);
      const Var<T> z = q.rsample(standard_normal<T>({m, b, Z}, rng));  // [m, b, Z]
      const Var<T> llv = model.log_likelihood(xb, z, cb);                 // [m, b]
      const Tensor<T> ll = llv.value();
      const Tensor<T> lw = log_importance_weights(model, q, xb, z, cb, llv).value();
      for (int64_t i = 0; i < m; ++i)
        for (int64_t n = 0; n < b; ++n) {
          logw[n * k + i0 + i] = lw[i * b + n];
          rec[n] += ll[i * b + n];
          kl_mc[n] += static_cast<double>(ll[i * b + n]) - static_cast<double>(lw[i * b + n]);
        }
    }
    for (int64_t n = 0; n < b; ++n) {
      const double* w = logw.data() + n * k;
      r.log_px[n0 + n] = math::log_mean_exp(w, k);
      for (size_t j = 0; j < ks.size(); ++j) {
        const int64_t g = k / ks[j];
        double s = 0;
        for (int64_t gi = 0; gi < g; ++gi) s += math::log_mean_exp(w + gi * ks[j], ks[j]);
        r.bound[j][n0 + n] = s / static_cast<double>(g);
      }
      r.reconstruction[n0 + n] = rec[n] / static_cast<double>(k);
      r.kl[n0 + n] = analytic ? static_cast<double>(kl[n]) : kl_mc[n] / static_cast<double>(k);
      r.elbo[n0 + n] = r.reconstruction[n0 + n] - r.kl[n0 + n];
    }
  }
  return r;
}

template <typename T>
std::vector<double> naive_log_px(LatentModel<T>& model, const Tensor<T>& x, int64_t K, Rng& rng, int64_t chunk,
                                 const Var<T>& c) {
  if (K < 1) throw std::invalid_argument("naive_log_px: K must be >= 1, got " + std::to_string(K));
  if (chunk < 1) throw std::invalid_argument("naive_log_px: chunk must be >= 1, got " + std::to_string(chunk));
  NoGrad ng;
  const int64_t N = x.size(0);
  model.check_condition(c, N, "naive_log_px");
  std::vector<math::StreamingLogSumExp> acc(N);  // one per example
  if (!c.defined()) {
    for (int64_t k0 = 0; k0 < K; k0 += chunk) {
      const int64_t m = std::min(chunk, K - k0);
      const Tensor<T> ll = model.log_likelihood_all_pairs(x, model.sample_prior(m, rng));  // [m, N]
      for (int64_t i = 0; i < m; ++i)
        for (int64_t n = 0; n < N; ++n) acc[n].add(static_cast<double>(ll[i * N + n]));
    }
  } else {
    // Each row its own draws from p(z|c_n): b rows × m samples decoded at a time, b·m ≤ chunk.
    const int64_t m = std::min(K, chunk), b = std::max<int64_t>(1, std::min(N, chunk / m));
    for (int64_t n0 = 0; n0 < N; n0 += b) {
      const int64_t nb = std::min(b, N - n0);
      const Var<T> xb(rows(x, n0, nb)), cb = rows(c, n0, nb);
      for (int64_t k0 = 0; k0 < K; k0 += m) {
        const int64_t mm = std::min(m, K - k0);
        const Tensor<T> ll = model.log_likelihood(xb, Var<T>(model.sample_prior(mm, rng, cb)), cb).value();  // [mm, nb]
        for (int64_t i = 0; i < mm; ++i)
          for (int64_t n = 0; n < nb; ++n) acc[n0 + n].add(static_cast<double>(ll[i * nb + n]));
      }
    }
  }
  std::vector<double> r(N);
  // log (1/K) Σ_k p(x_n|z_k) = logsumexp_k log p(x_n|z_k) − log K
  for (int64_t n = 0; n < N; ++n) r[n] = acc[n].value() - std::log(static_cast<double>(K));
  return r;
}

template <typename T>
Tensor<T> posterior_means(LatentModel<T>& model, const Tensor<T>& x, int64_t batch, const Var<T>& c) {
  NoGrad ng;
  model.check_condition(c, x.size(0), "posterior_means");
  std::vector<Tensor<T>> parts;
  for (int64_t n0 = 0; n0 < x.size(0); n0 += batch) {
    const int64_t b = std::min(batch, x.size(0) - n0);
    parts.push_back(model.encode(Var<T>(rows(x, n0, b)), rows(c, n0, b)).mean.value());
  }
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

template <typename T>
ActiveUnits active_units(LatentModel<T>& model, const Tensor<T>& x, double threshold, int64_t batch, const Var<T>& c) {
  const Tensor<T> mu = posterior_means(model, x, batch, c);
  const int64_t N = mu.size(0), Z = mu.size(1);
  ActiveUnits r;
  r.variance.assign(Z, 0.0);
  for (int64_t u = 0; u < Z; ++u) {
    double m = 0, v = 0;
    for (int64_t n = 0; n < N; ++n) m += mu[n * Z + u];
    m /= static_cast<double>(N);
    for (int64_t n = 0; n < N; ++n) v += (mu[n * Z + u] - m) * (mu[n * Z + u] - m);
    r.variance[u] = v / static_cast<double>(std::max<int64_t>(1, N - 1));
    if (r.variance[u] > threshold) ++r.count;
  }
  return r;
}

#define LZ_INSTANTIATE(T)                                                                                       \
  template BoundEstimates estimate_bounds(LatentModel<T>&, const Tensor<T>&, int64_t, const std::vector<int64_t>&, \
                                          Rng&, int64_t, const Var<T>&);                                        \
  template std::vector<double> naive_log_px(LatentModel<T>&, const Tensor<T>&, int64_t, Rng&, int64_t,           \
                                            const Var<T>&);                                                     \
  template Tensor<T> posterior_means(LatentModel<T>&, const Tensor<T>&, int64_t, const Var<T>&);                 \
  template ActiveUnits active_units(LatentModel<T>&, const Tensor<T>&, double, int64_t, const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
