// The Gaussian mixture as an autodiff graph: gradcheck of the whole mean log-likelihood (the
// triangular solve it uses is in tests/autodiff/test_ops_gradcheck.cpp), agreement with EM's closed-form density, and Adam climbing to EM's optimum.
#define BOOST_TEST_MODULE gmm_sgd
#include <boost/test/unit_test.hpp>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "models/gmm.hpp"
#include "models/gmm_sgd.hpp"

using namespace lz;

namespace {

TensorD data(int64_t n, uint64_t seed) {
  GmmParams p;
  p.type = CovarianceType::full;
  p.weights = TensorD::from({0.3, 0.7});
  p.means = TensorD::from({-2.0, 0.0, 0.5, 2.0, 1.0, -0.5}, {2, 3});
  p.covariances = TensorD::from({1.0, 0.3, 0.0, 0.3, 0.8, 0.1, 0.0, 0.1, 0.5,  //
                                 0.6, -0.2, 0.1, -0.2, 1.2, 0.0, 0.1, 0.0, 0.9},
                                {2, 3, 3});
  GmmOptions o;
  o.n_components = 2;
  GaussianMixture g(o);
  g.set_params(p);
  Rng rng(seed);
  return g.sample(n, rng);
}

}  // namespace

BOOST_AUTO_TEST_CASE(mean_log_likelihood_gradcheck_full_and_diag) {
  const TensorD X = data(20, 3);
  Rng rng(2);
  const TensorD logits = TensorD::normal({2}, 0.0, 0.5, rng), means = TensorD::normal({2, 3}, 0.0, 1.0, rng);
  const TensorD off = TensorD::normal({2, 3, 3}, 0.0, 0.3, rng), ld = TensorD::normal({2, 3}, 0.0, 0.2, rng);
  const auto full = gradcheck(
      [&](const std::vector<VarD>& in) { return gmm_mean_log_likelihood(X, in[0], in[1], in[2], in[3]); },
      {logits, means, off, ld}, "gmm_mean_log_likelihood(full)");
  BOOST_TEST(full.ok, full.message);
  const auto diag = gradcheck(
      [&](const std::vector<VarD>& in) { return gmm_mean_log_likelihood(X, in[0], in[1], VarD(), in[2]); },
      {logits, means, ld}, "gmm_mean_log_likelihood(diag)");
  BOOST_TEST(diag.ok, diag.message);
}

BOOST_AUTO_TEST_CASE(graph_matches_em_density_and_adam_reaches_em_optimum) {
  const TensorD X = data(600, 4);
  for (CovarianceType t : {CovarianceType::full, CovarianceType::diag}) {
    GmmOptions o;
    o.n_components = 2;
    o.covariance_type = t;
    o.tol = 1e-10;
    o.max_iter = 500;
    GaussianMixture em(o);
    Rng rng(5);
    const GmmParams start = em.initialize(X, rng);
    em.fit_from(X, start);

    GmmSgdOptions so;
    so.n_components = 2;
    so.covariance_type = t;
    so.steps = 400;
    so.lr = 0.05;
    GmmGradientAscent sgd(so);
    const GmmSgdReport& r = sgd.fit_from(X, start);
    // the graph's first value is the closed-form density of the start
    GaussianMixture at_start(o);
    at_start.set_params(start);
    BOOST_TEST(r.log_likelihood.front() == at_start.score(X), boost::test_tools::tolerance(1e-10));
    // ...and its last value that of the parameters it reports
    GaussianMixture at_end(o);
    at_end.set_params(sgd.params());
    BOOST_TEST(r.final_log_likelihood == at_end.score(X), boost::test_tools::tolerance(1e-10));
    // Adam climbs to EM's maximum (EM also adds reg_covar, worth far less than 1e-3 here)
    BOOST_TEST(r.final_log_likelihood > r.log_likelihood.front());
    BOOST_TEST(std::abs(r.final_log_likelihood - em.report().final_log_likelihood) < 1e-3,
               to_string(t) << ": sgd " << r.final_log_likelihood << " em " << em.report().final_log_likelihood);
  }
}
