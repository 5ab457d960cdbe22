// GaussianMixture by EM: monotone log-likelihood, recovery of a known mixture within standard
// errors, sampling, model choice by BIC, densities against a naive formula, and bad input.
#define BOOST_TEST_MODULE gmm
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "models/gmm.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "spawn_count.hpp"
#include "thrown.hpp"

using namespace lz;

namespace {

const CovarianceType kTypes[] = {CovarianceType::full, CovarianceType::diag, CovarianceType::spherical,
                                 CovarianceType::tied};

// The 2-D truth most tests draw from: three components with distinct full covariances.
GmmParams truth(double spread = 1.0) {
  GmmParams p;
  p.type = CovarianceType::full;
  p.weights = TensorD::from({0.2, 0.3, 0.5});
  p.means = TensorD::from({-4.0 * spread, 0.0, 0.0, 4.0 * spread, 4.0 * spread, -1.0 * spread}, {3, 2});
  p.covariances = TensorD::from({1.0, 0.6, 0.6, 1.0,   //
                                 0.5, -0.2, -0.2, 1.5,  //
                                 2.0, 0.0, 0.0, 0.3},
                                {3, 2, 2});
  return p;
}

TensorD draw(const GmmParams& p, int64_t n, uint64_t seed, std::vector<int64_t>* labels = nullptr) {
  GmmOptions o;
  o.n_components = p.n_components();
  o.covariance_type = p.type;
  GaussianMixture g(o);
  g.set_params(p);
  Rng rng(seed);
  return g.sample(n, rng, labels);
}

// log p(x) for D = 2 by the textbook formula with the explicit 2x2 inverse and determinant.
double naive_logpdf(const GmmParams& p, double x0, double x1) {
  double total = 0;
  for (int64_t k = 0; k < p.n_components(); ++k) {
    double a, b, d;  // [[a b][b d]]
    switch (p.type) {
      case CovarianceType::full: a = p.covariances[k * 4], b = p.covariances[k * 4 + 1], d = p.covariances[k * 4 + 3]; break;
      case CovarianceType::tied: a = p.covariances[0], b = p.covariances[1], d = p.covariances[3]; break;
      case CovarianceType::diag: a = p.covariances[k * 2], b = 0, d = p.covariances[k * 2 + 1]; break;
      default: a = d = p.covariances[k], b = 0;
    }
    const double det = a * d - b * b;
    const double u = x0 - p.means[k * 2], v = x1 - p.means[k * 2 + 1];
    const double q = (d * u * u - 2 * b * u * v + a * v * v) / det;
    total += p.weights[k] * std::exp(-0.5 * q) / (2 * std::numbers::pi * std::sqrt(det));
  }
  return std::log(total);
}

GmmOptions opts(int64_t K, CovarianceType t) {
  GmmOptions o;
  o.n_components = K;
  o.covariance_type = t;
  return o;
}

bool has_warning(const GmmFitReport& r, const std::string& needle) {
  for (const auto& w : r.warnings)
    if (w.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(log_likelihood_never_decreases) {
  const TensorD X = draw(truth(0.5), 1500, 1);  // overlapping: EM needs many iterations
  for (CovarianceType t : kTypes) {
    for (GmmInit init : {GmmInit::random, GmmInit::kmeans}) {
      GmmOptions o = opts(4, t);
      o.init = init;
      o.tol = 0;
      o.max_iter = 80;
      GaussianMixture g(o);
      Rng rng(3);
      const GmmFitReport& r = g.fit(X, rng);
      BOOST_TEST_REQUIRE(r.log_likelihood.size() == 80u);
      BOOST_TEST(!has_warning(r, "re-seeded"));
      for (size_t i = 1; i < r.log_likelihood.size(); ++i) {
        const double a = r.log_likelihood[i - 1], b = r.log_likelihood[i];
        BOOST_TEST(b >= a - 1e-9 * std::abs(a), to_string(t) << " iteration " << i << ": " << a << " -> " << b);
      }
      BOOST_TEST(r.final_log_likelihood >= r.log_likelihood.back() - 1e-9 * std::abs(r.log_likelihood.back()));
    }
  }
}

BOOST_AUTO_TEST_CASE(recovers_a_known_mixture_within_standard_errors) {
  const GmmParams t = truth();
  const int64_t N = 6000;
  const TensorD X = draw(t, N, 11);
  GmmOptions o = opts(3, CovarianceType::full);
  o.n_init = 2;
  o.tol = 1e-8;
  GaussianMixture g(o);
  Rng rng(5);
  g.fit(X, rng);
  BOOST_TEST(g.report().converged);
  const GmmParams& f = g.params();
  for (int64_t k = 0; k < 3; ++k) {
    // match by nearest mean (the truth's components are far apart)
    int64_t j = 0;
    double best = 1e300;
    for (int64_t c = 0; c < 3; ++c) {
      const double d = std::hypot(f.means[c * 2] - t.means[k * 2], f.means[c * 2 + 1] - t.means[k * 2 + 1]);
      if (d < best) best = d, j = c;
    }
    const double w = t.weights[k], nk = w * N;
    BOOST_TEST(std::abs(f.weights[j] - w) < 4 * std::sqrt(w * (1 - w) / N), "weight " << k);
    for (int64_t d = 0; d < 2; ++d) {
      const double se = std::sqrt(t.covariances[k * 4 + d * 3] / nk);
      BOOST_TEST(std::abs(f.means[j * 2 + d] - t.means[k * 2 + d]) < 4 * se, "mean " << k << "," << d);
    }
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t b = 0; b < 2; ++b) {  // Var(S_ab) = (Σ_aa Σ_bb + Σ_ab²) / n for Gaussian data
        const double saa = t.covariances[k * 4 + a * 3], sbb = t.covariances[k * 4 + b * 3];
        const double sab = t.covariances[k * 4 + a * 2 + b];
        const double se = std::sqrt((saa * sbb + sab * sab) / nk);
        BOOST_TEST(std::abs(f.covariances[j * 4 + a * 2 + b] - sab) < 4 * se, "cov " << k << "," << a << b);
      }
  }
}

BOOST_AUTO_TEST_CASE(sample_reproduces_weights_means_and_covariances) {
  for (CovarianceType type : {CovarianceType::full, CovarianceType::diag}) {
    GmmParams t = truth();
    if (type == CovarianceType::diag) {
      t.type = type;
      t.covariances = TensorD::from({1.0, 0.4, 2.0, 0.7, 0.3, 1.1}, {3, 2});
    }
    auto var = [&](int64_t k, int64_t a, int64_t b) {
      if (type == CovarianceType::diag) return a == b ? t.covariances[k * 2 + a] : 0.0;
      return t.covariances[k * 4 + a * 2 + b];
    };
    const int64_t n = 20000;
    std::vector<int64_t> lab;
    const TensorD S = draw(t, n, 99, &lab);
    for (int64_t k = 0; k < 3; ++k) {
      double cnt = 0, m[2] = {0, 0}, c[2][2] = {{0, 0}, {0, 0}};
      for (int64_t i = 0; i < n; ++i)
        if (lab[i] == k) cnt += 1, m[0] += S[i * 2], m[1] += S[i * 2 + 1];
      m[0] /= cnt, m[1] /= cnt;
      for (int64_t i = 0; i < n; ++i)
        if (lab[i] == k)
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b) c[a][b] += (S[i * 2 + a] - m[a]) * (S[i * 2 + b] - m[b]) / (cnt - 1);
      const double w = t.weights[k];
      BOOST_TEST(std::abs(cnt / n - w) < 4 * std::sqrt(w * (1 - w) / n));
      for (int a = 0; a < 2; ++a) {
        BOOST_TEST(std::abs(m[a] - t.means[k * 2 + a]) < 4 * std::sqrt(var(k, a, a) / cnt));
        for (int b = 0; b < 2; ++b) {
          const double se = std::sqrt((var(k, a, a) * var(k, b, b) + var(k, a, b) * var(k, a, b)) / cnt);
          BOOST_TEST(std::abs(c[a][b] - var(k, a, b)) < 4 * se, to_string(type) << " cov " << k << a << b);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(bic_picks_the_true_k_on_separated_data) {
  const TensorD X = draw(truth(2.0), 1500, 21);
  int64_t best_k = 0;
  double best = 1e300;
  for (int64_t K = 1; K <= 6; ++K) {
    GmmOptions o = opts(K, CovarianceType::full);
    o.n_init = 2;
    GaussianMixture g(o);
    Rng rng(K);
    g.fit(X, rng);
    const double bic = g.bic(X);
    // the definition, with p = K-1 weights + K D means + K D(D+1)/2 covariances
    BOOST_TEST(g.n_parameters() == (K - 1) + 2 * K + 3 * K);
    BOOST_TEST(bic == -2 * 1500 * g.score(X) + g.n_parameters() * std::log(1500.0), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(g.aic(X) == -2 * 1500 * g.score(X) + 2 * g.n_parameters(), boost::test_tools::tolerance(1e-12));
    if (bic < best) best = bic, best_k = K;
  }
  BOOST_TEST(best_k == 3);
}

// Each covariance type's parameter count (scikit-learn's _n_parameters), its name, and the shape
// of what a fit holds: what each covariance policy (models/gmm_covariance.hpp) answers for its type.
BOOST_AUTO_TEST_CASE(each_covariance_type_counts_names_and_shapes_its_parameters) {
  const TensorD X = draw(truth(), 300, 5);  // D = 2
  const int64_t K = 3, D = 2, means_and_weights = K * D + K - 1;
  const int64_t covariance_parameters[] = {K * D * (D + 1) / 2, K * D, K, D * (D + 1) / 2};  // kTypes' order
  const Shape shapes[] = {{K, D, D}, {K, D}, {K}, {D, D}};
  const char* names[] = {"full", "diag", "spherical", "tied"};
  for (int i = 0; i < 4; ++i) {
    const CovarianceType t = kTypes[i];
    BOOST_TEST(std::string(to_string(t)) == names[i]);
    BOOST_TEST((parse_covariance_type(names[i]) == t));
    GaussianMixture g(opts(K, t));
    Rng rng(9);
    g.fit(X, rng);
    BOOST_TEST(g.n_parameters() == covariance_parameters[i] + means_and_weights, names[i]);
    BOOST_TEST((g.params().covariances.shape() == shapes[i]), names[i]);
  }
}

BOOST_AUTO_TEST_CASE(densities_match_the_textbook_formula_and_proba_rows_sum_to_one) {
  const TensorD X = draw(truth(), 500, 4);
  for (CovarianceType t : kTypes) {
    GaussianMixture g(opts(3, t));
    Rng rng(8);
    g.fit(X, rng);
    const TensorD lp = g.score_samples(X), R = g.predict_proba(X);
    const std::vector<int64_t> lab = g.predict(X);
    double mean = 0;
    for (int64_t n = 0; n < 500; ++n) {
      BOOST_TEST(lp[n] == naive_logpdf(g.params(), X[n * 2], X[n * 2 + 1]), boost::test_tools::tolerance(1e-10));
      BOOST_TEST(R[n * 3] + R[n * 3 + 1] + R[n * 3 + 2] == 1.0, boost::test_tools::tolerance(1e-12));
      for (int64_t k = 0; k < 3; ++k) BOOST_TEST(R[n * 3 + k] <= R[n * 3 + lab[n]]);
      mean += lp[n] / 500;
    }
    BOOST_TEST(g.score(X) == mean, boost::test_tools::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(bad_input_gives_clear_errors_or_warnings) {
  Rng rng(1);
  TensorD X = draw(truth(), 40, 2);
  // K larger than the number of points
  BOOST_TEST(lz::test::thrown_message([&] { GaussianMixture(opts(41, CovarianceType::full)).fit(X, rng); }) ==
             "GaussianMixture::fit: n_components=41 exceeds the number of points N=40");
  // NaN in the data
  TensorD Xn = X.clone();
  Xn[5 * 2 + 1] = std::nan("");
  BOOST_TEST(lz::test::thrown_message([&] { GaussianMixture(opts(2, CovarianceType::full)).fit(Xn, rng); }) ==
             "GaussianMixture::fit: X has a non-finite value (nan) at row 5, column 1");
  // a constant column: valid thanks to reg_covar, with a warning
  TensorD Xc = X.clone();
  for (int64_t n = 0; n < 40; ++n) Xc[n * 2 + 1] = 3.0;
  for (CovarianceType t : kTypes) {
    GaussianMixture g(opts(2, t));
    const GmmFitReport& r = g.fit(Xc, rng);
    BOOST_TEST(has_warning(r, "column 1 is constant (every value is 3): its variance comes from reg_covar alone"));
    BOOST_TEST(std::isfinite(r.final_log_likelihood));
    if (t == CovarianceType::diag) BOOST_TEST(g.params().covariances[1] == 1e-6, boost::test_tools::tolerance(1e-6));
  }
  // identical points: one component fits (every column constant), two cannot
  TensorD Xi = TensorD::full({10, 2}, 1.5);
  GaussianMixture one(opts(1, CovarianceType::full));
  const GmmFitReport& r1 = one.fit(Xi, rng);
  BOOST_TEST(has_warning(r1, "column 0 is constant"));
  BOOST_TEST(one.params().covariances[0] == 1e-6, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(one.params().means[0] == 1.5, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(lz::test::thrown_message([&] { GaussianMixture(opts(2, CovarianceType::full)).fit(Xi, rng); }) ==
             "GaussianMixture::fit: n_components=2 but X has only 1 distinct point(s)");
  // a covariance that is not positive definite
  GmmParams bad = truth();
  bad.covariances[1] = bad.covariances[2] = 2.0;  // [[1 2][2 1]]
  BOOST_TEST(lz::test::thrown_message([&] { GaussianMixture(opts(3, CovarianceType::full)).fit_from(X, bad); })
                 .starts_with("component 0: covariance is not positive definite"));
}

BOOST_AUTO_TEST_CASE(an_emptied_component_is_reseeded_not_nan) {
  const TensorD X = draw(truth(), 300, 6);
  GmmParams init = truth();
  init.means[2 * 2] = 1e4;  // component 2 is so far away that every responsibility underflows to 0
  init.covariances[2 * 4] = init.covariances[2 * 4 + 3] = 1e-2;
  GmmOptions o = opts(3, CovarianceType::full);
  o.max_iter = 30;
  GaussianMixture g(o);
  const GmmFitReport& r = g.fit_from(X, init);
  BOOST_TEST(has_warning(r, "component 2 lost all its points at iteration 1; re-seeded at point"));
  for (int64_t i = 0; i < g.params().covariances.numel(); ++i) BOOST_TEST(std::isfinite(g.params().covariances[i]));
  for (int64_t i = 0; i < 6; ++i) BOOST_TEST(std::isfinite(g.params().means[i]));
  BOOST_TEST(std::isfinite(r.final_log_likelihood));
  BOOST_TEST(g.params().weights[2] > 0.01);  // the re-seeded component took points back
}

BOOST_AUTO_TEST_CASE(two_threads_give_the_one_thread_result) {
  // enough points for the passes to split across threads (8 blocks of 4096 for D = 2)
  const TensorD X = draw(truth(0.5), 40000, 12);
  for (CovarianceType t : kTypes) {
    GmmOptions o = opts(3, t);
    o.tol = 0;
    o.max_iter = 4;
    Rng r1(9), r2(9);
    GaussianMixture a(o), b(o);
    const GmmParams start = a.initialize(X, r1);
    set_threads(1);
    const int before_one = lz::test::threads_started;
    a.fit_from(X, start);
    const int during_one = lz::test::threads_started - before_one;
    set_threads(2);
    BOOST_TEST_REQUIRE(threads() == 2);  // else "2 threads" would quietly be 1
    const int before_two = lz::test::threads_started;
    b.fit_from(X, start);
    const int during_two = lz::test::threads_started - before_two;
    set_threads(1);
    // 4 iterations, each with at least one pass split over 2 threads
    BOOST_TEST(during_one == 0);
    BOOST_TEST(during_two >= 2 * 4, to_string(t) << ": " << during_two << " threads started");
    BOOST_TEST(a.report().final_log_likelihood == b.report().final_log_likelihood, boost::test_tools::tolerance(1e-12));
    for (int64_t i = 0; i < a.params().covariances.numel(); ++i)
      BOOST_TEST(a.params().covariances[i] == b.params().covariances[i], boost::test_tools::tolerance(1e-10));
    for (int64_t i = 0; i < 6; ++i)
      BOOST_TEST(a.params().means[i] == b.params().means[i], boost::test_tools::tolerance(1e-10));
  }
}
