#define BOOST_TEST_MODULE nn_optim
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

#include "autodiff/ops.hpp"
#include "nn/optim.hpp"
#include "nn/schedule.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {

// loss = Σ a·p + ½ Σ p², so grad = a + p: the gradient changes with p, as a real loss's does.
void quadratic_backward(VarD& p, const TensorD& a) { (sum(mul(VarD(a), p)) + mul(sum(square(p)), 0.5)).backward(); }

VarD param(std::vector<double> v, const char* name) {
  VarD p(TensorD::from(v), true);
  p.set_name(name);
  return p;
}

}  // namespace

// Two steps of SGD with momentum, Nesterov and weight decay, written out from torch's rule.
BOOST_AUTO_TEST_CASE(sgd_nesterov_two_steps_by_hand) {
  const std::vector<double> p0 = {1.0, -2.0, 0.5}, a = {0.3, 0.1, -1.0};
  const double lr = 0.1, mom = 0.9, wd = 0.1;
  VarD p = param(p0, "p");
  SGD<double> opt({p}, {.lr = lr, .momentum = mom, .weight_decay = wd, .nesterov = true});
  for (int s = 0; s < 2; ++s) {
    opt.zero_grad();
    quadratic_backward(p, TensorD::from(a));
    opt.step();
  }
  for (size_t i = 0; i < 3; ++i) {
    const double d1 = (a[i] + p0[i]) + wd * p0[i];
    const double buf1 = d1;
    const double p1 = p0[i] - lr * (d1 + mom * buf1);
    const double d2 = (a[i] + p1) + wd * p1;
    const double buf2 = mom * buf1 + d2;
    const double p2 = p1 - lr * (d2 + mom * buf2);
    BOOST_TEST(p.value()[i] == p2, tt::tolerance(1e-14));
  }
  BOOST_TEST(opt.steps() == 2);
}

BOOST_AUTO_TEST_CASE(sgd_dampening_and_plain) {
  const std::vector<double> p0 = {1.0, -2.0}, a = {0.3, -1.0};
  const double lr = 0.05, mom = 0.5, damp = 0.25;
  VarD p = param(p0, "p"), q = param(p0, "q");
  SGD<double> opt({p}, {.lr = lr, .momentum = mom, .dampening = damp});
  SGD<double> plain({q}, {.lr = lr});
  for (int s = 0; s < 2; ++s) {
    opt.zero_grad();
    plain.zero_grad();
    quadratic_backward(p, TensorD::from(a));
    quadratic_backward(q, TensorD::from(a));
    opt.step();
    plain.step();
  }
  for (size_t i = 0; i < 2; ++i) {
    const double buf1 = a[i] + p0[i];  // no dampening on the first step (torch clones d)
    const double p1 = p0[i] - lr * buf1;
    const double buf2 = mom * buf1 + (1 - damp) * (a[i] + p1);
    BOOST_TEST(p.value()[i] == p1 - lr * buf2, tt::tolerance(1e-14));
    const double q1 = p0[i] - lr * (a[i] + p0[i]);
    BOOST_TEST(q.value()[i] == q1 - lr * (a[i] + q1), tt::tolerance(1e-14));
  }
  BOOST_CHECK_THROW(SGD<double>({p}, {.lr = 0.1, .nesterov = true}), std::invalid_argument);
}

// With a constant gradient g the bias-corrected moments are exactly g and g², so every Adam step
// moves each coordinate by lr·|g|/(|g|+eps) — including the first, which is what bias correction is for.
BOOST_AUTO_TEST_CASE(adam_bias_correction_constant_gradient) {
  const std::vector<double> p0 = {1.0, -2.0, 0.5, 3.0}, g = {3.0, -0.5, 1e-3, -40.0};
  const double lr = 0.01, eps = 1e-8;
  VarD p = param(p0, "p");
  Adam<double> opt({p}, {.lr = lr});
  for (int s = 1; s <= 10; ++s) {
    opt.zero_grad();
    sum(mul(VarD(TensorD::from(g)), p)).backward();
    opt.step();
    if (s == 1 || s == 10)
      for (size_t i = 0; i < 4; ++i) {
        const double step = lr * std::abs(g[i]) / (std::abs(g[i]) + eps);
        const double want = p0[i] - s * std::copysign(step, g[i]);
        BOOST_TEST(p.value()[i] == want, tt::tolerance(1e-12));
      }
  }
  // The first step has magnitude lr (up to eps/|g|), not lr·(1-b1)/sqrt(1-b2) ≈ 3.16 lr.
  // Over 10 steps that is 10·lr, short by 10·lr·eps/|g| (3.3e-10 here).
  BOOST_TEST(std::abs(p.value()[0] - (p0[0] - 10 * lr)) < 1.01 * 10 * lr * eps / g[0]);
}

