// The mixture-density network: its loss gradchecked in every network parameter (double), its
// density against the mixture written out by hand from the network's weights, and a short
// training run on Bishop's inverted sine where the MDN beats the same network with M = 1 (the
// unimodal regression) by many standard errors of the paired difference.
#define BOOST_TEST_MODULE mdn
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "autodiff/gradcheck.hpp"
#include "models/evaluate.hpp"
#include "models/mdn.hpp"
#include "nn/optim.hpp"
#include "thrown.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {

constexpr double kPi = std::numbers::pi;

double normal_pdf(double x, double mu, double sd) {
  const double z = (x - mu) / sd;
  return std::exp(-0.5 * z * z) / (sd * std::sqrt(2 * kPi));
}

// lz::gradcheck perturbs the Vars it hands to f, but a module owns its parameters. So f writes its
// inputs' values into the parameters and evaluates the module's loss; on the analytic pass (inputs
// requiring a gradient) it returns loss.detach() + Σ_k <v_k − v_k.detach(), ∂loss/∂θ_k> with
// ∂loss/∂θ_k from the module's own backward(): the value is the loss, the gradient in v_k is the
// module's gradient, and gradcheck holds that against central differences of the loss.
GradcheckResult gradcheck_parameters(Module<double>& m, const std::function<VarD()>& loss, const std::string& op) {
  std::vector<VarD> params = m.parameters();
  std::vector<TensorD> start;
  for (const VarD& p : params) start.push_back(p.value().clone());
  const auto f = [&](const std::vector<VarD>& v) {
    for (size_t k = 0; k < params.size(); ++k)
      std::copy(v[k].value().data(), v[k].value().data() + v[k].numel(), params[k].value_mut().data());
    if (!v[0].requires_grad()) return loss();
    m.zero_grad();
    const VarD l = loss();
    l.backward();
    VarD out = l.detach();
    for (size_t k = 0; k < params.size(); ++k) {
      BOOST_REQUIRE_MESSAGE(params[k].grad().defined(), m.named_parameters()[k].first << " received no gradient");
      out = add(out, sum(mul(sub(v[k], v[k].detach()), VarD(params[k].grad().clone()))));
    }
    return out;
  };
  const GradcheckResult r = gradcheck(f, start, op);
  for (size_t k = 0; k < params.size(); ++k) std::copy(start[k].data(), start[k].data() + start[k].numel(), params[k].value_mut().data());
  m.zero_grad();
  return r;
}

