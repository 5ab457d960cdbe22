// The conditional VAE: the VAE's code given c (models/latent.hpp, models/vae.hpp). Its losses are
// gradchecked, a CVAE that ignores c is the VAE number for number, the learned prior enters the KL
// and the importance weights as the closed forms say, and log p(x|c) from both estimators agrees
// with quadrature.
#define BOOST_TEST_MODULE cvae
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "model_checks.hpp"
#include "tensor/math.hpp"
#include "models/evaluate.hpp"
#include "models/iwae.hpp"
#include "models/vae.hpp"
#include "thrown.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {

VaeConfig cvae_config(bool learned_prior, VaeLikelihood lik = VaeLikelihood::Bernoulli) {
  VaeConfig c;
  c.x_dim = 6;
  c.hidden = {5};
  c.z_dim = 3;
  c.c_dim = 4;
  c.learned_prior = learned_prior;
  c.prior_hidden = {3};
  c.likelihood = lik;
  c.init_logvar = -0.7;
  return c;
}

TensorD one_hot(const std::vector<int64_t>& labels, int64_t classes) {
  TensorD c({static_cast<int64_t>(labels.size()), classes});
  for (size_t i = 0; i < labels.size(); ++i) c.at({static_cast<int64_t>(i), labels[i]}) = 1.0;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cvae_losses_have_the_gradients_of_central_differences) {
  for (bool learned : {false, true})
    for (auto lik : {VaeLikelihood::Bernoulli, VaeLikelihood::Gaussian, VaeLikelihood::Laplace}) {
      Rng rng(11);
      VAE<double> m(cvae_config(learned, lik), rng);
      const VarD x(lik == VaeLikelihood::Bernoulli ? binary_batch(4, 6, rng) : TensorD::normal({4, 6}, 0, 1, rng));
      const VarD c(TensorD::normal({4, 4}, 0, 1, rng));
      const TensorD eps = standard_normal<double>({4, 3}, rng), epsk = standard_normal<double>({5, 4, 3}, rng);
      const std::string f = check_model_gradients(m, [&] { return elbo_loss(m, x, eps, 0.6, c); });
      BOOST_TEST(f.empty(), "CVAE loss (learned prior " << learned << ") gradient mismatch:\n" << f);
      const std::string g = check_model_gradients(m, [&] { return iwae_loss(m, x, epsk, c); });
      BOOST_TEST(g.empty(), "CVAE IWAE-5 loss (learned prior " << learned << ") gradient mismatch:\n" << g);
    }
}

// Copy the VAE's weights into a CVAE of the same sizes and zero the input columns that read c: the
// CVAE then computes the VAE's numbers exactly, whatever c is.
BOOST_AUTO_TEST_CASE(a_cvae_that_ignores_c_is_the_vae_on_the_same_weights) {
  Rng rng(12);
  VaeConfig vc = cvae_config(false);
  vc.c_dim = 0;
  VAE<double> vae(vc, rng);
  VAE<double> cvae(cvae_config(false), rng);
  BOOST_TEST(cvae.named_parameters().size() == vae.named_parameters().size());
  for (auto& [name, p] : cvae.named_parameters()) {
    const TensorD& src = vae.parameter(name).value();
    TensorD& dst = p.value_mut();
    if (dst.shape() == src.shape()) {
      for (int64_t i = 0; i < dst.numel(); ++i) dst[i] = src[i];
      continue;
    }
    // fc1 weights: [out, in + C]; the first `in` columns are the VAE's, the last C read c.
    BOOST_REQUIRE(dst.dim() == 2);
    const int64_t out = dst.size(0), in = src.size(1);
    BOOST_REQUIRE(dst.size(1) == in + 4);
    for (int64_t r = 0; r < out; ++r)
      for (int64_t j = 0; j < dst.size(1); ++j) dst.at({r, j}) = j < in ? src.at({r, j}) : 0.0;
  }
  const VarD x(binary_batch(5, 6, rng)), c(TensorD::normal({5, 4}, 0, 3, rng));
  const TensorD eps = standard_normal<double>({5, 3}, rng), epsk = standard_normal<double>({7, 5, 3}, rng);
  const ElboTerms<double> a = elbo(vae, x, eps), b = elbo(cvae, x, eps, c);
  const TensorD la = iwae_bound(vae, x, epsk).value(), lb = iwae_bound(cvae, x, epsk, c).value();
  for (int64_t n = 0; n < 5; ++n) {
    BOOST_TEST(a.elbo.value()[n] == b.elbo.value()[n], tt::tolerance(1e-13));
    BOOST_TEST(a.kl.value()[n] == b.kl.value()[n], tt::tolerance(1e-13));
    BOOST_TEST(la[n] == lb[n], tt::tolerance(1e-13));
  }
  Rng r1(5), r2(5);
  const BoundEstimates ea = estimate_bounds(vae, x.value(), 50, {1, 10}, r1), eb = estimate_bounds(cvae, x.value(), 50, {1, 10}, r2, 8192, c);
  for (int64_t n = 0; n < 5; ++n) {
    BOOST_TEST(ea.log_px[n] == eb.log_px[n], tt::tolerance(1e-12));
    BOOST_TEST(ea.bound[1][n] == eb.bound[1][n], tt::tolerance(1e-12));
  }
}