// A gradient that goes to 0 and stays there (a dead ReLU unit) makes the running averages decay
// geometrically into float's subnormals, on which x86 arithmetic runs many times slower; the
// optimizers set them to 0 before that (nn/optim.cpp, flush_tiny). 67 elements: SIMD batches and
// a scalar tail. Without the flush, Adam's v here is 4e-41 (subnormal) at the last step.
BOOST_AUTO_TEST_CASE(decaying_state_never_becomes_subnormal) {
  auto run = [](auto& opt, VarF& p, int steps) {
    const int64_t n = p.numel();
    int subnormal = 0;
    for (int s = 1; s <= steps; ++s) {
      TensorF a({n});
      for (int64_t i = 0; i < n; ++i) a[i] = i % 2 ? 0.5f : (s == 1 ? 1e-10f : 0.0f);
      opt.zero_grad();
      sum(mul(VarF(a), p)).backward();
      opt.step();
      if (s % 97 == 0 || s == steps)
        for (const auto& [name, t] : opt.state_tensors())
          for (int64_t i = 0; i < t.numel(); ++i) subnormal += std::fpclassify(t[i]) == FP_SUBNORMAL;
    }
    return subnormal;
  };
  const int64_t n = 67;
  VarF p(TensorF::full({n}, 1.0f), true), q(TensorF::full({n}, 1.0f), true);
  p.set_name("p");
  q.set_name("q");
  Adam<float> adam({p}, {.lr = 1e-6});
  BOOST_TEST(run(adam, p, 40000) == 0);
  SGD<float> sgd({q}, {.lr = 1e-6, .momentum = 0.9});
  BOOST_TEST(run(sgd, q, 1000) == 0);
  for (const auto& [name, t] : adam.state_tensors()) {
    if (t.numel() != n) continue;  // the step counter
    const bool sq = name.find("exp_avg_sq") != std::string::npos;
    for (int64_t i = 0; i < n; ++i) {
      if (i % 2 == 0) BOOST_TEST(t[i] == 0.0f);  // decayed below the threshold: exactly 0
      else BOOST_TEST(t[i] == (sq ? 0.25f : 0.5f), tt::tolerance(1e-4f));  // a steady gradient: untouched
    }
  }
  for (const auto& [name, t] : sgd.state_tensors())
    for (int64_t i = 0; i < n; ++i) BOOST_TEST(t[i] == (i % 2 ? 0.5f / (1 - 0.9f) : 0.0f), tt::tolerance(1e-3f));
}

// AdamW decays the weights directly; Adam's weight decay goes through the gradient.
BOOST_AUTO_TEST_CASE(adamw_decoupled_decay) {
  const std::vector<double> p0 = {1.0, -2.0, 0.25};
  const double lr = 0.1, wd = 0.2;
  VarD pw = param(p0, "pw"), pa = param(p0, "pa");
  AdamW<double> w({pw}, {.lr = lr, .weight_decay = wd});
  Adam<double> a({pa}, {.lr = lr, .weight_decay = wd});
  BOOST_TEST(*AdamW<double>({param(p0, "x")}).options().weight_decay == 1e-2);  // torch's defaults
  BOOST_TEST(*AdamW<double>({param(p0, "x")}, {.lr = 0.5}).options().weight_decay == 1e-2);
  BOOST_TEST(*Adam<double>({param(p0, "y")}).options().weight_decay == 0.0);
  const int k = 5;
  for (int s = 0; s < k; ++s) {
    w.zero_grad();
    a.zero_grad();
    sum(mul(pw, 0.0)).backward();  // a defined, all-zero gradient
    sum(mul(pa, 0.0)).backward();
    w.step();
    a.step();
    if (s == 0)  // Adam: g = wd·p, so the first step is lr·sign(p)
      for (size_t i = 0; i < 3; ++i) {
        const double g = wd * p0[i];
        BOOST_TEST(pa.value()[i] == p0[i] - lr * g / (std::abs(g) + 1e-8), tt::tolerance(1e-13));
      }
  }
  for (size_t i = 0; i < 3; ++i) BOOST_TEST(pw.value()[i] == p0[i] * std::pow(1 - lr * wd, k), tt::tolerance(1e-14));
}

