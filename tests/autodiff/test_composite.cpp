// A composite: a 2-layer MLP (linear, tanh, linear) regressing y with a Gaussian negative
// log-likelihood whose log-variance is learned. Gradchecked end to end, and its value held
// to a plain-loop computation of the same formula.
#define BOOST_TEST_MODULE autodiff_composite
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"

using namespace lz;

namespace {
constexpr int64_t N = 6, D = 3, H = 5, O = 2;

// inputs: x[N,D] W1[H,D] b1[H] W2[O,H] b2[O] logvar[O]; y fixed
VarD mlp_gaussian_nll(const std::vector<VarD>& v, const TensorD& y) {
  const VarD h = tanh(linear(v[0], v[1], v[2]));
  const VarD mu = linear(h, v[3], v[4]);
  return -mean(gaussian_log_density(VarD(y), mu, v[5]));  // logvar [O] broadcast over the batch
}

// The same with a heteroscedastic head: the last layer emits [mean, logvar] and chunk splits them.
VarD mlp_hetero_nll(const std::vector<VarD>& v, const TensorD& y) {
  const VarD h = tanh(linear(v[0], v[1], v[2]));
  const auto parts = chunk(linear(h, v[3], v[4]), 2, 1);
  return -mean(gaussian_log_density(VarD(y), parts[0], parts[1]));
}

std::vector<TensorD> params(Rng& rng, int64_t out) {
  return {TensorD::normal({N, D}, 0, 1, rng),   TensorD::normal({H, D}, 0, 0.7, rng),
          TensorD::normal({H}, 0, 0.1, rng),    TensorD::normal({out, H}, 0, 0.7, rng),
          TensorD::normal({out}, 0, 0.1, rng),  TensorD::normal({O}, 0, 0.3, rng)};
}
}  // namespace

BOOST_AUTO_TEST_CASE(mlp_gaussian_nll_gradcheck) {
  Rng rng(11);
  const std::vector<TensorD> in = params(rng, O);
  const TensorD y = TensorD::normal({N, O}, 0, 1, rng);
  const GradcheckResult r = gradcheck([&](const std::vector<VarD>& v) { return mlp_gaussian_nll(v, y); }, in, "mlp_gaussian_nll");
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checks == N * D + H * D + H + O * H + O + O);  // every element of every input
}

