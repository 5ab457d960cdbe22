// The CVAE's conditional mixture-of-Gaussians prior p(z|c) = Σ_m π_m(c) N(z; μ_m(c), σ_m²(c))
// (models/vae.hpp, prior_components > 0): its losses (the KL by Monte Carlo) are gradchecked, its
// log-density is the direct double-precision sum, its KL estimator is unbiased for the closed form
// where one exists (M = 1), the evaluator's log p(x|c) (importance sampled and naive, which draws
// from the mixture) agrees with quadrature, and the deterministic action's z is the top
// component's mean. The conditional flow prior (prior_flow_couplings > 0): gradchecked, its density
// on k draws per row is the flow's density row by row, its KL estimate at initialisation (the
// couplings start at the identity, so p(z|c) = N(0, I)) is unbiased for the closed form.
#define BOOST_TEST_MODULE cvae_priors
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "model_checks.hpp"
#include "models/evaluate.hpp"
#include "models/iwae.hpp"
#include "models/vae.hpp"
#include "tensor/math.hpp"
#include "thrown.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {

VaeConfig mixture_config(int64_t M, VaeLikelihood lik = VaeLikelihood::Gaussian) {
  VaeConfig c;
  c.x_dim = 6;
  c.hidden = {5};
  c.z_dim = 3;
  c.c_dim = 4;
  c.prior_components = M;
  c.prior_hidden = {4};
  c.likelihood = lik;
  c.init_logvar = -0.7;
  return c;
}

// log Σ_m π_m Π_j N(z_j; μ_mj, σ_mj²) for row n of the prior, by hand in double.
double mixture_log_density_by_hand(const MixtureOfDiagGaussians<double>& p, int64_t n, const double* z) {
  const int64_t M = p.components(), Z = p.dim();
  const TensorD l = p.logits.value(), mu = p.means.value(), sd = p.scale().value();
  double lmax = -INFINITY;
  for (int64_t m = 0; m < M; ++m) lmax = std::max(lmax, l[n * M + m]);
  double norm = 0;
  for (int64_t m = 0; m < M; ++m) norm += std::exp(l[n * M + m] - lmax);
  double total = 0;
  for (int64_t m = 0; m < M; ++m) {
    double dens = std::exp(l[n * M + m] - lmax) / norm;
    for (int64_t j = 0; j < Z; ++j) {
      const double s = sd[(n * M + m) * Z + j], d = z[j] - mu[(n * M + m) * Z + j];
      dens *= std::exp(-0.5 * d * d / (s * s)) / (std::sqrt(2 * M_PI) * s);
    }
    total += dens;
  }
  return std::log(total);
}

}  // namespace

BOOST_AUTO_TEST_CASE(mixture_prior_losses_have_the_gradients_of_central_differences) {
  for (int64_t M : {1, 3}) {
    Rng rng(21);
    VAE<double> m(mixture_config(M), rng);
    const VarD x(TensorD::normal({4, 6}, 0, 1, rng)), c(TensorD::normal({4, 4}, 0, 1, rng));
    const TensorD eps = standard_normal<double>({4, 3}, rng), epsk = standard_normal<double>({5, 4, 3}, rng);
    const std::string f = check_model_gradients(m, [&] { return elbo_loss(m, x, eps, 0.6, c); });
    BOOST_TEST(f.empty(), "mixture-prior ELBO (M = " << M << ") gradient mismatch:\n" << f);
    const std::string fk = check_model_gradients(m, [&] { return elbo_loss(m, x, epsk, 1.0, c); });
    BOOST_TEST(fk.empty(), "mixture-prior 5-sample ELBO (M = " << M << ") gradient mismatch:\n" << fk);
    const std::string g = check_model_gradients(m, [&] { return iwae_loss(m, x, epsk, c); });
    BOOST_TEST(g.empty(), "mixture-prior IWAE-5 (M = " << M << ") gradient mismatch:\n" << g);
  }
}