// torch skips parameters whose .grad is None, and Adam's per-parameter step count means a
// parameter that joins late gets its own first-step bias correction.
BOOST_AUTO_TEST_CASE(undefined_gradients_are_skipped) {
  VarD p = param({1.0, 2.0}, "p"), q = param({5.0}, "q");
  Adam<double> opt({p, q}, {.lr = 0.1});
  opt.zero_grad();
  sum(p).backward();
  opt.step();
  BOOST_TEST(q.value()[0] == 5.0);
  auto st = opt.state_tensors();
  BOOST_TEST_REQUIRE(st.size() == 3u);  // p's exp_avg, exp_avg_sq, step; nothing for q
  BOOST_TEST(st[0].first == "p.exp_avg");
  BOOST_TEST(st[2].first == "p.step");
  BOOST_TEST(st[2].second.item() == 1.0);
  opt.zero_grad();
  (sum(p) + sum(mul(q, 3.0))).backward();
  opt.step();
  BOOST_TEST(q.value()[0] == 5.0 - 0.1 * 3.0 / (3.0 + 1e-8), tt::tolerance(1e-13));
  st = opt.state_tensors();
  BOOST_TEST(st[5].first == "q.step");
  BOOST_TEST(st[5].second.item() == 1.0);
  BOOST_TEST(st[2].second.item() == 2.0);
  BOOST_TEST(opt.steps() == 2);
}

BOOST_AUTO_TEST_CASE(optimizer_construction_errors) {
  VarD p = param({1.0}, "p");
  BOOST_CHECK_THROW(Adam<double>({p, p}), std::invalid_argument);
  BOOST_CHECK_THROW(Adam<double>({VarD(TensorD::ones({2}), false)}), std::invalid_argument);
  BOOST_CHECK_THROW(Adam<double>({p}, {.beta1 = 1.0}), std::invalid_argument);
  BOOST_CHECK_THROW(SGD<double>({p}, {.lr = -1}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_global) {
  VarD a = param({0, 0}, "a"), b = param({0}, "b"), c = param({1}, "c");
  // grads: a = [3,4], b = [12]; c has none. Global norm 13.
  (sum(mul(VarD(TensorD::from({3.0, 4.0})), a)) + sum(mul(b, 12.0))).backward();
  const double n = clip_grad_norm<double>({a, b, c}, 100.0);
  BOOST_TEST(n == 13.0, tt::tolerance(1e-15));
  BOOST_TEST(a.grad()[0] == 3.0);  // below max_norm: untouched
  const double n2 = clip_grad_norm<double>({a, b, c}, 6.5);
  BOOST_TEST(n2 == 13.0, tt::tolerance(1e-15));
  const double coef = 6.5 / (13.0 + 1e-6);
  BOOST_TEST(a.grad()[1] == 4.0 * coef, tt::tolerance(1e-15));
  BOOST_TEST(b.grad()[0] == 12.0 * coef, tt::tolerance(1e-15));
  BOOST_TEST(!c.grad().defined());
  const double after = std::sqrt(a.grad()[0] * a.grad()[0] + a.grad()[1] * a.grad()[1] + b.grad()[0] * b.grad()[0]);
  BOOST_TEST(after == 6.5, tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(schedules) {
  StepLR st(0.1, 3, 0.5);
  BOOST_TEST(st(0) == 0.1);
  BOOST_TEST(st(2) == 0.1);
  BOOST_TEST(st(3) == 0.05, tt::tolerance(1e-15));
  BOOST_TEST(st(6) == 0.025, tt::tolerance(1e-15));
  CosineAnnealingLR cos(1.0, 10, 0.1);
  BOOST_TEST(cos(0) == 1.0);
  BOOST_TEST(cos(5) == 0.55, tt::tolerance(1e-14));
  BOOST_TEST(cos(10) == 0.1, tt::tolerance(1e-14));
  BOOST_TEST(cos(15) == 0.55, tt::tolerance(1e-14));  // periodic, as torch's closed form
  // t = 2.5 of 10: (1 + cos(π/4))/2
  CosineAnnealingLR c2(2.0, 4, 0.0);
  BOOST_TEST(c2(1) == 2.0 * (1 + std::sqrt(0.5)) / 2, tt::tolerance(1e-14));
  CosineAnnealingLR warm(1.0, 10, 0.0, 4);
  BOOST_TEST(warm(0) == 0.25);
  BOOST_TEST(warm(3) == 1.0);
  BOOST_TEST(warm(4) == 1.0);  // the schedule's own step 0
  BOOST_TEST(warm(9) == 0.5, tt::tolerance(1e-14));
  BOOST_CHECK_THROW(StepLR(0.1, 0), std::invalid_argument);
  BOOST_CHECK_THROW(cos(-1), std::invalid_argument);
}