// Bishop's inverted sine, as datasets/toy.hpp's inverted_sine draws it (not linked here: tests/models
// sees models/ and below): y ~ U(0, 1), x = y + 0.3 sin 2πy + U(−0.1, 0.1).
void inverted_sine(int64_t n, Rng& rng, TensorF& x, TensorF& y) {
  x = TensorF({n, 1}), y = TensorF({n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const double t = rng.uniform();
    y[i] = static_cast<float>(t);
    x[i] = static_cast<float>(t + 0.3 * std::sin(2 * kPi * t) + rng.uniform(-0.1, 0.1));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(loss_gradcheck_in_every_network_parameter) {
  for (int64_t M : {1, 3})
    for (double floor : {0.0, 0.05}) {
      BOOST_TEST_CONTEXT("M = " << M << ", min_scale " << floor) {
        Rng rng(11);
        MDN<double> mdn({.condition_dim = 2, .target_dim = 2, .components = M, .hidden = {4}, .activation = "tanh",
                         .min_scale = floor},
                        rng);
        const VarD c(TensorD::normal({5, 2}, 0, 1, rng)), y(TensorD::normal({5, 2}, 0, 1, rng));
        const GradcheckResult r = gradcheck_parameters(mdn, [&] { return mdn.loss(c, y); }, "MDN::loss");
        BOOST_TEST(r.ok, r.message);
        BOOST_TEST(r.checks == mdn.num_parameters());
      }
    }
  // And in its inputs: the condition c and the target y, through two hidden layers.
  Rng rng(12);
  MDN<double> mdn({.condition_dim = 2, .target_dim = 1, .components = 2, .hidden = {3, 3}, .activation = "tanh",
                   .min_scale = 0.01},
                  rng);
  const GradcheckResult r = gradcheck([&](const std::vector<VarD>& v) { return mdn.log_prob(v[0], v[1]); },
                                      {TensorD::normal({4, 2}, 0, 1, rng), TensorD::normal({4, 1}, 0, 1, rng)},
                                      "MDN::log_prob(c, y)");
  BOOST_TEST(r.ok, r.message);
}

BOOST_AUTO_TEST_CASE(density_is_the_mixture_written_out_from_the_weights) {
  // M = 2, one input, one target, hidden {2}: h = tanh(W1 c + b1), out = W2 h + b2 = [logit_1, logit_2,
  // μ_1, μ_2, s_1, s_2], σ_m = floor + exp(s_m). Every weight set by hand.
  const double floor = 0.02;
  Rng rng(13);
  MDN<double> mdn({.condition_dim = 1, .target_dim = 1, .components = 2, .hidden = {2}, .activation = "tanh",
                   .min_scale = floor},
                  rng);
  const std::vector<double> W1{1.0, -0.5}, b1{0.2, 0.1};
  const std::vector<double> W2{0.3, -0.2,  /* logits */ -0.4, 0.6,  //
                               1.5, 0.0,   /* means */ 0.2, -1.0,   //
                               -0.3, 0.4,  /* log-scales */ 0.5, 0.1};
  const std::vector<double> b2{0.1, -0.2, 0.0, 0.7, -1.0, -0.5};
  mdn.parameter("net.fc1.weight").value_mut() = TensorD::from(W1, {2, 1});
  mdn.parameter("net.fc1.bias").value_mut() = TensorD::from(b1, {2});
  mdn.parameter("net.fc2.weight").value_mut() = TensorD::from(W2, {6, 2});
  mdn.parameter("net.fc2.bias").value_mut() = TensorD::from(b2, {6});

  const std::vector<double> cs{-1.5, -0.2, 0.0, 0.4, 2.0}, ys{0.3, -2.0, 0.0, 1.2, 5.0};
  const std::vector<double> lp = mdn.log_prob_values(TensorD::from(cs, {5, 1}), TensorD::from(ys, {5, 1}));
  const TensorD mean = mdn.mean(TensorD::from(cs, {5, 1})), mode = mdn.mode_mean(TensorD::from(cs, {5, 1}));
  const std::vector<int64_t> labels{0, 1, 1, 0, 1};
  double want_labelled = 0;
  int mode_picks[2] = {0, 0};
  for (size_t i = 0; i < cs.size(); ++i) {
    const double h1 = std::tanh(W1[0] * cs[i] + b1[0]), h2 = std::tanh(W1[1] * cs[i] + b1[1]);
    double o[6];
    for (int j = 0; j < 6; ++j) o[j] = W2[2 * j] * h1 + W2[2 * j + 1] * h2 + b2[j];
    const double z = std::exp(o[0]) + std::exp(o[1]), pi1 = std::exp(o[0]) / z, pi2 = std::exp(o[1]) / z;
    const double s1 = floor + std::exp(o[4]), s2 = floor + std::exp(o[5]);
    const double p = pi1 * normal_pdf(ys[i], o[2], s1) + pi2 * normal_pdf(ys[i], o[3], s2);
    BOOST_TEST_CONTEXT("c = " << cs[i] << ", y = " << ys[i]) {
      BOOST_TEST(lp[i] == std::log(p), tt::tolerance(1e-12));
      BOOST_TEST(mean[static_cast<int64_t>(i)] == pi1 * o[2] + pi2 * o[3], tt::tolerance(1e-12));
      // The deterministic action: the mean of the more probable component, not the average.
      BOOST_TEST(mode[static_cast<int64_t>(i)] == (pi1 >= pi2 ? o[2] : o[3]), tt::tolerance(1e-12));
    }
    ++mode_picks[pi1 >= pi2 ? 0 : 1];
    want_labelled -= (labels[i] == 0 ? std::log(pi1 * normal_pdf(ys[i], o[2], s1)) : std::log(pi2 * normal_pdf(ys[i], o[3], s2))) / 5;
  }
  // The weights make each component the more probable one somewhere, so mode_mean is held to both.
  BOOST_TEST(mode_picks[0] > 0);
  BOOST_TEST(mode_picks[1] > 0);
  // The complete-data loss scores each row by its labelled component alone.
  BOOST_TEST(mdn.labelled_loss(VarD(TensorD::from(cs, {5, 1})), VarD(TensorD::from(ys, {5, 1})), labels).item() ==
                 want_labelled,
             tt::tolerance(1e-12));
  // The loss is the mean negative log-density of the rows.
  double want = 0;
  for (double v : lp) want -= v / 5;
  BOOST_TEST(mdn.loss(VarD(TensorD::from(cs, {5, 1})), VarD(TensorD::from(ys, {5, 1}))).item() == want, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(low_rank_loss_gradcheck_in_every_network_parameter_and_input) {
  for (int64_t R : {1, 2})
    for (int64_t M : {1, 2}) {
      BOOST_TEST_CONTEXT("rank " << R << ", M = " << M) {
        Rng rng(31);
        MDN<double> mdn({.condition_dim = 2, .target_dim = 3, .components = M, .hidden = {4}, .activation = "tanh",
                         .min_scale = 0.05, .rank = R},
                        rng);
        const VarD c(TensorD::normal({5, 2}, 0, 1, rng)), y(TensorD::normal({5, 3}, 0, 1, rng));
        const GradcheckResult r = gradcheck_parameters(mdn, [&] { return mdn.loss(c, y); }, "MDN::loss (low rank)");
        BOOST_TEST(r.ok, r.message);
        BOOST_TEST(r.checks == mdn.num_parameters());
        const GradcheckResult ri = gradcheck([&](const std::vector<VarD>& v) { return mdn.log_prob(v[0], v[1]); },
                                             {c.value().clone(), y.value().clone()}, "MDN::log_prob(c, y) (low rank)");
        BOOST_TEST(ri.ok, ri.message);
      }
    }
}

// log N(y; μ, diag(σ²) + V Vᵀ) with Σ formed densely and factored by Cholesky, against the MDN's
// Woodbury form; and the sample covariance of many draws against the same Σ.
BOOST_AUTO_TEST_CASE(low_rank_density_and_samples_are_those_of_the_dense_covariance) {
  const int64_t C = 2, D = 3, M = 2;
  for (int64_t R : {1, 2}) {
    BOOST_TEST_CONTEXT("rank " << R) {
      Rng rng(32);
      MDN<double> mdn({.condition_dim = C, .target_dim = D, .components = M, .hidden = {5}, .activation = "tanh",
                       .min_scale = 0.01, .rank = R},
                      rng);
      // Factors of order 1 (the constructor starts them near 0), so they matter in the comparison.
      VarD w2 = mdn.parameter("net.fc2.weight");
      VarD b2 = mdn.parameter("net.fc2.bias");
      w2.value_mut() = TensorD::normal(w2.shape(), 0, 0.7, rng);
      b2.value_mut() = TensorD::normal(b2.shape(), 0, 0.7, rng);
      const TensorD c = TensorD::normal({4, C}, 0, 1, rng), y = TensorD::normal({4, D}, 0, 1, rng);
      const TensorD out = mdn.net().forward(VarD(c)).value();  // [logits M | means MD | log-scales MD | factors MRD]
      const int64_t width = out.size(1);
      const TensorD lp = mdn.component_log_prob(VarD(c), VarD(y)).value();
      auto dense = [&](int64_t n, int64_t m, double* S, double* mu, double& log_pi) {
        const double* o = out.data() + n * width;
        const double z = std::log(std::exp(o[0]) + std::exp(o[1]));
        log_pi = o[m] - z;
        for (int64_t i = 0; i < D; ++i) mu[i] = o[M + m * D + i];
        auto sd = [&](int64_t i) { return 0.01 + std::exp(o[M + M * D + m * D + i]); };
        for (int64_t i = 0; i < D; ++i) {
          for (int64_t j = 0; j < D; ++j) {  // V = σ ⊙ W
            double v = 0;
            for (int64_t r = 0; r < R; ++r)
              v += sd(i) * o[M + 2 * M * D + (m * R + r) * D + i] * sd(j) * o[M + 2 * M * D + (m * R + r) * D + j];
            S[i * D + j] = v;
          }
          S[i * D + i] += sd(i) * sd(i);
        }
      };
      for (int64_t n = 0; n < 4; ++n)
        for (int64_t m = 0; m < M; ++m) {
          double S[9], mu[3], L[9] = {0}, log_pi = 0;
          dense(n, m, S, mu, log_pi);
          for (int64_t j = 0; j < D; ++j) {  // Cholesky S = L Lᵀ
            double d = S[j * D + j];
            for (int64_t k = 0; k < j; ++k) d -= L[j * D + k] * L[j * D + k];
            L[j * D + j] = std::sqrt(d);
            for (int64_t i = j + 1; i < D; ++i) {
              double t = S[i * D + j];
              for (int64_t k = 0; k < j; ++k) t -= L[i * D + k] * L[j * D + k];
              L[i * D + j] = t / L[j * D + j];
            }
          }
          double zz = 0, logdet = 0, z[3];
          for (int64_t i = 0; i < D; ++i) {
            double t = y[n * D + i] - mu[i];
            for (int64_t k = 0; k < i; ++k) t -= L[i * D + k] * z[k];
            z[i] = t / L[i * D + i];
            zz += z[i] * z[i];
            logdet += 2 * std::log(L[i * D + i]);
          }
          BOOST_TEST(lp[n * M + m] == log_pi - 0.5 * (D * std::log(2 * kPi) + logdet + zz), tt::tolerance(1e-10));
        }
      // Samples of row 0: their mean and covariance are the mixture's.
      const int64_t S_draws = 200000;
      const TensorD draws = mdn.sample(narrow(c, 0, 0, 1), S_draws, rng);  // [S, 1, D]
      double want_mean[3] = {0}, want_second[9] = {0};
      for (int64_t m = 0; m < M; ++m) {
        double S[9], mu[3], log_pi = 0;
        dense(0, m, S, mu, log_pi);
        for (int64_t i = 0; i < D; ++i) {
          want_mean[i] += std::exp(log_pi) * mu[i];
          for (int64_t j = 0; j < D; ++j) want_second[i * D + j] += std::exp(log_pi) * (S[i * D + j] + mu[i] * mu[j]);
        }
      }
      const TensorD mixture_mean = mdn.mean(narrow(c, 0, 0, 1));
      for (int64_t i = 0; i < D; ++i) {
        BOOST_TEST(mixture_mean[i] == want_mean[i], tt::tolerance(1e-10));
        double m1 = 0;
        for (int64_t s = 0; s < S_draws; ++s) m1 += draws[s * D + i] / S_draws;
        // Five standard errors of the draws' mean (variance second_ii − mean²), and of their second
        // moments (bounded by √(3 E[x_i²] E[x_j²] / S) for Gaussian components).
        BOOST_TEST(std::fabs(m1 - want_mean[i]) < 5 * std::sqrt((want_second[i * D + i] - want_mean[i] * want_mean[i]) / S_draws));
        for (int64_t j = 0; j < D; ++j) {
          double m2 = 0;
          for (int64_t s = 0; s < S_draws; ++s) m2 += draws[s * D + i] * draws[s * D + j] / S_draws;
          BOOST_TEST(std::fabs(m2 - want_second[i * D + j]) <
                     5 * std::sqrt(3 * want_second[i * D + i] * want_second[j * D + j] / S_draws));
        }
      }
    }
  }
  Rng rng(33);
  BOOST_TEST(lz::test::thrown_message([&] { MDN<double>({.rank = 3}, rng); }).find("rank must be 0, 1 or 2, got 3") !=
             std::string::npos);
  MDN<double> lr({.condition_dim = 1, .target_dim = 2, .components = 2, .hidden = {3}, .rank = 1}, rng);
  BOOST_TEST(lz::test::thrown_message([&] { lr.distribution(VarD(TensorD({2, 1}))); }).find("is not diagonal") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(labelled_loss_gradcheck_in_every_network_parameter) {
  Rng rng(21);
  MDN<double> mdn({.condition_dim = 2, .target_dim = 3, .components = 3, .hidden = {4}, .activation = "tanh", .min_scale = 0.01},
                  rng);
  const VarD c(TensorD::normal({6, 2}, 0, 1, rng)), y(TensorD::normal({6, 3}, 0, 1, rng));
  const std::vector<int64_t> k{0, 2, 1, 1, 0, 2};
  const GradcheckResult r = gradcheck_parameters(mdn, [&] { return mdn.labelled_loss(c, y, k); }, "MDN::labelled_loss");
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checks == mdn.num_parameters());
}

// Two modes in 20 dimensions that differ by ±a·v on top of a linear function of c much larger
// than the gap (the action chunks' situation: start and goal move the chunk more than the side).
// mode_labels finds the sides (up to the components' order) from the residuals of the linear
// fit; the mixture fitted to y itself splits along c instead.
BOOST_AUTO_TEST_CASE(mode_labels_find_the_modes_in_the_residuals_of_a_linear_fit) {
  const int64_t N = 2000, C = 3, D = 20;
  Rng rng(22);
  TensorF c({N, C}), y({N, D});
  std::vector<int> side(N);
  const TensorF A = TensorF::normal({D, C}, 0, 1, rng);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t j = 0; j < C; ++j) c[n * C + j] = static_cast<float>(rng.normal());
    side[n] = rng.uniform() < 0.3 ? 1 : -1;
    for (int64_t d = 0; d < D; ++d) {
      double v = 0.5 + 0.1 * side[n] * (d < D / 2 ? 1 : -1) + 0.01 * rng.normal();
      for (int64_t j = 0; j < C; ++j) v += A[d * C + j] * c[n * C + j];
      y[n * D + d] = static_cast<float>(v);
    }
  }
  MDN<float> mdn({.condition_dim = C, .target_dim = D, .components = 2, .hidden = {8}}, rng);
  auto agreement = [&](const std::vector<int64_t>& k) {  // the share of rows on which label and side agree, best over the order
    BOOST_REQUIRE_EQUAL(k.size(), static_cast<size_t>(N));
    int64_t same = 0;
    for (int64_t n = 0; n < N; ++n) same += (k[n] == 0) == (side[n] > 0);
    return std::max(same, N - same) / static_cast<double>(N);
  };
  Rng a(23), b(23);
  const double with = agreement(mdn.mode_labels(c, y, a)), without = agreement(mdn.mode_labels(c, y, b, {.residuals = false}));
  BOOST_TEST_MESSAGE("label-side agreement: " << with << " from the residuals, " << without << " from y itself");
  BOOST_TEST(with > 0.99);
  BOOST_TEST(without < 0.8);
  // M = 1: every row is the one component's, nothing fitted.
  MDN<float> one({.condition_dim = C, .target_dim = D, .components = 1, .hidden = {8}}, rng);
  const std::vector<int64_t> zeros = one.mode_labels(c, y, a);
  BOOST_TEST(std::count(zeros.begin(), zeros.end(), 0) == N);
  // Bad input is named.
  BOOST_TEST(lz::test::thrown_message([&] { mdn.mode_labels(TensorF({1, C}), TensorF({1, D}), a); }).find("N >= M = 2") !=
             std::string::npos);
  BOOST_TEST(lz::test::thrown_message([&] { mdn.mode_labels(c, TensorF({N, D + 1}), a); }).find("y:[N,20]") !=
             std::string::npos);
  BOOST_TEST(lz::test::thrown_message([&] { mdn.labelled_loss(VarF(TensorF({2, C})), VarF(TensorF({2, D})), {0, 2}); })
                 .find("label 2 of row 1 is not a component in [0, 2)") != std::string::npos);
  BOOST_TEST(lz::test::thrown_message([&] { mdn.labelled_loss(VarF(TensorF({2, C})), VarF(TensorF({2, D})), {0}); })
                 .find("one label per row of c (2)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(config_and_shape_errors_are_named) {
  Rng rng(14);
  BOOST_TEST(lz::test::thrown_message([&] { MDN<double>({.components = 0}, rng); }).find("components (M) must be >= 1, got 0") !=
             std::string::npos);
  BOOST_TEST(lz::test::thrown_message([&] { MDN<double>({.hidden = {8, 0}}, rng); }).find("hidden") != std::string::npos);
  BOOST_TEST(lz::test::thrown_message([&] { MDN<double>({.min_scale = -1}, rng); }).find("min_scale") != std::string::npos);
  BOOST_TEST(lz::test::thrown_message([&] { MDN<double>({.logit_scale = 0}, rng); }).find("logit_scale must be finite and > 0") !=
             std::string::npos);
  MDN<double> mdn({.condition_dim = 2, .target_dim = 1, .components = 2, .hidden = {3}}, rng);
  BOOST_TEST(lz::test::thrown_message([&] { mdn.loss(VarD(TensorD({4, 3})), VarD(TensorD({4, 1}))); }).find("expected c:[N,2], got [4,3]") !=
             std::string::npos);
  BOOST_TEST(lz::test::thrown_message([&] { mdn.loss(VarD(TensorD({4, 2})), VarD(TensorD({3, 1}))); }).find("expected y:[4,1]") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(on_the_inverted_sine_the_mixture_beats_the_unimodal_regression) {
  // Bishop's setting, shortened: 1000 points, 20 tanh units, M = 5 against M = 1, the same
  // minibatches for both; each epoch's order from one seeded generator.
  Rng data(15);
  TensorF x, y, tx, ty;
  inverted_sine(1000, data, x, y);
  inverted_sine(1000, data, tx, ty);
  Rng rng(16);
  MDN<float> mdn({.components = 5, .hidden = {20}}, rng), uni({.components = 1, .hidden = {20}}, rng);
  Adam<float> a(mdn, {.lr = 1e-2}), b(uni, {.lr = 1e-2});
  const int64_t batch = 50;
  for (int epoch = 0; epoch < 40; ++epoch)
    for (int64_t s = 0; s < 1000; s += batch) {
      const std::vector<int64_t> rows = [&] {
        std::vector<int64_t> r;
        for (int64_t i = 0; i < batch; ++i) r.push_back(static_cast<int64_t>(rng.below(1000)));
        return r;
      }();
      const VarF c(index_select(VarF(x), rows).value()), t(index_select(VarF(y), rows).value());
      for (auto [m, opt] : {std::pair<MDN<float>*, Adam<float>*>{&mdn, &a}, {&uni, &b}}) {
        opt->zero_grad();
        m->loss(c, t).backward();
        opt->step();
      }
    }
  std::vector<double> nm = mdn.log_prob_values(tx, ty), nu = uni.log_prob_values(tx, ty), d(nm.size());
  for (size_t i = 0; i < nm.size(); ++i) nm[i] = -nm[i], nu[i] = -nu[i], d[i] = nu[i] - nm[i];
  const MeanEstimate em = estimate_mean(nm), eu = estimate_mean(nu), ed = estimate_mean(d);
  BOOST_TEST_MESSAGE("test NLL: MDN " << em.mean << " ± " << em.se << ", unimodal " << eu.mean << " ± " << eu.se
                                      << ", unimodal − MDN " << ed.mean << " ± " << ed.se);
  // The unimodal model can do no better than a Gaussian of the conditional's mean and variance;
  // a 5-component mixture gets much closer to the three-branched truth.
  BOOST_TEST(ed.mean > 10 * ed.se);
  BOOST_TEST(ed.mean > 0.3);
}