BOOST_AUTO_TEST_CASE(the_mixture_prior_density_is_the_direct_sum_and_enters_the_weights) {
  Rng rng(22);
  VAE<double> m(mixture_config(4), rng);
  const VarD x(TensorD::normal({3, 6}, 0, 1, rng)), c(TensorD::normal({3, 4}, 0, 1, rng));
  const MixtureOfDiagGaussians<double> p = m.mixture_prior(c);
  BOOST_TEST((p.logits.shape() == Shape{3, 4}));
  BOOST_TEST((p.means.shape() == Shape{3, 4, 3}));
  // z:[k, B, Z], some far in a tail (the log-sum-exp must not underflow there).
  TensorD z = TensorD::normal({5, 3, 3}, 0, 2, rng);
  z[0] = 9.0;
  const TensorD lp = m.prior_log_prob(VarD(z), c).value();
  BOOST_TEST((lp.shape() == Shape{5, 3}));
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t n = 0; n < 3; ++n)
      BOOST_TEST(lp[i * 3 + n] == mixture_log_density_by_hand(p, n, z.data() + (i * 3 + n) * 3), tt::tolerance(1e-12));
  // log w = log p(x|z,c) + log p(z|c) − log q(z|x,c) with that density.
  const TensorD eps = standard_normal<double>({2, 3, 3}, rng);
  const DiagGaussian<double> q = m.encode(x, c);
  const VarD zq = q.rsample(eps);
  const TensorD lw = iwae_log_weights(m, x, eps, c).value(), ll = m.log_likelihood(x, zq, c).value(),
                lq = q.log_prob(zq).value();
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t n = 0; n < 3; ++n)
      BOOST_TEST(lw[i * 3 + n] ==
                     ll[i * 3 + n] + mixture_log_density_by_hand(p, n, zq.value().data() + (i * 3 + n) * 3) - lq[i * 3 + n],
                 tt::tolerance(1e-12));
}

// M = 1: the mixture is one Gaussian N(μ_1(c), σ_1²(c)), so the Monte Carlo KL must average to the
// closed form; at each draw it is log q(z) − log N(z; μ_1, σ_1²) exactly.
BOOST_AUTO_TEST_CASE(the_monte_carlo_kl_is_unbiased_for_the_closed_form_at_one_component) {
  Rng rng(23);
  VAE<double> m(mixture_config(1), rng);
  BOOST_TEST(!m.analytic_kl());
  const VarD x(TensorD::normal({3, 6}, 0, 1, rng)), c(TensorD::normal({3, 4}, 0, 1, rng));
  const DiagGaussian<double> q = m.encode(x, c);
  const MixtureOfDiagGaussians<double> p = m.mixture_prior(c);
  const DiagGaussian<double> g{reshape(p.means, {3, 3}), reshape(log(p.scale()) * 2.0, {3, 3})};
  const TensorD closed = q.kl_to(g).value();
  const int64_t K = 20000;
  const VarD z = q.rsample(standard_normal<double>({K, 3, 3}, rng));
  const TensorD each = (q.log_prob(z) - g.log_prob(z)).value();  // [K, 3]
  const TensorD est = m.kl_estimate(q, z, c).value();            // [3]: the mean over K
  for (int64_t n = 0; n < 3; ++n) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < K; ++i) s += each[i * 3 + n], ss += each[i * 3 + n] * each[i * 3 + n];
    const double mean = s / K, se = std::sqrt((ss / K - mean * mean) / K);
    BOOST_TEST(est[n] == mean, tt::tolerance(1e-10));
    BOOST_TEST_MESSAGE("row " << n << ": closed form " << closed[n] << ", Monte Carlo " << mean << " +- " << se);
    BOOST_TEST(std::abs(mean - closed[n]) < 4 * se);
    BOOST_TEST(closed[n] > 10 * se);  // the comparison is not trivial
  }
  // The evaluator's KL (the mean of ll − log w over its k draws) is the same estimate.
  Rng r(24);
  const BoundEstimates e = estimate_bounds(m, x.value(), 20000, {1}, r, 8192, c);
  for (int64_t n = 0; n < 3; ++n) {
    BOOST_TEST(std::abs(e.kl[n] - closed[n]) < 0.05 * closed[n] + 0.02);
    BOOST_TEST(e.elbo[n] == e.reconstruction[n] - e.kl[n], tt::tolerance(1e-12));
    BOOST_TEST(e.elbo[n] <= e.log_px[n]);
  }
}

