#define BOOST_TEST_MODULE distributions
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "autodiff/gradcheck.hpp"
#include "tensor/math.hpp"
#include "models/distributions.hpp"
#include "thrown.hpp"

using namespace lz;

namespace {
const double kLog2Pi = std::log(2.0 * std::numbers::pi);

double sigmoid_ref(double l) { return 1.0 / (1.0 + std::exp(-l)); }

// Sample mean and (n−1)-variance of column j of a row-major [n, cols] tensor.
std::pair<double, double> column_moments(const TensorD& x, int64_t cols, int64_t j) {
  const int64_t n = x.numel() / cols;
  double m = 0, v = 0;
  for (int64_t i = 0; i < n; ++i) m += x[i * cols + j];
  m /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) v += (x[i * cols + j] - m) * (x[i * cols + j] - m);
  return {m, v / static_cast<double>(n - 1)};
}
}  // namespace

BOOST_AUTO_TEST_CASE(diag_gaussian_log_prob_matches_formula) {
  Rng rng(3);
  const TensorD mu = TensorD::normal({4, 3}, 0, 1, rng), lv = TensorD::normal({4, 3}, 0, 0.5, rng);
  const TensorD z = TensorD::normal({4, 3}, 0, 1, rng);
  DiagGaussian<double> q{VarD(mu), VarD(lv)};
  const TensorD lp = q.log_prob(VarD(z)).value();
  BOOST_TEST(lp.shape() == (Shape{4}));
  for (int64_t n = 0; n < 4; ++n) {
    double ref = 0;
    for (int64_t j = 0; j < 3; ++j) {
      const double m = mu.at({n, j}), v = std::exp(lv.at({n, j})), x = z.at({n, j});
      ref += -0.5 * kLog2Pi - 0.5 * std::log(v) - (x - m) * (x - m) / (2 * v);
    }
    BOOST_TEST(lp[n] == ref, boost::test_tools::tolerance(1e-12));
  }
  // The standard normal is the special case mean 0, logvar 0.
  DiagGaussian<double> p{VarD(TensorD::zeros({4, 3})), VarD(TensorD::zeros({4, 3}))};
  const TensorD a = p.log_prob(VarD(z)).value(), b = std_normal_log_prob(VarD(z)).value();
  for (int64_t n = 0; n < 4; ++n) BOOST_TEST(a[n] == b[n], boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(k_samples_broadcast_against_one_posterior) {
  // z:[k,N,Z] scored against mean:[N,Z] equals scoring each sample slice on its own.
  Rng rng(4);
  const TensorD mu = TensorD::normal({2, 3}, 0, 1, rng), lv = TensorD::normal({2, 3}, 0, 0.5, rng);
  DiagGaussian<double> q{VarD(mu), VarD(lv)};
  const TensorD eps = standard_normal<double>({5, 2, 3}, rng);
  const VarD z = q.rsample(eps);
  BOOST_TEST(z.shape() == (Shape{5, 2, 3}));
  const TensorD lp = q.log_prob(z).value();
  BOOST_TEST(lp.shape() == (Shape{5, 2}));
  for (int64_t i = 0; i < 5; ++i) {
    const TensorD zi = narrow(z.value(), 0, i, 1).reshape({2, 3});
    const TensorD lpi = q.log_prob(VarD(zi)).value();
    for (int64_t n = 0; n < 2; ++n) {
      BOOST_TEST(lp.at({i, n}) == lpi[n], boost::test_tools::tolerance(1e-12));
      // and z really is mean + sigma * eps
      for (int64_t j = 0; j < 3; ++j)
        BOOST_TEST(z.value().at({i, n, j}) == mu.at({n, j}) + std::exp(0.5 * lv.at({n, j})) * eps.at({i, n, j}),
                   boost::test_tools::tolerance(1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(bernoulli_log_prob_matches_formula) {
  Rng rng(5);
  const TensorD logits = TensorD::normal({3, 6}, 0, 3, rng);
  TensorD x = TensorD::uniform({3, 6}, 0, 1, rng);
  for (int64_t i = 0; i < 9; ++i) x[i] = x[i] < 0.5 ? 0.0 : 1.0;  // binary and fractional targets
  const TensorD lp = bernoulli_log_prob(VarD(logits), VarD(x)).value();
  for (int64_t n = 0; n < 3; ++n) {
    double ref = 0;
    for (int64_t j = 0; j < 6; ++j) {
      const double p = sigmoid_ref(logits.at({n, j})), t = x.at({n, j});
      ref += t * std::log(p) + (1 - t) * std::log(1 - p);
    }
    BOOST_TEST(lp[n] == ref, boost::test_tools::tolerance(1e-10));
  }
  // Extreme logits stay finite: log σ(−800) for a 1 pixel is −800, not −inf.
  const TensorD big = bernoulli_log_prob(VarD(TensorD::from({-800.0, 800.0}, {1, 2})),
                                         VarD(TensorD::from({1.0, 1.0}, {1, 2})))
                          .value();
  BOOST_TEST(big[0] == -800.0, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(analytic_kl_matches_monte_carlo_within_standard_error) {
  Rng rng(6);
  const TensorD mu = TensorD::from({0.7, -1.2, 0.1}, {1, 3}), lv = TensorD::from({-0.8, 0.5, -2.0}, {1, 3});
  DiagGaussian<double> q{VarD(mu), VarD(lv)};
  const double analytic = q.kl_std_normal().item();
  // The closed form written out once more by hand.
  double ref = 0;
  for (int j = 0; j < 3; ++j) ref += 0.5 * (std::exp(lv[j]) + mu[j] * mu[j] - 1 - lv[j]);
  BOOST_TEST(analytic == ref, boost::test_tools::tolerance(1e-12));

  // KL = E_q[log q(z) − log p(z)], estimated from n samples with its standard error.
  const int64_t n = 200000;
  const TensorD eps = standard_normal<double>({n, 1, 3}, rng);
  const VarD z = q.rsample(eps);
  const TensorD d = sub(q.log_prob(z).value(), std_normal_log_prob(z).value());
  double m = 0, m2 = 0;
  for (int64_t i = 0; i < n; ++i) m += d[i];
  m /= n;
  for (int64_t i = 0; i < n; ++i) m2 += (d[i] - m) * (d[i] - m);
  const double se = std::sqrt(m2 / (n - 1) / n);
  BOOST_TEST_MESSAGE("KL analytic " << analytic << " Monte Carlo " << m << " +- " << se);
  BOOST_TEST(std::abs(m - analytic) < 4 * se);
  BOOST_TEST(se < 0.01);  // the test has power: a KL off by a few hundredths would fail
}

BOOST_AUTO_TEST_CASE(rsample_has_the_right_moments) {
  Rng rng(7);
  DiagGaussian<double> q{VarD(TensorD::from({1.5, -0.5}, {2})), VarD(TensorD::from({0.4, -1.0}, {2}))};
  const int64_t n = 100000;
  const TensorD z = q.rsample(standard_normal<double>({n, 2}, rng)).value();
  for (int j = 0; j < 2; ++j) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; ++i) m += z[i * 2 + j];
    m /= n;
    for (int64_t i = 0; i < n; ++i) v += (z[i * 2 + j] - m) * (z[i * 2 + j] - m);
    v /= (n - 1);
    const double true_var = std::exp(q.logvar.value()[j]);
    BOOST_TEST(std::abs(m - q.mean.value()[j]) < 4 * std::sqrt(true_var / n));
    // Var of the sample variance of a Gaussian is 2σ⁴/(n−1).
    BOOST_TEST(std::abs(v - true_var) < 4 * std::sqrt(2.0 / (n - 1)) * true_var);
  }
}

BOOST_AUTO_TEST_CASE(log_mean_exp_of_a_constant_is_the_constant) {
  for (double c : {-3000.0, -2.5, 0.0, 7.0, 3000.0}) {
    const TensorD a = TensorD::full({4, 7}, c);
    const TensorD r = log_mean_exp(VarD(a), 1).value();
    BOOST_TEST(r.shape() == (Shape{4}));
    for (int64_t i = 0; i < 4; ++i) BOOST_TEST(r[i] == c, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(math::log_mean_exp(a.data(), 28) == c, boost::test_tools::tolerance(1e-12));
  }
  // And of two values: log((e^0 + e^{log 3})/2) = log 2.
  const double two[] = {0.0, std::log(3.0)};
  BOOST_TEST(math::log_mean_exp(two, 2) == std::log(2.0), boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(gradchecks) {
  Rng rng(8);
  const TensorD mu = TensorD::normal({3, 2}, 0, 1, rng), lv = TensorD::normal({3, 2}, 0, 0.5, rng);
  const TensorD eps = standard_normal<double>({4, 3, 2}, rng);
  auto r1 = gradcheck(
      [&](const std::vector<VarD>& v) {
        DiagGaussian<double> q{v[0], v[1]};
        return q.log_prob(q.rsample(eps));  // the reparameterised sample scored by its own q
      },
      {mu, lv}, "DiagGaussian::log_prob(rsample)");
  BOOST_TEST(r1.ok, r1.message);
  auto r2 = gradcheck([](const std::vector<VarD>& v) { return DiagGaussian<double>{v[0], v[1]}.kl_std_normal(); },
                      {mu, lv}, "DiagGaussian::kl_std_normal");
  BOOST_TEST(r2.ok, r2.message);
  auto r3 = gradcheck([](const std::vector<VarD>& v) { return std_normal_log_prob(v[0]); }, {mu}, "std_normal_log_prob");
  BOOST_TEST(r3.ok, r3.message);
  const TensorD x = TensorD::uniform({3, 2}, 0, 1, rng);
  auto r4 = gradcheck([&](const std::vector<VarD>& v) { return bernoulli_log_prob(v[0], VarD(x)); },
                      {TensorD::normal({4, 3, 2}, 0, 2, rng)}, "bernoulli_log_prob");
  BOOST_TEST(r4.ok, r4.message);
  auto r5 = gradcheck([&](const std::vector<VarD>& v) { return gaussian_log_prob(VarD(x), v[0], v[1]); },
                      {mu, TensorD::normal({2}, 0, 0.3, rng)}, "gaussian_log_prob(shared logvar)");
  BOOST_TEST(r5.ok, r5.message);
  auto r6 = gradcheck([](const std::vector<VarD>& v) { return log_mean_exp(v[0], 0); },
                      {TensorD::normal({5, 3}, 0, 3, rng)}, "log_mean_exp");
  BOOST_TEST(r6.ok, r6.message);
}

BOOST_AUTO_TEST_CASE(standard_normal_closed_form_moments_and_shapes) {
  const StandardNormal<double> p{3};
  const TensorD x = TensorD::from({0.5, -1.0, 2.0, 0.0, 0.0, 0.0}, {2, 3});
  const TensorD lp = p.log_prob(VarD(x)).value();
  BOOST_TEST(lp.shape() == (Shape{2}));
  BOOST_TEST(lp[0] == -1.5 * kLog2Pi - 0.5 * (0.25 + 1.0 + 4.0), boost::test_tools::tolerance(1e-14));
  BOOST_TEST(lp[1] == -1.5 * kLog2Pi, boost::test_tools::tolerance(1e-14));
  // ε passes through unchanged: the base of a flow has no parameters to differentiate.
  BOOST_TEST(p.rsample(x).value().to_vector() == x.to_vector());
  Rng rng(11);
  const int64_t n = 100000;
  const TensorD s = p.sample(n, rng);
  BOOST_TEST(s.shape() == (Shape{n, 3}));
  for (int64_t j = 0; j < 3; ++j) {
    const auto [m, v] = column_moments(s, 3, j);
    BOOST_TEST(std::abs(m) < 4 * std::sqrt(1.0 / n));
    BOOST_TEST(std::abs(v - 1) < 4 * std::sqrt(2.0 / (n - 1)));
  }
  BOOST_TEST(test::thrown_message([&] { p.log_prob(VarD(TensorD::zeros({2, 4}))); }) ==
             "StandardNormal::log_prob: expected x:[...,3], got [2,4]");
}

BOOST_AUTO_TEST_CASE(diag_gaussian_sample_per_row_has_the_right_moments) {
  // Two rows with different parameters, as an encoder gives them: sample(n) -> [n, 2, 2].
  const TensorD mu = TensorD::from({1.5, -0.5, -3.0, 0.25}, {2, 2}), lv = TensorD::from({0.4, -1.0, 1.2, -2.5}, {2, 2});
  const DiagGaussian<double> q = diag_gaussian_from_output(VarD(concat<double>({VarD(mu), VarD(lv)}, 1)));
  BOOST_TEST(q.mean.value().to_vector() == mu.to_vector());
  BOOST_TEST(q.logvar.value().to_vector() == lv.to_vector());
  Rng rng(12);
  const int64_t n = 100000;
  const TensorD s = q.sample(n, rng);
  BOOST_TEST(s.shape() == (Shape{n, 2, 2}));
  BOOST_TEST(q.rsample(3, rng).shape() == (Shape{3, 2, 2}));
  for (int64_t j = 0; j < 4; ++j) {
    const auto [m, v] = column_moments(s, 4, j);
    const double var = std::exp(lv[j]);
    BOOST_TEST(std::abs(m - mu[j]) < 4 * std::sqrt(var / n));
    BOOST_TEST(std::abs(v - var) < 4 * std::sqrt(2.0 / (n - 1)) * var);
  }
  BOOST_TEST(test::thrown_message([] { diag_gaussian_from_output(VarD(TensorD::zeros({2, 5}))); }) ==
             "diag_gaussian_from_output: expected out:[..., 2Z] (mean then logvar), got [2,5]");
}

BOOST_AUTO_TEST_CASE(bernoulli_class_closed_form_and_sample_frequencies) {
  const TensorD l = TensorD::from({-2.0, 0.0, 1.5}, {1, 3});
  const Bernoulli<double> b{VarD(l)};
  const TensorD x = TensorD::from({0.0, 1.0, 1.0}, {1, 3});
  const double p0 = sigmoid_ref(-2.0), p2 = sigmoid_ref(1.5);
  BOOST_TEST(b.log_prob(VarD(x)).item() == std::log(1 - p0) + std::log(0.5) + std::log(p2),
             boost::test_tools::tolerance(1e-14));
  Rng rng(13);
  const int64_t n = 100000;
  const TensorD s = b.sample(n, rng);
  BOOST_TEST(s.shape() == (Shape{n, 1, 3}));
  const TensorD p = b.probs();
  for (int64_t j = 0; j < 3; ++j) {
    const double m = column_moments(s, 3, j).first;
    BOOST_TEST(p[j] == sigmoid_ref(l[j]), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(std::abs(m - p[j]) < 4 * std::sqrt(p[j] * (1 - p[j]) / n));
  }
  int64_t not_binary = 0;
  for (int64_t i = 0; i < s.numel(); ++i) not_binary += s[i] != 0.0 && s[i] != 1.0;
  BOOST_TEST(not_binary == 0);
}

BOOST_AUTO_TEST_CASE(log_prob_gradcheck_in_every_parameter_and_x) {
  Rng rng(14);
  const TensorD x = TensorD::normal({3, 2}, 0, 1, rng);
  auto r1 = gradcheck([](const std::vector<VarD>& v) { return DiagGaussian<double>{v[1], v[2]}.log_prob(v[0]); },
                      {x, TensorD::normal({3, 2}, 0, 1, rng), TensorD::normal({3, 2}, 0, 0.5, rng)},
                      "DiagGaussian::log_prob(x; mean, logvar)");
  BOOST_TEST(r1.ok, r1.message);
  auto r2 = gradcheck([](const std::vector<VarD>& v) { return StandardNormal<double>{2}.log_prob(v[0]); }, {x},
                      "StandardNormal::log_prob");
  BOOST_TEST(r2.ok, r2.message);
  auto r3 = gradcheck([](const std::vector<VarD>& v) { return Bernoulli<double>{v[0]}.log_prob(v[1]); },
                      {TensorD::normal({4, 3, 2}, 0, 2, rng), TensorD::uniform({3, 2}, 0, 1, rng)},
                      "Bernoulli::log_prob(x; logits)");
  BOOST_TEST(r3.ok, r3.message);
  // A conditional prior p(z | c): a network of c whose output is split into mean and logvar.
  const TensorD c = TensorD::normal({3, 4}, 0, 1, rng);
  auto r4 = gradcheck(
      [&](const std::vector<VarD>& v) {
        const Conditional<DiagGaussian<double>, double> prior = [&](const VarD& cond) {
          return diag_gaussian_from_output(linear(cond, v[0], v[1]));
        };
        return prior(VarD(c)).log_prob(v[2]);
      },
      {TensorD::normal({4, 4}, 0, 0.5, rng), TensorD::normal({4}, 0, 0.5, rng), x}, "conditional prior log_prob");
  BOOST_TEST(r4.ok, r4.message);
}
