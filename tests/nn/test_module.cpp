#define BOOST_TEST_MODULE nn_module
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <memory>

#include "autodiff/ops.hpp"
#include "nn/activation.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/mlp.hpp"
#include "thrown.hpp"

using namespace lz;

namespace {

// Two MLPs under one parent, itself placed under a grandparent after construction.
struct Encoder : Module<double> {
  std::shared_ptr<MLP<double>> body;
  Var<double> scale;
  explicit Encoder(Rng& rng) {
    scale = register_parameter("scale", TensorD::ones({2}));
    body = register_module("body", std::make_shared<MLP<double>>(std::vector<int64_t>{3, 4, 2}, Activation::Tanh, rng));
  }
};
struct Model : Module<double> {
  std::shared_ptr<Encoder> encoder;
  explicit Model(Rng& rng) { encoder = register_module("encoder", std::make_shared<Encoder>(rng)); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(mlp_names_and_counts) {
  Rng rng(1);
  MLP<float> mlp({784, 256, 10}, Activation::ReLU, rng);
  auto np = mlp.named_parameters();
  BOOST_TEST_REQUIRE(np.size() == 4u);
  BOOST_TEST(np[0].first == "fc1.weight");
  BOOST_TEST(np[1].first == "fc1.bias");
  BOOST_TEST(np[2].first == "fc2.weight");
  BOOST_TEST(np[3].first == "fc2.bias");
  BOOST_TEST((np[0].second.shape() == Shape{256, 784}));
  BOOST_TEST((np[1].second.shape() == Shape{256}));
  BOOST_TEST((np[2].second.shape() == Shape{10, 256}));
  BOOST_TEST(mlp.num_parameters() == 784 * 256 + 256 + 256 * 10 + 10);
  BOOST_TEST(mlp.num_parameters() == 203530);
  for (auto& [n, v] : np) {
    BOOST_TEST(v.name() == n);
    BOOST_TEST(v.requires_grad());
  }
  const std::string s = mlp.summary();
  BOOST_TEST(s.find("fc1.weight") != std::string::npos);
  BOOST_TEST(s.find("[256,784]") != std::string::npos);
  BOOST_TEST(s.find("200704") != std::string::npos);
  BOOST_TEST(s.find("total: 203530") != std::string::npos, s);
}

BOOST_AUTO_TEST_CASE(nested_names_follow_the_tree) {
  Rng rng(2);
  Model m(rng);
  auto np = m.named_parameters();
  std::vector<std::string> want = {"encoder.scale", "encoder.body.fc1.weight", "encoder.body.fc1.bias",
                                   "encoder.body.fc2.weight", "encoder.body.fc2.bias"};
  BOOST_TEST_REQUIRE(np.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    BOOST_TEST(np[i].first == want[i]);
    BOOST_TEST(np[i].second.name() == want[i]);  // the Var knows its full path (set when attached)
  }
  BOOST_TEST(m.parameter("encoder.body.fc2.bias").node() == m.encoder->body->layers()[1]->bias().node());
  BOOST_TEST(m.num_parameters() == 2 + 3 * 4 + 4 + 4 * 2 + 2);
  // The submodule still lists its own (relative) names.
  BOOST_TEST(m.encoder->named_parameters()[1].first == "body.fc1.weight");
  const std::string msg = lz::test::thrown_message([&] { m.parameter("encoder.body.fc3.weight"); });
  BOOST_TEST(msg.find("encoder.body.fc3.weight") != std::string::npos, msg);
  BOOST_TEST(msg.find("encoder.body.fc2.bias") != std::string::npos, msg);  // lists what exists
}

BOOST_AUTO_TEST_CASE(registration_errors) {
  Rng rng(3);
  Module<double> m;
  m.register_parameter("w", TensorD::ones({2}));
  BOOST_CHECK_THROW(m.register_parameter("w", TensorD::ones({2})), std::invalid_argument);
  BOOST_CHECK_THROW(m.register_parameter("a.b", TensorD::ones({2})), std::invalid_argument);
  BOOST_CHECK_THROW(m.register_parameter("", TensorD::ones({2})), std::invalid_argument);
  BOOST_CHECK_THROW(m.register_module("w", std::make_shared<Linear<double>>(2, 2, rng)), std::invalid_argument);
  const std::string msg = lz::test::thrown_message([&] { m.register_parameter("w", TensorD::ones({1})); });
  BOOST_TEST(msg.find("'w' is already a parameter") != std::string::npos, msg);
  BOOST_CHECK_THROW(Linear<double>(0, 3, rng), std::invalid_argument);
  BOOST_CHECK_THROW(MLP<double>({5}, Activation::ReLU, rng), std::invalid_argument);
}

// PyTorch's default: weight and bias uniform in ±1/sqrt(in). Moments checked against the uniform
// distribution with tolerances of 5 standard errors; the extremes must reach within 20/n of the
// bound (the chance that all n draws stay below b(1-20/n) is (1-20/n)^n ≈ e^-20).
BOOST_AUTO_TEST_CASE(linear_init_bounds_and_moments) {
  Rng rng(4);
  Linear<double> fc(784, 256, rng);
  const double b = 1.0 / 28.0;
  for (const Tensor<double>* t : {&fc.weight().value(), &fc.bias().value()}) {
    const int64_t n = t->numel();
    double s = 0, s2 = 0, mx = -1, mn = 1;
    for (int64_t i = 0; i < n; ++i) {
      const double x = (*t)[i];
      BOOST_TEST_REQUIRE(std::abs(x) <= b);
      s += x;
      s2 += x * x;
      mx = std::max(mx, x);
      mn = std::min(mn, x);
    }
    const double mean = s / n, m2 = s2 / n;
    const double var = b * b / 3, se_mean = std::sqrt(var / n), se_m2 = std::sqrt(4 * b * b * b * b / 45 / n);
    BOOST_TEST(std::abs(mean) < 5 * se_mean, "mean " << mean << " se " << se_mean);
    BOOST_TEST(std::abs(m2 - var) < 5 * se_m2, "E[x^2] " << m2 << " expected " << var << " se " << se_m2);
    BOOST_TEST(mx > b * (1 - 20.0 / n));
    BOOST_TEST(mn < -b * (1 - 20.0 / n));
  }
  // Same seed, same layer.
  Rng r1(9), r2(9);
  Linear<float> a(5, 3, r1), c(5, 3, r2);
  BOOST_TEST(a.weight().value().to_vector() == c.weight().value().to_vector());
}

BOOST_AUTO_TEST_CASE(linear_forward_and_backward) {
  Rng rng(5);
  Linear<double> fc(3, 2, rng);
  TensorD x = TensorD::normal({4, 3}, 0, 1, rng);
  VarD y = fc(VarD(x));
  const TensorD& w = fc.weight().value();
  const TensorD& bias = fc.bias().value();
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t o = 0; o < 2; ++o) {
      double ref = bias[o];
      for (int64_t k = 0; k < 3; ++k) ref += x.at({i, k}) * w.at({o, k});
      BOOST_TEST(y.value().at({i, o}) == ref, boost::test_tools::tolerance(1e-14));
    }
  sum(y).backward();
  // d sum(xW^T+b)/dW[o,k] = Σ_i x[i,k]; d/db[o] = N
  for (int64_t o = 0; o < 2; ++o) {
    BOOST_TEST(fc.bias().grad()[o] == 4.0);
    for (int64_t k = 0; k < 3; ++k) {
      double colsum = 0;
      for (int64_t i = 0; i < 4; ++i) colsum += x.at({i, k});
      BOOST_TEST(fc.weight().grad().at({o, k}) == colsum, boost::test_tools::tolerance(1e-14));
    }
  }
  fc.zero_grad();
  BOOST_TEST(!fc.weight().grad().defined());
  BOOST_TEST(!fc.bias().grad().defined());

  // No bias: same product, no bias parameter.
  Linear<double> nb(3, 2, rng, false);
  BOOST_TEST(nb.named_parameters().size() == 1u);
  VarD z = nb(VarD(x));
  double ref = 0;
  for (int64_t k = 0; k < 3; ++k) ref += x.at({1, k}) * nb.weight().value().at({0, k});
  BOOST_TEST(z.value().at({1, 0}) == ref, boost::test_tools::tolerance(1e-14));

  // Wrong width: the message names the layer's sizes and the input's shape.
  const std::string msg = lz::test::thrown_message([&] { fc(VarD(TensorD::ones({4, 5}))); });
  BOOST_TEST(msg.find("Linear(3 -> 2)") != std::string::npos, msg);
  BOOST_TEST(msg.find("[4,5]") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(linear_on_3d_input) {
  Rng rng(6);
  Linear<double> fc(3, 2, rng);
  TensorD x = TensorD::normal({2, 4, 3}, 0, 1, rng);
  VarD y = fc(VarD(x));
  BOOST_TEST((y.shape() == Shape{2, 4, 2}));
  VarD y2 = fc(VarD(x.reshape({8, 3})));
  BOOST_TEST(y.value().to_vector() == y2.value().to_vector());
}

BOOST_AUTO_TEST_CASE(activations) {
  BOOST_TEST((parse_activation("ReLU") == Activation::ReLU));
  BOOST_TEST((parse_activation("leaky_relu") == Activation::LeakyReLU));
  BOOST_TEST((parse_activation("softplus") == Activation::Softplus));
  const std::string msg = lz::test::thrown_message([] { parse_activation("gelu"); });
  BOOST_TEST(msg.find("'gelu'") != std::string::npos, msg);
  BOOST_TEST(msg.find("identity, relu, tanh, sigmoid, leaky_relu, softplus") != std::string::npos, msg);
  for (Activation a : {Activation::Identity, Activation::ReLU, Activation::Tanh, Activation::Sigmoid,
                       Activation::LeakyReLU, Activation::Softplus})
    BOOST_TEST((parse_activation(activation_name(a)) == a));

  const TensorD x = TensorD::from({-2.0, -0.5, 0.0, 0.5, 3.0});
  auto check = [&](Activation a, auto ref) {
    VarD y = apply(a, VarD(x));
    ActivationLayer<double> layer(a);
    VarD y2 = layer(VarD(x));
    for (int64_t i = 0; i < x.numel(); ++i) {
      BOOST_TEST(y.value()[i] == ref(x[i]), boost::test_tools::tolerance(1e-14));
      BOOST_TEST(y2.value()[i] == y.value()[i]);
    }
  };
  check(Activation::Identity, [](double v) { return v; });
  check(Activation::ReLU, [](double v) { return v > 0 ? v : 0.0; });
  check(Activation::Tanh, [](double v) { return std::tanh(v); });
  check(Activation::Sigmoid, [](double v) { return 1 / (1 + std::exp(-v)); });
  check(Activation::LeakyReLU, [](double v) { return v > 0 ? v : 0.01 * v; });
  check(Activation::Softplus, [](double v) { return std::log1p(std::exp(v)); });
  BOOST_TEST(ActivationLayer<double>(Activation::Tanh).num_parameters() == 0);
}

BOOST_AUTO_TEST_CASE(mlp_forward_composes_layers) {
  Rng rng(7);
  MLP<double> mlp({3, 5, 2}, Activation::Tanh, rng);
  MLP<double> last({3, 5, 2}, Activation::Sigmoid, rng, true);
  TensorD x = TensorD::normal({4, 3}, 0, 1, rng);
  VarD y = mlp(VarD(x));
  VarD ref = mlp.layers()[1]->forward(tanh(mlp.layers()[0]->forward(VarD(x))));
  BOOST_TEST(y.value().to_vector() == ref.value().to_vector());
  VarD y2 = last(VarD(x));
  VarD ref2 = sigmoid(last.layers()[1]->forward(sigmoid(last.layers()[0]->forward(VarD(x)))));
  BOOST_TEST(y2.value().to_vector() == ref2.value().to_vector());
  BOOST_TEST(mlp.describe() == "MLP(3-5-2, tanh)");
}

// torch.nn.init's formulas: fans, the xavier and kaiming bounds (checked through the extremes and
// the second moment, as for Linear), and kaiming with a = √5 reproducing Linear's ±1/sqrt(in).
BOOST_AUTO_TEST_CASE(init_functions) {
  BOOST_TEST(init::fans({30, 20}).in == 20);
  BOOST_TEST(init::fans({30, 20}).out == 30);
  BOOST_TEST(init::fans({8, 3, 5, 5}).in == 75);
  BOOST_TEST(init::fans({8, 3, 5, 5}).out == 200);
  Rng rng(8);
  VarD w(TensorD::zeros({300, 200}), true);
  auto check_bound = [&](double b) {
    const TensorD& t = w.value();
    double mx = 0, s2 = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      mx = std::max(mx, std::abs(t[i]));
      s2 += t[i] * t[i];
    }
    const double n = static_cast<double>(t.numel());
    BOOST_TEST(mx <= b);
    BOOST_TEST(mx > b * (1 - 20.0 / n));
    BOOST_TEST(std::abs(s2 / n - b * b / 3) < 5 * std::sqrt(4 * b * b * b * b / 45 / n));
  };
  init::xavier_uniform(w, rng, 2.0);
  check_bound(2.0 * std::sqrt(6.0 / 500));
  init::kaiming_uniform(w, rng);
  check_bound(std::sqrt(6.0 / 200));
  init::kaiming_uniform(w, rng, std::sqrt(5.0));
  check_bound(1.0 / std::sqrt(200.0));
  init::zeros(w);
  BOOST_TEST(w.value()[123] == 0.0);
  init::constant(w, 0.5);
  BOOST_TEST(w.value()[59999] == 0.5);
}
