// The engine itself: graph walking, accumulation, freeing, NoGrad, the misuse errors,
// and gradcheck checked against deliberately wrong VJPs.
#define BOOST_TEST_MODULE autodiff_engine
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <regex>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
// The message's "analytic <a> vs numeric <n>" as numbers.
std::pair<double, double> analytic_numeric(const std::string& msg) {
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(msg, m, std::regex(R"(analytic (\S+) vs numeric (\S+))")));
  return {std::stod(m[1]), std::stod(m[2])};
}

template <typename F>
void require_autodiff_error(F f, const std::string& must_contain) {
  try {
    f();
    BOOST_ERROR("expected an AutodiffError containing '" << must_contain << "'");
  } catch (const AutodiffError& e) {
    BOOST_TEST(std::string(e.what()).find(must_contain) != std::string::npos,
               "message '" << e.what() << "' lacks '" << must_contain << "'");
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(chain_of_10000_ops) {
  // y = ((x c + d) c + d) ... 5000 times = 10,000 ops;  dy/dx = c^5000
  const double c = 1.0001, d = 0.001;
  VarD x(TensorD::from({0.5, -0.25}), true);
  VarD y = x;
  for (int i = 0; i < 5000; ++i) y = y * c + d;
  sum(y).backward();  // a recursive walk would need 10,000 frames
  const double cn = std::pow(c, 5000);
  for (int64_t i = 0; i < 2; ++i) {
    BOOST_TEST(x.grad()[i] == cn, tt::tolerance(1e-12));
    BOOST_TEST(y.value()[i] == x.value()[i] * cn + d * (cn - 1) / (c - 1), tt::tolerance(1e-10));
  }
}

BOOST_AUTO_TEST_CASE(long_graph_dropped_without_backward) {
  // Dropping a 200,000-node graph must not recurse through its nodes' destructors.
  VarD x(TensorD::scalar(1.0), true);
  VarD y = x;
  for (int i = 0; i < 200000; ++i) y = y + 1.0;
  BOOST_TEST(y.item() == 200001.0);
  y = VarD();
  BOOST_TEST(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(value_used_twice_gets_both_contributions) {
  VarD x(TensorD::from({0.3, -1.1, 2.0}), true);
  sum(x * x + x).backward();  // the same node as both inputs of mul, and again in add
  for (int64_t i = 0; i < 3; ++i) BOOST_TEST(x.grad()[i] == 2 * x.value()[i] + 1, tt::tolerance(1e-15));

  VarD z(TensorD::from({0.7, -0.2}), true);
  VarD a = exp(z);
  sum(a * 2.0 + a).backward();  // an intermediate with two consumers
  for (int64_t i = 0; i < 2; ++i) BOOST_TEST(z.grad()[i] == 3 * std::exp(z.value()[i]), tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(gradients_accumulate_across_backwards_until_zero_grad) {
  VarD w(TensorD::from({1.5, -2.0}), true);
  sum(w * 3.0).backward();
  sum(square(w)).backward();  // a second, separate graph on the same leaf adds to its gradient
  BOOST_TEST(w.grad()[0] == 3 + 2 * 1.5);
  BOOST_TEST(w.grad()[1] == 3 - 4.0);
  w.zero_grad();
  BOOST_TEST(!w.grad().defined());
  sum(w).backward();
  BOOST_TEST(w.grad()[1] == 1.0);
}

BOOST_AUTO_TEST_CASE(broadcast_gradient_is_summed_back) {
  VarD x(TensorD::ones({4, 3}), true), b(TensorD::from({1.0, 2.0, 3.0}), true), c(TensorD::from({5.0, 6.0, 7.0, 8.0}, {4, 1}), true);
  sum((x + b) * c).backward();
  BOOST_TEST(b.grad().shape() == (Shape{3}));
  for (int64_t j = 0; j < 3; ++j) BOOST_TEST(b.grad()[j] == 26.0);  // Σ_i c_i
  BOOST_TEST(c.grad().shape() == (Shape{4, 1}));
  for (int64_t i = 0; i < 4; ++i) BOOST_TEST(c.grad()[i] == 3.0 + 6.0);  // Σ_j (1 + b_j)
}

BOOST_AUTO_TEST_CASE(backward_on_non_scalar_without_seed_throws) {
  VarD x(TensorD::ones({2, 3}), true);
  VarD y = tanh(x);
  require_autodiff_error([&] { y.backward(); }, "output of 'tanh' has shape [2,3], not a scalar");
  require_autodiff_error([&] { y.backward(TensorD::ones({3, 2})); }, "seed gradient of shape [3,2]");
  y.backward(TensorD::ones({2, 3}));  // with a seed it works
  BOOST_TEST(x.grad()[0] == 1 - std::pow(std::tanh(1.0), 2), tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(second_backward_through_freed_graph_throws) {
  VarD x(TensorD::from({1.0, 2.0}), true);
  VarD h = exp(x);
  VarD loss = sum(h * h);
  loss.backward();
  require_autodiff_error([&] { loss.backward(); }, "already freed");
  // A new graph reusing a freed intermediate also reaches the freed part and says so.
  VarD again = sum(h);
  require_autodiff_error([&] { again.backward(); }, "already freed");
}

BOOST_AUTO_TEST_CASE(nograd_records_nothing) {
  VarD x(TensorD::from({1.0, 2.0}), true);
  {
    NoGrad ng;
    VarD y = sum(exp(x) * x);
    BOOST_TEST(!y.requires_grad());
    BOOST_TEST(y.node()->inputs.empty());
    BOOST_TEST(!static_cast<bool>(y.node()->vjp));
    require_autodiff_error([&] { y.backward(); }, "does not require a gradient");
    {
      NoGrad nested;
    }
    BOOST_TEST(NoGrad::active());  // a nested guard restores, not clears
  }
  BOOST_TEST(!NoGrad::active());
  VarD z = sum(x);
  BOOST_TEST(z.requires_grad());
  BOOST_TEST(z.node()->inputs.size() == 1u);
}

BOOST_AUTO_TEST_CASE(inputs_without_grad_get_none_and_are_skipped) {
  VarD w(TensorD::from({2.0}), true), c(TensorD::from({3.0}), false);
  sum(w * c).backward();
  BOOST_TEST(w.grad()[0] == 3.0);
  BOOST_TEST(!c.grad().defined());
}

namespace {
// d x²/dx is 2x; this VJP says x.
VarD bad_square(const VarD& a) {
  const TensorD av = a.value();
  return VarD::record(lz::mul(av, av), {a}, "bad_square",
                      [av](const TensorD& g, GradSink<double>& s) { s.add(0, lz::mul(g, av)); });
}
// a * b whose VJP for b is wrong at a single element (flat index 5).
VarD bad_mul(const VarD& a, const VarD& b) {
  const TensorD av = a.value(), bv = b.value();
  return VarD::record(lz::mul(av, bv), {a, b}, "bad_mul", [av, bv](const TensorD& g, GradSink<double>& s) {
    s.add(0, lz::mul(g, bv));
    TensorD gb = lz::mul(g, av);
    gb[5] += 0.5;
    s.add(1, gb);
  });
}
}  // namespace

namespace {
// a:[M,N] -> 2a, whose VJP returns the gradient transposed, [N,M]: the element count is right.
VarD transposed_vjp(const VarD& a) {
  const auto twice = [](auto v) { return v + v; };
  return VarD::record(lz::map(a.value(), twice), {a}, "transposed_double",
                      [twice](const TensorD& g, GradSink<double>& s) { s.add(0, lz::transpose(lz::map(g, twice))); });
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_gradient_of_the_wrong_shape_is_an_error_naming_op_and_shapes) {
  VarD a(TensorD::from({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  require_autodiff_error([&] { sum(transposed_vjp(a)).backward(); },
                         "the VJP of 'transposed_double' returned a gradient of shape [3,2] for its input 0 of shape [2,3]");
  // A square input would be transposed silently by any shape rule; a broadcast gradient is still summed back.
  VarD b(TensorD::from({1.0, 2.0, 3.0}, {1, 3}), true);
  sum(b * VarD(TensorD::ones({4, 3}))).backward();
  BOOST_TEST(b.grad().shape() == Shape({1, 3}));
  BOOST_TEST(b.grad()[2] == 4.0);
}

BOOST_AUTO_TEST_CASE(backward_from_a_leaf_seeds_its_gradient) {
  VarD x(TensorD::from({1.0, 2.0}), true);
  x.backward(TensorD::from({3.0, 4.0}));
  x.backward(TensorD::from({1.0, 1.0}));
  BOOST_TEST(x.grad()[0] == 4.0);
  BOOST_TEST(x.grad()[1] == 5.0);
  sum(x * x).backward();  // the leaf is still usable in a graph afterwards
  BOOST_TEST(x.grad()[1] == 9.0);
}

BOOST_AUTO_TEST_CASE(gradcheck_catches_a_wrong_vjp) {
  const TensorD x = TensorD::from({1.5, -0.5, 2.0});
  const GradcheckResult r = gradcheck([](const std::vector<VarD>& v) { return sum(bad_square(v[0])); }, {x}, "bad_square");
  BOOST_TEST(!r.ok);
  BOOST_TEST_MESSAGE("caught: " << r.message);
  BOOST_TEST(r.message.find("gradcheck failed for 'bad_square'") != std::string::npos, r.message);
  BOOST_TEST(r.message.find("input 0 (shape [3])") != std::string::npos, r.message);
  BOOST_TEST(r.message.find("element [0]") != std::string::npos, r.message);
  const auto [analytic, numeric] = analytic_numeric(r.message);
  BOOST_TEST(analytic == 1.5, tt::tolerance(1e-9));  // what the wrong VJP says: x
  BOOST_TEST(numeric == 3.0, tt::tolerance(1e-6));   // the truth: 2x

  // The op name defaults to the output node's, and a wrong element deep in a second input is located.
  Rng rng(3);
  const GradcheckResult r2 = gradcheck([](const std::vector<VarD>& v) { return bad_mul(v[0], v[1]); },
                                       {TensorD::normal({2, 4}, 0, 1, rng), TensorD::normal({2, 4}, 0, 1, rng)});
  BOOST_TEST(!r2.ok);
  BOOST_TEST(r2.message.find("'bad_mul'") != std::string::npos, r2.message);
  BOOST_TEST(r2.message.find("input 1 (shape [2,4]) element [1,1]") != std::string::npos, r2.message);
  const auto [a2, n2] = analytic_numeric(r2.message);
  BOOST_TEST(std::abs(a2 - n2) > 0.1);  // the injected error shows (scaled by the random seed vector)

  // The same correct op passes.
  BOOST_TEST(gradcheck([](const std::vector<VarD>& v) { return sum(square(v[0])); }, {x}).ok);
}

BOOST_AUTO_TEST_CASE(gradcheck_directional_mode_for_large_inputs) {
  Rng rng(4);
  const TensorD big = TensorD::normal({101, 100}, 0, 1, rng);  // 10,100 elements > max_elementwise
  const GradcheckResult ok = gradcheck([](const std::vector<VarD>& v) { return sum(tanh(v[0])); }, {big});
  BOOST_TEST(ok.ok, ok.message);
  BOOST_TEST(ok.checks == 8);  // one per random direction
  const GradcheckResult bad = gradcheck([](const std::vector<VarD>& v) { return sum(bad_square(v[0])); }, {big});
  BOOST_TEST(!bad.ok);
  BOOST_TEST(bad.message.find("random direction 0") != std::string::npos, bad.message);
}

BOOST_AUTO_TEST_CASE(float_matches_double) {
  // The float instantiations (other SIMD width, other xsimd kernels) agree with double.
  Rng rng(5);
  const TensorD xd = TensorD::normal({7, 9}, 0, 1, rng), wd = TensorD::normal({9, 5}, 0, 1, rng);
  TensorF xf = TensorF::empty(xd.shape()), wf = TensorF::empty(wd.shape());
  for (int64_t i = 0; i < xd.numel(); ++i) xf[i] = static_cast<float>(xd[i]);
  for (int64_t i = 0; i < wd.numel(); ++i) wf[i] = static_cast<float>(wd[i]);
  auto loss = [](auto x, auto w) {
    using T = typename decltype(x)::value_type;
    auto h = matmul(tanh(x), w);  // [7,5]
    const auto parts = split(h, {2, 3}, 1);
    Tensor<T> mask = Tensor<T>::zeros(h.shape());
    for (int64_t i = 0; i < mask.numel(); i += 3) mask[i] = T(1);
    return sum(logsumexp(h, 1)) + mean(softplus(h)) + sum(sigmoid(h) * log_softmax(h, 0)) +
           sum(log_mean_exp(h, 0)) + mean(bce_with_logits(h, sigmoid(h * T(0.5)))) +
           mean(gaussian_log_density(relu(h), leaky_relu(h, T(0.1)), clamp(h, T(-0.5), T(0.5)))) +
           mean(kl_std_normal(parts[0], narrow(parts[1], 1, 0, 2))) + mse(softmax(h, 1), abs(h)) +
           nll(log_softmax(h, 1), {0, 1, 2, 3, 4, 0, 1}) + sum(where(mask, log_sigmoid(h), square(h)));
  };
  VarD vxd(xd, true), vwd(wd, true);
  VarF vxf(xf, true), vwf(wf, true);
  VarD ld = loss(vxd, vwd);
  VarF lf = loss(vxf, vwf);
  ld.backward();
  lf.backward();
  BOOST_TEST(lf.item() == ld.item(), tt::tolerance(1e-5));
  for (int64_t i = 0; i < xd.numel(); ++i)
    BOOST_TEST(std::abs(vxf.grad()[i] - vxd.grad()[i]) <= 1e-4 + 1e-4 * std::abs(vxd.grad()[i]),
               "element " << i << ": float " << vxf.grad()[i] << " vs double " << vxd.grad()[i]);
}
