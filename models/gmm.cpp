// GaussianMixture: input checks, initialisation (k-means++ then Lloyd, or random
// responsibilities), the EM loop with restarts, and what a fitted mixture answers.
#include "models/gmm.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "models/gmm_covariance.hpp"
#include "tensor/ops.hpp"

namespace lz {

CovarianceType parse_covariance_type(const std::string& s, const std::string& where) {
  if (s == "full") return CovarianceType::full;
  if (s == "diag") return CovarianceType::diag;
  if (s == "spherical") return CovarianceType::spherical;
  if (s == "tied") return CovarianceType::tied;
  throw std::invalid_argument(where + ": expected full, diag, spherical or tied, found '" + s + "'");
}

const char* to_string(CovarianceType t) {
  return gmm::with_policy(t, [](auto cov) { return decltype(cov)::name; });
}

TensorD precisions_to_covariances(CovarianceType type, const TensorD& P) {
  return gmm::with_policy(type, [&](auto cov) { return decltype(cov)::from_precisions(P); });
}

namespace {

// Rejects what no fit can handle; returns warnings for what reg_covar makes valid.
std::vector<std::string> check_data(const TensorD& X, int64_t K, const char* where) {
  if (X.dim() != 2) throw ShapeError(std::string(where) + ": X must be [N,D], found " + shape_str(X.shape()));
  const int64_t N = X.size(0), D = X.size(1);
  if (N == 0 || D == 0) throw std::invalid_argument(std::string(where) + ": X is empty " + shape_str(X.shape()));
  for (int64_t i = 0; i < N * D; ++i)
    if (!std::isfinite(X[i])) {
      std::ostringstream m;
      m << where << ": X has a non-finite value (" << X[i] << ") at row " << i / D << ", column " << i % D;
      throw std::invalid_argument(m.str());
    }
  if (K < 1) throw std::invalid_argument(std::string(where) + ": n_components must be >= 1, found " + std::to_string(K));
  if (K > N)
    throw std::invalid_argument(std::string(where) + ": n_components=" + std::to_string(K) +
                                " exceeds the number of points N=" + std::to_string(N));
  // Fewer distinct points than components: some component could only ever be a copy of another.
  {
    std::unordered_set<std::string> seen;
    for (int64_t n = 0; n < N && static_cast<int64_t>(seen.size()) < K; ++n)
      seen.emplace(reinterpret_cast<const char*>(X.data() + n * D), sizeof(double) * D);
    if (static_cast<int64_t>(seen.size()) < K)
      throw std::invalid_argument(std::string(where) + ": n_components=" + std::to_string(K) + " but X has only " +
                                  std::to_string(seen.size()) + " distinct point(s)");
  }
  std::vector<std::string> warnings;
  for (int64_t d = 0; d < D; ++d) {
    bool constant = true;
    for (int64_t n = 1; n < N && constant; ++n) constant = X[n * D + d] == X[d];
    if (constant) {
      std::ostringstream m;
      m << "column " << d << " is constant (every value is " << X[d]
        << "): its variance comes from reg_covar alone";
      warnings.push_back(m.str());
    }
  }
  return warnings;
}

// k-means++ seeding (each new centre drawn with probability ∝ squared distance to the nearest
// chosen one), then Lloyd iterations; returns the hard assignment as one-hot responsibilities.
TensorD kmeans_resp(const TensorD& X, int64_t K, int iters, Rng& rng) {
  const int64_t N = X.size(0), D = X.size(1);
  auto sqdist = [&](const double* a, const double* b) {
    double s = 0;
    for (int64_t d = 0; d < D; ++d) s += (a[d] - b[d]) * (a[d] - b[d]);
    return s;
  };
  TensorD C = TensorD::empty({K, D});
  std::vector<double> d2(N);
  int64_t first = static_cast<int64_t>(rng.below(N));
  std::copy(X.data() + first * D, X.data() + (first + 1) * D, C.data());
  for (int64_t n = 0; n < N; ++n) d2[n] = sqdist(X.data() + n * D, C.data());
  for (int64_t j = 1; j < K; ++j) {
    const double total = std::accumulate(d2.begin(), d2.end(), 0.0);
    double u = rng.uniform() * total;
    int64_t pick = 0;
    while (pick < N - 1 && (u -= d2[pick]) >= 0) ++pick;
    while (d2[pick] == 0 && pick > 0) --pick;  // rounding at the end of the scan must not pick a chosen point
    std::copy(X.data() + pick * D, X.data() + (pick + 1) * D, C.data() + j * D);
    for (int64_t n = 0; n < N; ++n) d2[n] = std::min(d2[n], sqdist(X.data() + n * D, C.data() + j * D));
  }
  std::vector<int64_t> label(N, -1);
  std::vector<double> best(N);
  for (int it = 0; it <= iters; ++it) {
    bool changed = false;
    for (int64_t n = 0; n < N; ++n) {
      int64_t arg = 0;
      double bd = std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < K; ++k) {
        const double s = sqdist(X.data() + n * D, C.data() + k * D);
        if (s < bd) bd = s, arg = k;
      }
      changed |= label[n] != arg;
      label[n] = arg;
      best[n] = bd;
    }
    if (!changed || it == iters) break;
    std::vector<double> count(K, 0.0);
    std::fill(C.data(), C.data() + K * D, 0.0);
    for (int64_t n = 0; n < N; ++n) {
      count[label[n]] += 1;
      for (int64_t d = 0; d < D; ++d) C[label[n] * D + d] += X[n * D + d];
    }
    for (int64_t k = 0; k < K; ++k) {
      if (count[k] == 0) {  // an empty cluster takes the point farthest from its centre
        const int64_t far = std::max_element(best.begin(), best.end()) - best.begin();
        std::copy(X.data() + far * D, X.data() + (far + 1) * D, C.data() + k * D);
        best[far] = 0;
        continue;
      }
      for (int64_t d = 0; d < D; ++d) C[k * D + d] /= count[k];
    }
  }
  TensorD R({K, N});
  for (int64_t n = 0; n < N; ++n) R[label[n] * N + n] = 1.0;
  return R;
}

TensorD random_resp(int64_t N, int64_t K, Rng& rng) {
  TensorD R = TensorD::empty({K, N});
  for (int64_t n = 0; n < N; ++n) {
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += (R[k * N + n] = rng.uniform());
    for (int64_t k = 0; k < K; ++k) R[k * N + n] /= s;
  }
  return R;
}

void check_params(const GmmParams& p) {
  const int64_t K = p.n_components(), D = p.n_features();
  if (!p.weights.defined() || p.weights.dim() != 1 || K < 1)
    throw ShapeError("GmmParams: weights must be [K] with K >= 1");
  if (p.means.dim() != 2 || p.means.size(0) != K)
    throw ShapeError("GmmParams: means must be [K,D] = [" + std::to_string(K) + ",D], found " +
                     shape_str(p.means.shape()));
  const Shape want = gmm::with_policy(p.type, [&](auto cov) { return decltype(cov)::shape(K, D); });
  if (p.covariances.shape() != want)
    throw ShapeError(std::string("GmmParams: ") + to_string(p.type) + " covariances must be " + shape_str(want) +
                     ", found " + shape_str(p.covariances.shape()));
  double s = 0;
  for (int64_t k = 0; k < K; ++k) {
    if (!(p.weights[k] > 0)) throw std::invalid_argument("GmmParams: weight " + std::to_string(k) + " is not positive");
    s += p.weights[k];
  }
  if (std::abs(s - 1) > 1e-6) throw std::invalid_argument("GmmParams: weights sum to " + std::to_string(s) + ", not 1");
  gmm::factorize(p);  // throws if a covariance is not positive definite
}

}  // namespace