BOOST_AUTO_TEST_CASE(the_learned_prior_enters_the_kl_and_the_weights_in_closed_form) {
  Rng rng(13);
  VAE<double> m(cvae_config(true), rng);
  const VarD x(binary_batch(3, 6, rng)), c(TensorD::normal({3, 4}, 0, 1, rng));
  const DiagGaussian<double> q = m.encode(x, c), p = m.prior(c);
  const TensorD kl = m.kl_to_prior(q, c).value();
  for (int64_t n = 0; n < 3; ++n) {
    double want = 0;
    for (int64_t j = 0; j < 3; ++j) {
      const double mq = q.mean.value().at({n, j}), vq = std::exp(q.logvar.value().at({n, j}));
      const double mp = p.mean.value().at({n, j}), vp = std::exp(p.logvar.value().at({n, j}));
      want += 0.5 * (std::log(vp / vq) + (vq + (mq - mp) * (mq - mp)) / vp - 1);
    }
    BOOST_TEST(kl[n] == want, tt::tolerance(1e-12));
  }
  // log w = log p(x|z,c) + log N(z; μp(c), σp²(c)) − log q(z|x,c), with the prior's density by hand.
  const TensorD eps = standard_normal<double>({2, 3, 3}, rng);
  const TensorD lw = iwae_log_weights(m, x, eps, c).value();
  const VarD z = q.rsample(eps);
  const TensorD ll = m.log_likelihood(x, z, c).value(), lq = q.log_prob(z).value();
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t n = 0; n < 3; ++n) {
      double lp = 0;
      for (int64_t j = 0; j < 3; ++j) {
        const double mp = p.mean.value().at({n, j}), vp = std::exp(p.logvar.value().at({n, j}));
        const double d = z.value().at({i, n, j}) - mp;
        lp += -0.5 * (std::log(2 * M_PI * vp) + d * d / vp);
      }
      BOOST_TEST(lw[i * 3 + n] == ll[i * 3 + n] + lp - lq[i * 3 + n], tt::tolerance(1e-12));
    }
  // The prior's draws have its mean and variance (one row, 20,000 draws, within 4 standard errors).
  Rng r(14);
  const TensorD s = m.sample_prior(20000, r, VarD(narrow(c.value(), 0, 0, 1)));  // [20000, 1, 3]
  BOOST_TEST((s.shape() == Shape{20000, 1, 3}));
  for (int64_t j = 0; j < 3; ++j) {
    const double mp = p.mean.value().at({0, j}), sd = std::exp(0.5 * p.logvar.value().at({0, j}));
    double mean = 0;
    for (int64_t i = 0; i < 20000; ++i) mean += s[i * 3 + j];
    mean /= 20000;
    BOOST_TEST(std::abs(mean - mp) < 4 * sd / std::sqrt(20000.0));
  }
}