// Z = 1, a 3-component prior: log p(x|c) = log ∫ p(x|z,c) p(z|c) dz by the midpoint rule; the
// importance-sampled estimate (prior_log_prob in the weights) and the naive one (sample_prior's
// mixture draws) must agree with it. q is set to cover the posterior, as in test_cvae.cpp.
BOOST_AUTO_TEST_CASE(log_px_given_c_under_a_mixture_prior_agrees_with_quadrature) {
  Rng rng(25);
  VaeConfig cfg = mixture_config(3, VaeLikelihood::Bernoulli);
  cfg.z_dim = 1;
  VAE<double> m(cfg, rng);
  const TensorD x = binary_batch(3, 6, rng), c = TensorD::normal({3, 4}, 0, 1, rng);
  const int G = 20000;
  const double lo = -12, h = 24.0 / G;
  TensorD zg({G, 1, 1});
  for (int i = 0; i < G; ++i) zg[i] = lo + (i + 0.5) * h;
  const std::vector<double> naive = naive_log_px(m, x, 100000, rng, 4096, VarD(c));
  VarD w = m.parameter("encoder.fc2.weight"), b = m.parameter("encoder.fc2.bias");
  for (int64_t n = 0; n < 3; ++n) {
    const VarD xn(narrow(x, 0, n, 1)), cn(narrow(c, 0, n, 1));
    double exact = 0, post_mean = 0, post_var = 0;
    {
      NoGrad ng;
      const TensorD ll = m.log_likelihood(xn, VarD(zg), cn).value(), lp = m.prior_log_prob(VarD(zg), cn).value();
      std::vector<double> v(G);
      for (int i = 0; i < G; ++i) v[i] = ll[i] + lp[i];
      const double lme = math::log_mean_exp(v.data(), G);
      exact = lme + std::log(24.0);
      for (int i = 0; i < G; ++i) {
        const double r = std::exp(v[i] - lme) / G;
        post_mean += r * zg[i];
        post_var += r * zg[i] * zg[i];
      }
      post_var -= post_mean * post_mean;
    }
    // The mixture's variance bounds the prior's spread; q wider than it and the posterior.
    const double prior_var = m.mixture_prior(cn).variance()[0];
    for (int64_t j = 0; j < w.size(1); ++j) w.value_mut().at({0, j}) = w.value_mut().at({1, j}) = 0;
    b.value_mut()[0] = post_mean;
    b.value_mut()[1] = std::log(1.5 * std::max(post_var, prior_var));
    const BoundEstimates e = estimate_bounds(m, narrow(x, 0, n, 1), 20000, {1}, rng, 8192, cn);
    BOOST_TEST_MESSAGE("x" << n << ": exact " << exact << " IS " << e.log_px[0] << " naive " << naive[n] << " ELBO "
                           << e.elbo[0]);
    BOOST_TEST(std::abs(e.log_px[0] - exact) < 5e-3);
    BOOST_TEST(naive[n] == exact, tt::tolerance(2e-3));
    BOOST_TEST(e.elbo[0] <= exact);
  }
}