GaussianMixture::GaussianMixture(GmmOptions opt) : opt_(opt) {
  if (opt_.n_components < 1) throw std::invalid_argument("GmmOptions: n_components must be >= 1");
  if (opt_.max_iter < 1) throw std::invalid_argument("GmmOptions: max_iter must be >= 1");
  if (opt_.n_init < 1) throw std::invalid_argument("GmmOptions: n_init must be >= 1");
  if (!(opt_.reg_covar >= 0)) throw std::invalid_argument("GmmOptions: reg_covar must be >= 0");
}

// The covariance policy is chosen once per fit: the loop below is written once over it.
GmmFitReport GaussianMixture::run_em(const TensorD& X, GmmParams& p) const {
  return gmm::with_policy(p.type, [&](auto cov) { return run_em_with(cov, X, p); });
}

template <class Cov>
GmmFitReport GaussianMixture::run_em_with(Cov cov, const TensorD& X, GmmParams& p) const {
  const int64_t N = X.size(0), K = p.n_components();
  const auto t0 = std::chrono::steady_clock::now();
  GmmFitReport rep;
  gmm::Factors f = Cov::factorize(p);
  gmm::Points x = gmm::points(X, opt_.sum);
  if constexpr (Cov::packs) gmm::pack_diag(x);
  // With the rows split over processes (GmmOptions::sum), the log-likelihood is summed over them.
  double all_rows = static_cast<double>(N);
  if (opt_.sum) opt_.sum(&all_rows, 1);
  auto mean_ll = [&](double local) {
    if (opt_.sum) opt_.sum(&local, 1);
    return local / all_rows;
  };
  TensorD R = TensorD::empty({K, N}), log_px = TensorD::empty({N});
  std::vector<double> moments;  // the M-step's products with R, computed inside the E-step
  double prev = -std::numeric_limits<double>::infinity();
  for (int it = 1; it <= opt_.max_iter; ++it) {
    const double ll = mean_ll(gmm::e_step(cov, x, p, f, &R, &log_px, true, &moments));  // E
    const std::vector<double> Nk = gmm::m_step(cov, x, R, opt_.reg_covar, p, opt_.sum, &moments);  // M
    // A component that explains no point at all is re-seeded at the worst-explained point.
    std::vector<int64_t> order;
    for (int64_t k = 0; k < K; ++k) {
      if (Nk[k] >= 1e-8) continue;
      if (opt_.sum)  // the worst-explained point of all the shares is not known here
        throw std::runtime_error("GaussianMixture: component " + std::to_string(k) + " lost all its points at iteration " +
                                 std::to_string(it) + "; with the data split over processes it cannot be re-seeded: "
                                 "fit fewer components, or on one process");
      if (order.empty()) {
        order.resize(N);
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return log_px[a] < log_px[b]; });
      }
      const int64_t pt = order[std::min<int64_t>(rep.warnings.size(), N - 1)];
      const int64_t D = X.size(1);
      std::copy(X.data() + pt * D, X.data() + (pt + 1) * D, p.means.data() + k * D);
      p.weights[k] = 1.0 / static_cast<double>(N);
      // Its covariance (reg_covar alone by now) becomes the average of the others', so that it
      // competes for a region rather than collapsing onto its one point.
      if constexpr (Cov::per_component) {
        const int64_t per = p.covariances.numel() / K;
        double* ck = p.covariances.data() + k * per;
        std::vector<double> avg(per, 0.0);
        int64_t live = 0;
        for (int64_t j = 0; j < K; ++j)
          if (Nk[j] >= 1e-8) {
            ++live;
            for (int64_t i = 0; i < per; ++i) avg[i] += p.covariances[j * per + i];
          }
        if (live > 0)
          for (int64_t i = 0; i < per; ++i) ck[i] = avg[i] / static_cast<double>(live);
      }
      rep.warnings.push_back("component " + std::to_string(k) + " lost all its points at iteration " +
                             std::to_string(it) + "; re-seeded at point " + std::to_string(pt) +
                             " (the worst explained)");
      double s = 0;
      for (int64_t j = 0; j < K; ++j) s += p.weights[j];
      for (int64_t j = 0; j < K; ++j) p.weights[j] /= s;
    }
    f = Cov::factorize(p);
    rep.log_likelihood.push_back(ll);
    rep.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    rep.n_iter = it;
    if (std::abs(ll - prev) < opt_.tol) {
      rep.converged = true;
      break;
    }
    prev = ll;
  }
  rep.final_log_likelihood = mean_ll(gmm::e_step(cov, x, p, f, nullptr, nullptr));
  if (!rep.converged)
    rep.warnings.push_back("EM did not converge in max_iter=" + std::to_string(opt_.max_iter) +
                           " iterations (last change of mean log-likelihood above tol=" + std::to_string(opt_.tol) + ")");
  return rep;
}