// Z = 1, labels as c, learned prior: log p(x|c) = log ∫ p(x|z,c) p(z|c) dz by the midpoint rule on
// a fine grid; importance sampling and the naive estimator must both agree with it. For importance
// sampling to converge at k = 20,000 the proposal must cover the posterior: each row's q is set to
// the posterior's mean (from the same quadrature) and a variance above both the posterior's and the
// prior's, so the weights are bounded (p(x|z,c) ≤ 1 and p(z|c)/q(z) is bounded).
BOOST_AUTO_TEST_CASE(log_px_given_c_agrees_with_quadrature) {
  Rng rng(15);
  VaeConfig cfg = cvae_config(true);
  cfg.z_dim = 1;
  VAE<double> m(cfg, rng);
  const TensorD x = binary_batch(3, 6, rng), c = one_hot({0, 2, 3}, 4);
  const int G = 20000;
  const double lo = -12, h = 24.0 / G;
  TensorD zg({G, 1, 1});
  for (int i = 0; i < G; ++i) zg[i] = lo + (i + 0.5) * h;
  const std::vector<double> naive = naive_log_px(m, x, 100000, rng, 4096, VarD(c));  // 25 chunks, the last partial
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
        const double r = std::exp(v[i] - lme) / G;  // posterior mass of cell i
        post_mean += r * zg[i];
        post_var += r * zg[i] * zg[i];
      }
      post_var -= post_mean * post_mean;
    }
    const double prior_var = std::exp(m.prior(cn).logvar.value()[0]);
    for (int64_t j = 0; j < w.size(1); ++j) w.value_mut().at({0, j}) = w.value_mut().at({1, j}) = 0;
    b.value_mut()[0] = post_mean;
    b.value_mut()[1] = std::log(1.2 * std::max(post_var, prior_var));
    const BoundEstimates e = estimate_bounds(m, narrow(x, 0, n, 1), 20000, {1}, rng, 8192, cn);  // 3 chunks
    BOOST_TEST_MESSAGE("x" << n << ": exact " << exact << " IS " << e.log_px[0] << " naive " << naive[n] << " ELBO "
                           << e.elbo[0]);
    BOOST_TEST(std::abs(e.log_px[0] - exact) < 5e-3);
    BOOST_TEST(naive[n] == exact, tt::tolerance(2e-3));
    BOOST_TEST(e.elbo[0] <= exact);
  }
}

BOOST_AUTO_TEST_CASE(the_laplace_decoder_is_the_l1_loss_made_a_likelihood) {
  Rng rng(17);
  VAE<double> m(cvae_config(false, VaeLikelihood::Laplace), rng);
  BOOST_TEST(m.parameter("decoder_log_scale").shape() == (Shape{6}));
  const VarD x(TensorD::normal({2, 6}, 0, 1, rng)), loc(TensorD::normal({2, 6}, 0, 1, rng));
  const TensorD lp = m.log_likelihood_of_output(x, loc).value();
  for (int64_t n = 0; n < 2; ++n) {
    double want = 0;
    for (int64_t j = 0; j < 6; ++j) {
      const double b = std::exp(-0.7);  // init_logvar is log b
      want += -std::abs(x.value().at({n, j}) - loc.value().at({n, j})) / b - std::log(2 * b);
    }
    BOOST_TEST(lp[n] == want, tt::tolerance(1e-13));
  }
}

BOOST_AUTO_TEST_CASE(a_missing_or_misshapen_condition_is_an_error_naming_it) {
  Rng rng(16);
  VAE<double> cvae(cvae_config(true), rng);
  VaeConfig vc = cvae_config(false);
  vc.c_dim = 0;
  VAE<double> vae(vc, rng);
  const VarD x(binary_batch(2, 6, rng));
  BOOST_TEST(test::thrown_message([&] { cvae.encode(x); }).find("expected c:[2,4], got none") != std::string::npos);
  BOOST_TEST(test::thrown_message([&] { cvae.encode(x, VarD(TensorD::zeros({2, 3}))); }).find("expected c:[2,4], got [2,3]") !=
             std::string::npos);
  BOOST_TEST(test::thrown_message([&] { vae.encode(x, VarD(TensorD::zeros({2, 4}))); }).find("takes no condition") != std::string::npos);
  vc.learned_prior = true;
  BOOST_TEST(test::thrown_message([&] { VAE<double> bad(vc, rng); }).find("needs a condition") != std::string::npos);
}