BOOST_AUTO_TEST_CASE(mlp_gaussian_nll_value_matches_plain_loops) {
  Rng rng(12);
  const std::vector<TensorD> in = params(rng, O);
  const TensorD y = TensorD::normal({N, O}, 0, 1, rng);
  std::vector<VarD> v;
  for (const auto& t : in) v.emplace_back(t, false);
  const double got = mlp_gaussian_nll(v, y).item();
  const TensorD &x = in[0], &W1 = in[1], &b1 = in[2], &W2 = in[3], &b2 = in[4], &lv = in[5];
  double nll = 0;
  for (int64_t n = 0; n < N; ++n) {
    double h[H];
    for (int64_t j = 0; j < H; ++j) {
      double a = b1[j];
      for (int64_t k = 0; k < D; ++k) a += W1[j * D + k] * x[n * D + k];
      h[j] = std::tanh(a);
    }
    for (int64_t o = 0; o < O; ++o) {
      double mu = b2[o];
      for (int64_t j = 0; j < H; ++j) mu += W2[o * H + j] * h[j];
      const double var = std::exp(lv[o]), d = y[n * O + o] - mu;
      nll += 0.5 * std::log(2 * M_PI * var) + d * d / (2 * var);
    }
  }
  BOOST_TEST(got == nll / (N * O), boost::test_tools::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(mlp_heteroscedastic_head_gradcheck) {
  Rng rng(13);
  std::vector<TensorD> in = params(rng, 2 * O);
  in.pop_back();  // logvar comes from the network here
  const TensorD y = TensorD::normal({N, O}, 0, 1, rng);
  const GradcheckResult r = gradcheck([&](const std::vector<VarD>& v) { return mlp_hetero_nll(v, y); }, in, "mlp_hetero_nll");
  BOOST_TEST(r.ok, r.message);
}

// linear_relu is relu(linear(...)) fused: the same floats, forward and every gradient, bit for
// bit (MLP uses it for its ReLU layers, and checkpoints resume bit for bit across the change).
BOOST_AUTO_TEST_CASE(linear_relu_equals_relu_of_linear_bit_for_bit) {
  Rng rng(11);
  const TensorF x0 = TensorF::normal({37, 19}, 0, 1, rng), w0 = TensorF::normal({23, 19}, 0, 0.3f, rng),
                b0 = TensorF::normal({23}, 0, 0.3f, rng), up = TensorF::normal({37, 23}, 0, 1, rng);
  auto run = [&](bool fused) {
    VarF x(x0, true), w(w0, true), b(b0, true);
    const VarF y = fused ? linear_relu(x, w, b) : relu(linear(x, w, b));
    sum(mul(y, VarF(up))).backward();
    return std::vector<TensorF>{y.value(), x.grad(), w.grad(), b.grad()};
  };
  const auto a = run(true), c = run(false);
  int64_t zeros = 0;
  for (int64_t i = 0; i < a[0].numel(); ++i) zeros += a[0][i] == 0.0f;
  BOOST_TEST(zeros > 0);  // the mask really cuts some gradients
  for (size_t k = 0; k < a.size(); ++k) {
    BOOST_TEST_REQUIRE(a[k].shape() == c[k].shape());
    for (int64_t i = 0; i < a[k].numel(); ++i) BOOST_TEST(a[k][i] == c[k][i], "tensor " << k << " element " << i);
  }
}

// A weight used by three products: the first gradient lands in the weight's buffer, the next two
// are accumulated into it by the VJPs' GEMMs themselves (GradSink::add_matmul, beta = 1).
BOOST_AUTO_TEST_CASE(a_weight_in_three_products_accumulates_every_contribution) {
  Rng rng(12);
  const std::vector<TensorD> in = {TensorD::normal({N, H}, 0, 1, rng), TensorD::normal({H, H}, 0, 0.7, rng),
                                   TensorD::normal({H}, 0, 0.1, rng)};
  auto f = [](const std::vector<VarD>& v) {
    const VarD h = tanh(linear(v[0], v[1], v[2]));
    return sum(square(linear_relu(h, v[1], v[2]) + matmul(h, v[1])));
  };
  const GradcheckResult r = gradcheck(f, in, "weight used three times");
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checks == N * H + H * H + H);
}

// The fused affine coupling (autodiff/ops/coupling.cpp) against the ten composed ops it replaces,
// both directions: same values, same gradients to x, raw and scale, to rounding.
template <typename T>
void fused_coupling_matches_composed(double tol) {
  using VT = Var<T>;
  const Tensor<T> keep = Tensor<T>::from({T(0), T(1), T(1), T(0)}, {4});
  for (bool inverse : {false, true}) {
    std::vector<std::vector<Tensor<T>>> grads;
    std::vector<Tensor<T>> outs;
    for (bool fused : {true, false}) {
      Rng r(14);  // the same inputs and output weights for both forms
      VT x(Tensor<T>::normal({5, 4}, 0, 1, r), true), raw(Tensor<T>::normal({5, 8}, 0, 1.5, r), true),
          scale(Tensor<T>::normal({4}, 0, 1, r), true);
      VT out, ld;
      if (fused) {
        WithLogDet<T> f = inverse ? affine_coupling_inverse(x, raw, scale, keep) : affine_coupling(x, raw, scale, keep);
        out = f.out, ld = f.log_abs_det;
      } else {
        const VT k(keep), p = chunk(raw, 2, 1)[0], q = chunk(raw, 2, 1)[1];
        const VT s = mul(mul(tanh(p), scale), k), t = mul(q, k);
        out = inverse ? mul(sub(x, t), exp(neg(s))) : add(mul(x, exp(s)), t);
        ld = inverse ? neg(sum(s, 1)) : sum(s, 1);
      }
      // Weights on both outputs so each VJP path is exercised with a non-uniform gradient.
      const Tensor<T> wo = Tensor<T>::normal({5, 4}, 0, 1, r), wl = Tensor<T>::normal({5}, 0, 1, r);
      (sum(mul(out, VT(wo))) + sum(mul(ld, VT(wl)))).backward();
      outs.push_back(concat<T>({out, reshape(ld, {-1, 1})}, 1).value());
      grads.push_back({x.grad(), raw.grad(), scale.grad()});
    }
    for (int64_t i = 0; i < outs[0].numel(); ++i)
      BOOST_TEST(outs[0][i] == outs[1][i], boost::test_tools::tolerance(static_cast<T>(tol)));
    for (size_t k = 0; k < 3; ++k)
      for (int64_t i = 0; i < grads[0][k].numel(); ++i)
        BOOST_TEST(grads[0][k][i] == grads[1][k][i], boost::test_tools::tolerance(static_cast<T>(tol)));
  }
}

BOOST_AUTO_TEST_CASE(fused_affine_coupling_equals_the_composed_ops) {
  fused_coupling_matches_composed<double>(1e-13);
  fused_coupling_matches_composed<float>(2e-5);
}