const GmmFitReport& GaussianMixture::fit(const TensorD& X, Rng& rng) {
  const int64_t K = opt_.n_components;
  std::vector<std::string> data_warnings = check_data(X, K, "GaussianMixture::fit");
  GmmParams best_params;
  GmmFitReport best;
  bool have = false;
  for (int i = 0; i < opt_.n_init; ++i) {
    GmmParams p = initialize(X, rng);
    GmmFitReport rep = run_em(X, p);
    if (!have || rep.final_log_likelihood > best.final_log_likelihood) {
      best = std::move(rep);
      best.best_init = i;
      best_params = std::move(p);
      have = true;
    }
  }
  params_ = std::move(best_params);
  best.warnings.insert(best.warnings.begin(), data_warnings.begin(), data_warnings.end());
  report_ = std::move(best);
  return report_;
}

GmmParams GaussianMixture::initialize(const TensorD& X, Rng& rng) const {
  check_data(X, opt_.n_components, "GaussianMixture::initialize");
  GmmParams p;
  p.type = opt_.covariance_type;
  const int64_t K = opt_.n_components;
  const TensorD R = opt_.init == GmmInit::kmeans ? kmeans_resp(X, K, opt_.kmeans_iter, rng)
                                                 : random_resp(X.size(0), K, rng);
  gmm::m_step(gmm::points(X), R, opt_.reg_covar, p);
  return p;
}

