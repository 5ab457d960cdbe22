// MixtureOfDiagGaussians, the mixture-density head: densities written out by hand, moments of its
// samples within standard errors, gradchecks in every input, the scale floor, and M = 1 against
// the diagonal Gaussian. (The other distributions are in test_distributions.cpp.)
#define BOOST_TEST_MODULE mixture_density
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "autodiff/gradcheck.hpp"
#include "models/distributions.hpp"
#include "thrown.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
double normal_pdf(double x, double mu, double sd) {
  const double z = (x - mu) / sd;
  return std::exp(-0.5 * z * z) / (sd * std::sqrt(2 * std::numbers::pi));
}

// The 1-D mixture 0.3 N(-1, 0.5²) + 0.7 N(2, 1.5²) shared by every row (N = 1), with a floor:
// log_scale is chosen so that min_scale + exp(log_scale) is the wanted σ.
MixtureOfDiagGaussians<double> one_d(double floor) {
  return {VarD(TensorD::from({std::log(0.3), std::log(0.7)}, {1, 2})), VarD(TensorD::from({-1.0, 2.0}, {1, 2, 1})),
          VarD(TensorD::from({std::log(0.5 - floor), std::log(1.5 - floor)}, {1, 2, 1})), floor};
}
}  // namespace

BOOST_AUTO_TEST_CASE(one_d_mixture_against_the_density_by_hand) {
  const std::vector<double> xs{-4.0, -1.0, -0.3, 0.5, 1.1, 2.0, 3.7, 9.0};
  const TensorD x = TensorD::from(xs, {8, 1});
  for (double floor : {0.0, 0.1}) {
    const TensorD lp = one_d(floor).log_prob(VarD(x)).value();
    BOOST_TEST(lp.shape() == (Shape{8}));
    for (size_t i = 0; i < xs.size(); ++i)
      BOOST_TEST(lp[static_cast<int64_t>(i)] ==
                     std::log(0.3 * normal_pdf(xs[i], -1, 0.5) + 0.7 * normal_pdf(xs[i], 2, 1.5)),
                 tt::tolerance(1e-12));
  }
  // Unnormalised logits: only their softmax counts (log 3 + 5, log 7 + 5 still give π = 0.3, 0.7).
  MixtureOfDiagGaussians<double> m = one_d(0.0);
  m.logits = VarD(TensorD::from({std::log(3.0) + 5, std::log(7.0) + 5}, {1, 2}));
  BOOST_TEST(m.log_prob(VarD(x)).value()[2] == std::log(0.3 * normal_pdf(-0.3, -1, 0.5) + 0.7 * normal_pdf(-0.3, 2, 1.5)),
             tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(two_d_per_row_mixture_against_the_density_by_hand) {
  // Two rows, each its own mixture of M = 3 diagonal Gaussians in D = 2, as a network gives them.
  const std::vector<double> w0{0.2, 0.5, 0.3}, w1{0.6, 0.1, 0.3};
  const std::vector<double> mu{0, 0, 1, -2, -3, 1,  /* row 1 */ 2, 2, -1, 0, 0.5, -0.5};
  const std::vector<double> sd{1, 0.5, 2, 1, 0.3, 0.7, /* row 1 */ 0.4, 1.1, 1, 1, 2.5, 0.2};
  std::vector<double> logw, logsd;
  for (double v : w0) logw.push_back(std::log(v));
  for (double v : w1) logw.push_back(std::log(v));
  for (double v : sd) logsd.push_back(std::log(v));
  const MixtureOfDiagGaussians<double> m(VarD(TensorD::from(logw, {2, 3})), VarD(TensorD::from(mu, {2, 3, 2})),
                                         VarD(TensorD::from(logsd, {2, 3, 2})), 0.0);
  const TensorD x = TensorD::from({0.3, -0.4, 1.5, 1.0}, {2, 2});
  const TensorD lp = m.log_prob(VarD(x)).value();
  // p(x) = Σ_m π_m N(x1; μ_m1, σ_m1) N(x2; μ_m2, σ_m2), summed explicitly.
  const double p0 = 0.2 * normal_pdf(0.3, 0, 1) * normal_pdf(-0.4, 0, 0.5) +
                    0.5 * normal_pdf(0.3, 1, 2) * normal_pdf(-0.4, -2, 1) +
                    0.3 * normal_pdf(0.3, -3, 0.3) * normal_pdf(-0.4, 1, 0.7);
  const double p1 = 0.6 * normal_pdf(1.5, 2, 0.4) * normal_pdf(1.0, 2, 1.1) +
                    0.1 * normal_pdf(1.5, -1, 1) * normal_pdf(1.0, 0, 1) +
                    0.3 * normal_pdf(1.5, 0.5, 2.5) * normal_pdf(1.0, -0.5, 0.2);
  BOOST_TEST(lp[0] == std::log(p0), tt::tolerance(1e-12));
  BOOST_TEST(lp[1] == std::log(p1), tt::tolerance(1e-12));
  // A leading sample axis: x:[k, N, D] -> [k, N], each slice scored by its row's mixture.
  const TensorD xk = TensorD::from({0.3, -0.4, 1.5, 1.0, 0.3, -0.4, 1.5, 1.0}, {2, 2, 2});
  const TensorD lpk = m.log_prob(VarD(xk)).value();
  BOOST_TEST(lpk.shape() == (Shape{2, 2}));
  BOOST_TEST(lpk.at({1, 0}) == std::log(p0), tt::tolerance(1e-12));
  BOOST_TEST(lpk.at({1, 1}) == std::log(p1), tt::tolerance(1e-12));
  // Closed-form moments of row 0, dimension 1: E = Σ π μ, Var = Σ π (σ² + μ²) − E².
  const double e = 0.2 * 0 + 0.5 * -2 + 0.3 * 1, e2 = 0.2 * (0.25 + 0) + 0.5 * (1 + 4) + 0.3 * (0.49 + 1);
  BOOST_TEST(m.mean().at({0, 1}) == e, tt::tolerance(1e-12));
  BOOST_TEST(m.variance().at({0, 1}) == e2 - e * e, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(samples_have_the_mixture_moments_within_standard_errors) {
  // Each component's central moments about the mixture mean c, with δ = μ − c:
  //   E(x−c)² = δ² + σ²,  E(x−c)⁴ = δ⁴ + 6δ²σ² + 3σ⁴;  SE(mean) = √(var/n), SE(s²) ≈ √((μ₄ − var²)/n).
  const auto check = [](const MixtureOfDiagGaussians<double>& m, const std::vector<double>& pi,
                        const std::vector<double>& mu, const std::vector<double>& sd, uint64_t seed) {
    const int64_t n = 200000, M = static_cast<int64_t>(pi.size());
    double c = 0;
    for (int64_t k = 0; k < M; ++k) c += pi[k] * mu[k];
    double var = 0, mu4 = 0;
    for (int64_t k = 0; k < M; ++k) {
      const double d = mu[k] - c, s2 = sd[k] * sd[k];
      var += pi[k] * (d * d + s2);
      mu4 += pi[k] * (d * d * d * d + 6 * d * d * s2 + 3 * s2 * s2);
    }
    BOOST_TEST(m.mean()[0] == c, tt::tolerance(1e-12));
    BOOST_TEST(m.variance()[0] == var, tt::tolerance(1e-12));
    Rng rng(seed);
    const TensorD s = m.sample(n, rng);
    BOOST_TEST(s.shape() == (Shape{n, 1, 1}));
    double mean = 0, v = 0;
    for (int64_t i = 0; i < n; ++i) mean += s[i];
    mean /= n;
    for (int64_t i = 0; i < n; ++i) v += (s[i] - mean) * (s[i] - mean);
    v /= n - 1;
    BOOST_TEST_MESSAGE("mixture mean " << mean << " (true " << c << "), variance " << v << " (true " << var << ")");
    BOOST_TEST(std::abs(mean - c) < 4 * std::sqrt(var / n));
    BOOST_TEST(std::abs(v - var) < 4 * std::sqrt((mu4 - var * var) / n));
  };
  check(one_d(0.0), {0.3, 0.7}, {-1, 2}, {0.5, 1.5}, 21);  // mean 1.1, variance 3.54
  check(one_d(0.2), {0.3, 0.7}, {-1, 2}, {0.5, 1.5}, 22);  // the floor is part of σ, not added twice
  // Three well-separated components: the moments hinge on the weights, so a wrong component pick shows.
  const MixtureOfDiagGaussians<double> three(VarD(TensorD::from({0.0, std::log(2.0), std::log(5.0)}, {1, 3})),
                                             VarD(TensorD::from({-10.0, 0.0, 10.0}, {1, 3, 1})),
                                             VarD(TensorD::from({-1.0, -1.0, -1.0}, {1, 3, 1})), 0.0);
  check(three, {0.125, 0.25, 0.625}, {-10, 0, 10}, {std::exp(-1.0), std::exp(-1.0), std::exp(-1.0)}, 23);
}

BOOST_AUTO_TEST_CASE(per_row_samples_follow_their_own_row) {
  // Row 0 is a 2-D two-component mixture, row 1 a single tight Gaussian: sample(n) -> [n, 2, 2].
  const MixtureOfDiagGaussians<double> m(
      VarD(TensorD::from({0.0, 0.0, 50.0, 0.0}, {2, 2})),  // row 1: π ≈ (1, e^-50)
      VarD(TensorD::from({-2.0, 1.0, 2.0, 3.0, 5.0, -5.0, 100.0, 100.0}, {2, 2, 2})),
      VarD(TensorD::from({0.0, -1.0, -0.5, 0.2, -3.0, -2.0, 0.0, 0.0}, {2, 2, 2})), 0.0);
  Rng rng(24);
  const int64_t n = 100000;
  const TensorD s = m.sample(n, rng);
  BOOST_TEST(s.shape() == (Shape{n, 2, 2}));
  const TensorD mean = m.mean(), var = m.variance();
  for (int64_t j = 0; j < 4; ++j) {
    double a = 0;
    for (int64_t i = 0; i < n; ++i) a += s[i * 4 + j];
    a /= n;
    BOOST_TEST(std::abs(a - mean[j]) < 4 * std::sqrt(var[j] / n), "row/dim " << j << ": " << a << " vs " << mean[j]);
  }
  BOOST_TEST(mean[2] == 5.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(one_component_is_the_diagonal_gaussian) {
  Rng rng(25);
  const TensorD mu = TensorD::normal({4, 1, 3}, 0, 1, rng), ls = TensorD::normal({4, 1, 3}, 0, 0.5, rng);
  const TensorD x = TensorD::normal({4, 3}, 0, 1.5, rng);
  for (double floor : {0.0, 0.25}) {
    const MixtureOfDiagGaussians<double> m(VarD(TensorD::normal({4, 1}, 0, 3, rng)), VarD(mu), VarD(ls), floor);
    // logvar = 2 log σ with σ = floor + exp(log_scale)
    TensorD lv = TensorD::empty({4, 3});
    for (int64_t i = 0; i < 12; ++i) lv[i] = 2 * std::log(floor + std::exp(ls[i]));
    const DiagGaussian<double> q{VarD(mu.reshape({4, 3})), VarD(lv)};
    const TensorD a = m.log_prob(VarD(x)).value(), b = q.log_prob(VarD(x)).value();
    for (int64_t i = 0; i < 4; ++i) BOOST_TEST(a[i] == b[i], tt::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(the_scale_floor_keeps_log_prob_finite) {
  // log_scale = −100 would give σ = e^-100 (σ² underflows in float); with the floor σ = 1e-3 + e^-100.
  const auto at = [](auto zero) {
    using T = decltype(zero);
    const MixtureOfDiagGaussians<T> m(Var<T>(Tensor<T>::from({T(0), T(0)}, {1, 2})),
                                      Var<T>(Tensor<T>::from({T(0), T(1), T(1), T(0)}, {1, 2, 2}), true),
                                      Var<T>(Tensor<T>::full({1, 2, 2}, T(-100)), true), T(1e-3));
    const Var<T> lp = m.log_prob(Var<T>(Tensor<T>::from({T(0), T(1)}, {1, 2})));  // at the first mean
    sum(lp).backward();
    bool finite_grads = true;
    for (const Var<T>& v : {m.means, m.log_scales})
      for (int64_t i = 0; i < v.numel(); ++i) finite_grads = finite_grads && std::isfinite(double(v.grad()[i]));
    return std::make_pair(double(lp.item()), finite_grads);
  };
  // log(½ N(0; 0, σ²)²) = log ½ − log 2π − 2 log σ: the other component is 10^6 σ away and adds nothing.
  const double want = std::log(0.5) - std::log(2 * std::numbers::pi) - 2 * std::log(1e-3);
  const auto [d, dg] = at(0.0);
  const auto [f, fg] = at(0.0f);
  BOOST_TEST(d == want, tt::tolerance(1e-12));
  BOOST_TEST(f == want, tt::tolerance(1e-5));
  BOOST_TEST(dg);
  BOOST_TEST(fg);
}

BOOST_AUTO_TEST_CASE(gradcheck_in_logits_means_log_scales_and_x) {
  Rng rng(26);
  const int64_t N = 3, M = 2, D = 2;
  const TensorD x = TensorD::normal({N, D}, 0, 1, rng);
  for (double floor : {0.0, 0.05}) {
    auto r = gradcheck(
        [floor](const std::vector<VarD>& v) { return MixtureOfDiagGaussians<double>(v[1], v[2], v[3], floor).log_prob(v[0]); },
        {x, TensorD::normal({N, M}, 0, 1, rng), TensorD::normal({N, M, D}, 0, 1, rng),
         TensorD::normal({N, M, D}, 0, 0.5, rng)},
        "MixtureOfDiagGaussians::log_prob(x; logits, means, log_scales)");
    BOOST_TEST(r.ok, "floor " << floor << ": " << r.message);
  }
  // Through the head: an MLP's last layer out = h Wᵀ + b, split by mixture_from_output.
  const TensorD h = TensorD::normal({N, 4}, 0, 1, rng);
  auto r = gradcheck(
      [&](const std::vector<VarD>& v) { return mixture_from_output(linear(VarD(h), v[0], v[1]), M, D).log_prob(v[2]); },
      {TensorD::normal({mixture_output_size(M, D), 4}, 0, 0.5, rng), TensorD::normal({mixture_output_size(M, D)}, 0, 0.5, rng),
       x},
      "mixture_from_output(linear)->log_prob");
  BOOST_TEST(r.ok, r.message);
}

BOOST_AUTO_TEST_CASE(mixture_from_output_layout_and_errors) {
  // [logits (M) | means (M·D) | log_scales (M·D)] for M = 2, D = 3, one row.
  std::vector<double> row(static_cast<size_t>(mixture_output_size(2, 3)));
  for (size_t i = 0; i < row.size(); ++i) row[i] = static_cast<double>(i);
  const MixtureOfDiagGaussians<double> m = mixture_from_output(VarD(TensorD::from(row, {1, 14})), 2, 3, 0.01);
  BOOST_TEST(m.logits.value().to_vector() == (std::vector<double>{0, 1}));
  BOOST_TEST(m.means.shape() == (Shape{1, 2, 3}));
  BOOST_TEST(m.means.value().at({0, 1, 0}) == 5.0);      // component 1, dimension 0
  BOOST_TEST(m.log_scales.value().at({0, 0, 2}) == 10.0);
  BOOST_TEST(m.min_scale == 0.01);
  BOOST_TEST(test::thrown_message([] { mixture_from_output(VarD(TensorD::zeros({4, 13})), 2, 3, 0.0); }) ==
             "mixture_from_output: expected out:[N, M + 2MD] = [N, 14] for M = 2, D = 3, got [4,13]");
  BOOST_TEST(test::thrown_message([] {
               MixtureOfDiagGaussians<double>(VarD(TensorD::zeros({4, 2})), VarD(TensorD::zeros({4, 3, 1})),
                                              VarD(TensorD::zeros({4, 3, 1})));
             }) == "MixtureOfDiagGaussians: expected logits:[N,M] means:[N,M,D] log_scales:[N,M,D] with M >= 1, "
                   "got [4,2] [4,3,1] [4,3,1]");
  BOOST_TEST(test::thrown_message([] { one_d(-0.5); }).find("expected a finite min_scale >= 0, got -0.5") !=
             std::string::npos);
  BOOST_TEST(test::thrown_message([] { one_d(0.0).log_prob(VarD(TensorD::zeros({3, 2}))); }) ==
             "MixtureOfDiagGaussians::log_prob: expected x:[..., n, 1], got [3,2]");
}