BOOST_AUTO_TEST_CASE(the_prior_mode_is_the_top_components_mean_and_draws_follow_the_weights) {
  Rng rng(26);
  VAE<double> m(mixture_config(3), rng);
  const VarD c(TensorD::normal({4, 4}, 0, 1, rng));
  const MixtureOfDiagGaussians<double> p = m.mixture_prior(c);
  const TensorD z0 = m.prior_mode(c), l = p.logits.value(), mu = p.means.value();
  BOOST_TEST((z0.shape() == Shape{4, 3}));
  for (int64_t n = 0; n < 4; ++n) {
    int64_t best = 0;
    for (int64_t k = 1; k < 3; ++k)
      if (l[n * 3 + k] > l[n * 3 + best]) best = k;
    for (int64_t j = 0; j < 3; ++j) BOOST_TEST(z0[n * 3 + j] == mu[(n * 3 + best) * 3 + j]);
  }
  // The initial component means differ (each its own draw), so the mode is not the mixture's mean.
  const TensorD mean = p.mean();
  double gap = 0;
  for (int64_t i = 0; i < 12; ++i) gap = std::max(gap, std::abs(mean[i] - z0[i]));
  BOOST_TEST(gap > 0.1);
  // sample_prior: [n, B, Z] with the mixture's mean (row 0, 20,000 draws, within 4 standard errors).
  const VarD c0(narrow(c.value(), 0, 0, 1));
  const TensorD s = m.sample_prior(20000, rng, c0), var = m.mixture_prior(c0).variance(), mu0 = m.mixture_prior(c0).mean();
  BOOST_TEST((s.shape() == Shape{20000, 1, 3}));
  for (int64_t j = 0; j < 3; ++j) {
    double a = 0;
    for (int64_t i = 0; i < 20000; ++i) a += s[i * 3 + j];
    a /= 20000;
    BOOST_TEST(std::abs(a - mu0[j]) < 4 * std::sqrt(var[j] / 20000.0));
  }
}

BOOST_AUTO_TEST_CASE(a_mixture_prior_refuses_what_it_cannot_do_naming_it) {
  Rng rng(27);
  VAE<double> m(mixture_config(2), rng);
  const VarD x(TensorD::normal({2, 6}, 0, 1, rng)), c(TensorD::normal({2, 4}, 0, 1, rng));
  BOOST_TEST(test::thrown_message([&] { m.kl_to_prior(m.encode(x, c), c); }).find("kl_estimate") != std::string::npos);
  BOOST_TEST(test::thrown_message([&] { m.prior(c); }).find("mixture_prior") != std::string::npos);
  BOOST_TEST(m.describe().find("mixture prior (M = 2)") != std::string::npos, m.describe());
  VaeConfig vc = mixture_config(2);
  vc.c_dim = 0;
  BOOST_TEST(test::thrown_message([&] { VAE<double> bad(vc, rng); }).find("a mixture prior p(z|c) needs a condition") !=
             std::string::npos);
  vc = mixture_config(-1);
  BOOST_TEST(test::thrown_message([&] { VAE<double> bad(vc, rng); }).find("prior_components must be >= 0") !=
             std::string::npos);
  // The Gaussian priors keep the closed form.
  VaeConfig gc = mixture_config(0);
  gc.learned_prior = true;
  VAE<double> g(gc, rng);
  BOOST_TEST(g.analytic_kl());
  const DiagGaussian<double> q = g.encode(x, c);
  const TensorD eps = standard_normal<double>({2, 3}, rng);
  const TensorD a = g.kl_estimate(q, q.rsample(eps), c).value(), b = g.kl_to_prior(q, c).value();
  for (int64_t n = 0; n < 2; ++n) BOOST_TEST(a[n] == b[n]);
}