const GmmFitReport& GaussianMixture::fit_from(const TensorD& X, const GmmParams& init) {
  // One share of the rows (GmmOptions::sum) holds fewer points than the whole, and may hold a
  // column constant that is not: only its values are checked here.
  std::vector<std::string> data_warnings = check_data(X, opt_.sum ? 1 : init.n_components(), "GaussianMixture::fit_from");
  if (opt_.sum) data_warnings.clear();
  check_params(init);
  if (init.n_features() != X.size(1))
    throw ShapeError("GaussianMixture::fit_from: X has " + std::to_string(X.size(1)) +
                     " columns but the initial means have " + std::to_string(init.n_features()));
  if (init.type != opt_.covariance_type)
    throw std::invalid_argument(std::string("GaussianMixture::fit_from: initial parameters are ") +
                                to_string(init.type) + " but covariance_type is " + to_string(opt_.covariance_type));
  GmmParams p = init;
  p.weights = init.weights.clone();
  p.means = init.means.clone();
  p.covariances = init.covariances.clone();
  report_ = run_em(X, p);
  params_ = std::move(p);
  report_.warnings.insert(report_.warnings.begin(), data_warnings.begin(), data_warnings.end());
  return report_;
}

void GaussianMixture::set_params(GmmParams p) {
  check_params(p);
  params_ = std::move(p);
}

void GaussianMixture::require_fitted(const TensorD& X, const char* where) const {
  if (!fitted()) throw std::logic_error(std::string(where) + ": the mixture is not fitted (call fit first)");
  if (X.dim() != 2 || X.size(1) != params_.n_features())
    throw ShapeError(std::string(where) + ": expected X [N," + std::to_string(params_.n_features()) + "], found " +
                     shape_str(X.shape()));
}

TensorD GaussianMixture::predict_proba(const TensorD& X) const {
  require_fitted(X, "predict_proba");
  TensorD R = TensorD::empty({params_.n_components(), X.size(0)});
  gmm::e_step(gmm::points(X), params_, gmm::factorize(params_), &R, nullptr);
  return transpose(R);
}

std::vector<int64_t> GaussianMixture::predict(const TensorD& X) const { return argmax(predict_proba(X), 1); }

TensorD GaussianMixture::score_samples(const TensorD& X) const {
  require_fitted(X, "score_samples");
  TensorD lp = TensorD::empty({X.size(0)});
  gmm::e_step(gmm::points(X), params_, gmm::factorize(params_), nullptr, &lp);
  return lp;
}

double GaussianMixture::score(const TensorD& X) const {
  require_fitted(X, "score");
  return gmm::e_step(gmm::points(X), params_, gmm::factorize(params_), nullptr, nullptr) /
         static_cast<double>(X.size(0));
}

TensorD GaussianMixture::sample(int64_t n, Rng& rng, std::vector<int64_t>* labels) const {
  if (!fitted()) throw std::logic_error("sample: the mixture is not fitted (call fit first)");
  if (n < 1) throw std::invalid_argument("sample: n must be >= 1, found " + std::to_string(n));
  const int64_t K = params_.n_components(), D = params_.n_features();
  return gmm::with_policy(params_.type, [&](auto cov) {
    using Cov = decltype(cov);
    const gmm::Factors f = Cov::factorize(params_);
    TensorD out = TensorD::empty({n, D});
    std::vector<double> z(D), s(D);
    if (labels) labels->assign(n, 0);
    for (int64_t i = 0; i < n; ++i) {
      double u = rng.uniform();
      int64_t k = 0;
      while (k < K - 1 && (u -= params_.weights[k]) >= 0) ++k;
      if (labels) (*labels)[i] = k;
      for (auto& v : z) v = rng.normal();
      Cov::sample(params_, f, k, z.data(), s.data());  // x = μ_k + L_k z
      for (int64_t d = 0; d < D; ++d) out[i * D + d] = params_.means[k * D + d] + s[d];
    }
    return out;
  });
}

int64_t GaussianMixture::n_parameters() const {
  const int64_t K = fitted() ? params_.n_components() : opt_.n_components;
  const int64_t D = params_.n_features();
  const int64_t cov = gmm::with_policy(opt_.covariance_type, [&](auto c) { return decltype(c)::n_parameters(K, D); });
  return cov + K * D + K - 1;
}

double GaussianMixture::bic(const TensorD& X) const {
  const double N = static_cast<double>(X.size(0));
  return -2 * score(X) * N + static_cast<double>(n_parameters()) * std::log(N);
}

double GaussianMixture::aic(const TensorD& X) const {
  return -2 * score(X) * static_cast<double>(X.size(0)) + 2 * static_cast<double>(n_parameters());
}

}  // namespace lz