namespace {

VaeConfig flow_config(int64_t couplings) {
  VaeConfig c = mixture_config(0);
  c.prior_flow_couplings = couplings;
  return c;
}

// Move every flow parameter off its initialisation (the couplings start at the identity).
void perturb_flow(VAE<double>& m, Rng& rng) {
  for (auto& [name, p] : m.named_parameters())
    if (name.rfind("prior_flow.", 0) == 0) {
      TensorD& v = p.value_mut();
      for (int64_t i = 0; i < v.numel(); ++i) v[i] += 0.3 * rng.normal();
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(flow_prior_losses_have_the_gradients_of_central_differences) {
  Rng rng(31);
  VAE<double> m(flow_config(2), rng);
  perturb_flow(m, rng);
  const VarD x(TensorD::normal({4, 6}, 0, 1, rng)), c(TensorD::normal({4, 4}, 0, 1, rng));
  const TensorD eps = standard_normal<double>({4, 3}, rng), epsk = standard_normal<double>({3, 4, 3}, rng);
  const std::string f = check_model_gradients(m, [&] { return elbo_loss(m, x, eps, 0.6, c); });
  BOOST_TEST(f.empty(), "flow-prior ELBO gradient mismatch:\n" << f);
  const std::string g = check_model_gradients(m, [&] { return iwae_loss(m, x, epsk, c); });
  BOOST_TEST(g.empty(), "flow-prior IWAE-3 gradient mismatch:\n" << g);
}

BOOST_AUTO_TEST_CASE(the_flow_prior_scores_k_draws_per_row_as_the_flow_does_row_by_row) {
  Rng rng(32);
  VAE<double> m(flow_config(3), rng);
  perturb_flow(m, rng);
  BOOST_TEST(!m.analytic_kl());
  BOOST_TEST(m.describe().find("flow prior (3 couplings)") != std::string::npos, m.describe());
  const TensorD c = TensorD::normal({3, 4}, 0, 1, rng), z = TensorD::normal({4, 3, 3}, 0, 1.5, rng);
  const TensorD lp = m.prior_log_prob(VarD(z), VarD(c)).value();
  BOOST_TEST((lp.shape() == Shape{4, 3}));
  double spread = 0;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t n = 0; n < 3; ++n) {
      const VarD zi(narrow(z, 0, i, 1).reshape({3, 3}));
      const double want = m.flow_prior().log_prob(VarD(narrow(zi.value(), 0, n, 1)), VarD(narrow(c, 0, n, 1))).value()[0];
      BOOST_TEST(lp[i * 3 + n] == want, tt::tolerance(1e-12));
      // the perturbed flow is not the base: its density differs from N(0, I)'s
      double base = 0;
      for (int64_t j = 0; j < 3; ++j) base += -0.5 * (z[(i * 3 + n) * 3 + j] * z[(i * 3 + n) * 3 + j] + std::log(2 * M_PI));
      spread = std::max(spread, std::abs(want - base));
    }
  BOOST_TEST(spread > 0.1);
  // prior_mode is f⁻¹(0; c); sample_prior is [n, B, Z] and each row's draws are finite
  const TensorD z0 = m.prior_mode(VarD(c)), back = m.flow_prior().push_forward(z0, c);
  for (int64_t i = 0; i < 9; ++i) BOOST_TEST(std::abs(back[i]) < 1e-10);
  const TensorD s = m.sample_prior(5, rng, VarD(c));
  BOOST_TEST((s.shape() == Shape{5, 3, 3}));
  BOOST_TEST(test::thrown_message([&] { m.kl_to_prior(m.encode(VarD(TensorD::zeros({3, 6})), VarD(c)), VarD(c)); })
                 .find("flow prior has no closed form") != std::string::npos);
}

// At initialisation every coupling is the identity: p(z|c) = N(0, I), and the Monte Carlo KL must
// average to KL(q || N(0, I)) in closed form.
BOOST_AUTO_TEST_CASE(the_flow_priors_monte_carlo_kl_is_unbiased_at_the_identity) {
  Rng rng(33);
  VAE<double> m(flow_config(2), rng);
  const VarD x(TensorD::normal({3, 6}, 0, 1, rng)), c(TensorD::normal({3, 4}, 0, 1, rng));
  const DiagGaussian<double> q = m.encode(x, c);
  const TensorD closed = q.kl_std_normal().value();
  const int64_t K = 20000;
  const VarD z = q.rsample(standard_normal<double>({K, 3, 3}, rng));
  const TensorD each = (q.log_prob(z) - m.prior_log_prob(z, c)).value(), est = m.kl_estimate(q, z, c).value();
  for (int64_t n = 0; n < 3; ++n) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < K; ++i) s += each[i * 3 + n], ss += each[i * 3 + n] * each[i * 3 + n];
    const double mean = s / K, se = std::sqrt((ss / K - mean * mean) / K);
    BOOST_TEST(est[n] == mean, tt::tolerance(1e-10));
    BOOST_TEST(std::abs(mean - closed[n]) < 4 * se + 1e-12);
  }
  VaeConfig both = flow_config(2);
  both.prior_components = 2;
  BOOST_TEST(test::thrown_message([&] { VAE<double> bad(both, rng); }).find("choose one prior") != std::string::npos);
}
