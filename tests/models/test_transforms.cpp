// The transform harness: every Transform of the zoo is registered in registry() below, one line
// each, and every check of transform_checks.hpp runs over all of them (as every op is in the
// gradient-check suite). A new flow layer is covered by adding its line.
#define BOOST_TEST_MODULE transforms
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <numeric>
#include <type_traits>

#include "models/flow.hpp"
#include "models/transform.hpp"
#include "nn/linear.hpp"
#include "thrown.hpp"
#include "transform_checks.hpp"
#include "wrong_transforms.hpp"

using namespace lz;
using namespace lz::test;

namespace {

// Conditional: log_scale = tanh(W_s c + b_s), shift = W_t c + b_t. Test-only, so that the
// condition path (and a Composite passing c through) is exercised before the flow brings its
// conditional couplings.
template <typename T>
class ConditionalAffine : public Transform<T> {
 public:
  ConditionalAffine(int64_t dim, int64_t cdim, Rng& rng)
      : Transform<T>(dim, cdim),
        scale_net_(this->register_module("scale_net", std::make_shared<Linear<T>>(cdim, dim, rng))),
        shift_net_(this->register_module("shift_net", std::make_shared<Linear<T>>(cdim, dim, rng))) {}
  std::string describe() const override { return "ConditionalAffine"; }

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override {
    const Var<T> s = tanh(scale_net_->forward(c));
    return {x * exp(s) + shift_net_->forward(c), sum(s, 1)};
  }
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override {
    const Var<T> s = tanh(scale_net_->forward(c));
    return {(y - shift_net_->forward(c)) * exp(-s), -sum(s, 1)};
  }

 private:
  std::shared_ptr<Linear<T>> scale_net_, shift_net_;
};

// Where a case's inputs x are drawn: the checks feed the same x to forward and to inverse, so a
// transform of a part of R^D (the logit preprocessing maps (0, 1)) gets inputs inside that part.
enum class Domain { Real, UnitInterval };

struct TransformCase {
  std::string name;
  std::function<TransformPtr<double>(Rng&)> make_double;
  std::function<TransformPtr<float>(Rng&)> make_float;
  Domain domain = Domain::Real;
  double float_round_trip_tol = 1e-5;  // float rounding times the inverse's condition
};

// `make` is a template lambda []<typename T>(Rng&) -> TransformPtr<T>, built once per dtype.
template <typename F>
TransformCase transform_case(std::string name, F make, Domain domain = Domain::Real, double float_round_trip_tol = 1e-5) {
  return {std::move(name), [make](Rng& r) { return make.template operator()<double>(r); },
          [make](Rng& r) { return make.template operator()<float>(r); }, domain, float_round_trip_tol};
}

template <typename T>
TransformPtr<T> composite(std::vector<TransformPtr<T>> steps) {
  return std::make_shared<Composite<T>>(std::move(steps));
}

// ---- the registry: one line per transform ----------------------------------------------------
const std::vector<TransformCase>& registry() {
  static const std::vector<TransformCase> cases = {
      transform_case("affine", []<typename T>(Rng&) -> TransformPtr<T> {
        return std::make_shared<ElementwiseAffine<T>>(4);
      }),
      transform_case("reverse permutation", []<typename T>(Rng&) -> TransformPtr<T> {
        return Permutation<T>::reverse(5);
      }),
      transform_case("random permutation", []<typename T>(Rng& r) -> TransformPtr<T> {
        return Permutation<T>::random(6, r);
      }),
      transform_case("conditional affine (test-only)", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<ConditionalAffine<T>>(3, 2, r);
      }),
      transform_case("composite affine+permutation+affine", []<typename T>(Rng& r) -> TransformPtr<T> {
        return composite<T>({std::make_shared<ElementwiseAffine<T>>(4), Permutation<T>::random(4, r),
                             std::make_shared<ElementwiseAffine<T>>(4)});
      }),
      transform_case("composite with a condition", []<typename T>(Rng& r) -> TransformPtr<T> {
        return composite<T>({std::make_shared<ElementwiseAffine<T>>(3), std::make_shared<ConditionalAffine<T>>(3, 2, r),
                             Permutation<T>::reverse(3), std::make_shared<ConditionalAffine<T>>(3, 2, r)});
      }),
      transform_case("nested composite", []<typename T>(Rng& r) -> TransformPtr<T> {
        return composite<T>({composite<T>({std::make_shared<ElementwiseAffine<T>>(3), Permutation<T>::random(3, r)}),
                             std::make_shared<ElementwiseAffine<T>>(3)});
      }),
      transform_case("affine coupling, parity 0", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<AffineCoupling<T>>(4, std::vector<int64_t>{6}, 0, r);
      }),
      transform_case("affine coupling, parity 1, odd D, two hidden layers", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<AffineCoupling<T>>(5, std::vector<int64_t>{6, 5}, 1, r, 0, Activation::Tanh);
      }),
      transform_case("affine coupling with a condition, parity 0", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<AffineCoupling<T>>(3, std::vector<int64_t>{6}, 0, r, 2);
      }),
      transform_case("affine coupling with a condition, parity 1", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<AffineCoupling<T>>(3, std::vector<int64_t>{6}, 1, r, 2, Activation::Tanh);
      }),
      transform_case("spline coupling, parity 0", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<SplineCoupling<T>>(4, std::vector<int64_t>{6}, 0, r, 5, 3.0);
      }),
      transform_case("spline coupling, parity 1, odd D, two hidden layers, B = 1.5", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<SplineCoupling<T>>(5, std::vector<int64_t>{6, 5}, 1, r, 4, 1.5, 0, Activation::Tanh);
      }),
      transform_case("spline coupling with a condition", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<SplineCoupling<T>>(3, std::vector<int64_t>{6}, 0, r, 3, 2.0, 2);
      }),
      transform_case("actnorm (after its data init)", []<typename T>(Rng& r) -> TransformPtr<T> {
        auto a = std::make_shared<ActNorm<T>>(4);
        a->initialise(Tensor<T>::normal({16, 4}, T(2), T(3), r));
        return a;
      }),
      transform_case("LU linear", []<typename T>(Rng& r) -> TransformPtr<T> {
        return std::make_shared<LULinear<T>>(4, r);
      }),
      transform_case("logit preprocessing, lambda = 0.05", []<typename T>(Rng&) -> TransformPtr<T> {
        return std::make_shared<LogitTransform<T>>(4, 0.05);
      }, Domain::UnitInterval),
      transform_case("logit preprocessing, lambda = 1e-6", []<typename T>(Rng&) -> TransformPtr<T> {
        return std::make_shared<LogitTransform<T>>(3);
      }, Domain::UnitInterval),
      transform_case("built flow: actnorm + LU + couplings, conditional", []<typename T>(Rng& r) -> TransformPtr<T> {
        FlowSpec spec{.dim = 3, .condition_dim = 2, .couplings = 2, .hidden = {5}, .actnorm = true, .lu = true};
        auto f = Flow<T>::build(spec, r);
        f->initialise(Tensor<T>::normal({16, 3}, T(1), T(2), r), Tensor<T>::normal({16, 2}, T(0), T(1), r));
        return f;
      }),
      // Perturbed, its last spline has slopes down to ~1e-3 (log-det −8.9 over two coordinates on
      // one row): the inverse multiplies float rounding by ~1e3 there, so its float round trip gets
      // 1e-3 (measured 2.6e-5 here, 1.3e-4 without the LU layers); double holds 1e-10 as for every case.
      transform_case("built flow: actnorm + LU + spline couplings, conditional", []<typename T>(Rng& r) -> TransformPtr<T> {
        FlowSpec spec{.dim = 3, .condition_dim = 2, .couplings = 2, .hidden = {5}, .actnorm = true, .lu = true,
                      .coupling = CouplingKind::Spline, .bins = 4, .tail_bound = 2.5};
        auto f = Flow<T>::build(spec, r);
        f->initialise(Tensor<T>::normal({16, 3}, T(1), T(2), r), Tensor<T>::normal({16, 2}, T(0), T(1), r));
        return f;
      }, Domain::Real, 1e-3),
  };
  return cases;
}

// One case's transform with its parameters moved off their initialisation, and its inputs.
template <typename T>
struct Instance {
  TransformPtr<T> t;
  Tensor<T> x, c;  // c undefined when the transform takes no condition
};

template <typename T>
Instance<T> instantiate(const TransformCase& tc, uint64_t seed) {
  Rng rng(seed);
  Instance<T> in;
  if constexpr (std::is_same_v<T, double>)
    in.t = tc.make_double(rng);
  else
    in.t = tc.make_float(rng);
  perturb_parameters(*in.t, rng);
  in.x = tc.domain == Domain::UnitInterval ? Tensor<T>::uniform({3, in.t->dim()}, T(0.02), T(0.98), rng)
                                           : Tensor<T>::normal({3, in.t->dim()}, 0, 1, rng);
  if (in.t->condition_dim() > 0) in.c = Tensor<T>::normal({3, in.t->condition_dim()}, 0, 1, rng);
  return in;
}

}  // namespace

// ---- the harness ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(inverse_undoes_forward) {
  for (const auto& tc : registry()) {
    auto d = instantiate<double>(tc, 7);
    const auto rd = check_round_trip(*d.t, d.x, d.c, 1e-10);
    BOOST_TEST(rd.ok, tc.name << " (double): " << rd.message);
    auto f = instantiate<float>(tc, 7);
    const auto rf = check_round_trip(*f.t, f.x, f.c, tc.float_round_trip_tol);
    BOOST_TEST(rf.ok, tc.name << " (float): " << rf.message);
  }
}

BOOST_AUTO_TEST_CASE(forward_and_inverse_log_dets_cancel) {
  for (const auto& tc : registry()) {
    auto d = instantiate<double>(tc, 8);
    const auto rd = check_log_dets_cancel(*d.t, d.x, d.c, 1e-10);
    BOOST_TEST(rd.ok, tc.name << " (double): " << rd.message);
    auto f = instantiate<float>(tc, 8);
    const auto rf = check_log_dets_cancel(*f.t, f.x, f.c, 1e-5);
    BOOST_TEST(rf.ok, tc.name << " (float): " << rf.message);
  }
}

BOOST_AUTO_TEST_CASE(log_det_equals_log_abs_det_of_the_autodiff_jacobian) {
  for (const auto& tc : registry()) {
    auto d = instantiate<double>(tc, 9);
    const auto r = check_log_det_jacobian(*d.t, d.x, d.c);
    BOOST_TEST(r.ok, tc.name << ": " << r.message);
  }
}

BOOST_AUTO_TEST_CASE(log_dets_equal_those_of_finite_difference_jacobians_both_ways) {
  for (const auto& tc : registry())
    for (bool inverse : {false, true}) {
      auto d = instantiate<double>(tc, 14);
      const auto r = check_log_det_by_differences(*d.t, d.x, d.c, inverse);
      BOOST_TEST(r.ok, tc.name << (inverse ? " (inverse): " : " (forward): ") << r.message);
    }
}

BOOST_AUTO_TEST_CASE(gradcheck_wrt_input_condition_and_every_parameter) {
  for (const auto& tc : registry())
    for (bool inverse : {false, true}) {
      auto d = instantiate<double>(tc, 10);
      const auto r = check_gradients(*d.t, d.x, d.c, inverse);
      BOOST_TEST(r.ok, tc.name << ": " << r.message);
    }
}

BOOST_AUTO_TEST_CASE(registry_exercises_parameters_and_conditions) {
  // Guards the harness itself: if every registered case lost its parameters or its condition,
  // the checks above would still pass while testing much less.
  int with_params = 0, with_condition = 0;
  for (const auto& tc : registry()) {
    auto d = instantiate<double>(tc, 11);
    with_params += d.t->num_parameters() > 0;
    with_condition += d.t->condition_dim() > 0;
  }
  BOOST_TEST(with_params >= 4);
  BOOST_TEST(with_condition >= 2);
}

// ---- the harness catches wrong transforms -------------------------------------------------------
BOOST_AUTO_TEST_CASE(harness_rejects_a_wrong_log_det) {
  Rng rng(12);
  WrongLogDet<double> t(4);
  perturb_parameters(t, rng);
  const TensorD x = TensorD::normal({3, 4}, 0, 1, rng);
  // Consistent with itself, so only the Jacobian check can see it.
  BOOST_TEST(check_round_trip(t, x, TensorD(), 1e-10).ok);
  BOOST_TEST(check_log_dets_cancel(t, x, TensorD(), 1e-10).ok);
  const auto r = check_log_det_jacobian(t, x, TensorD());
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.message.find("log|det J| of the autodiff Jacobian") != std::string::npos, r.message);
  for (bool inverse : {false, true}) {
    const auto fd = check_log_det_by_differences(t, x, TensorD(), inverse);
    BOOST_TEST(!fd.ok);
    BOOST_TEST(fd.message.find("finite-difference Jacobian") != std::string::npos, fd.message);
  }
}

BOOST_AUTO_TEST_CASE(harness_rejects_a_wrong_inverse_and_log_dets_that_do_not_cancel) {
  Rng rng(13);
  WrongInverse<double> t(4);
  perturb_parameters(t, rng);
  const TensorD x = TensorD::normal({3, 4}, 0, 1, rng);
  const auto r = check_round_trip(t, x, TensorD(), 1e-10);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.message.find("inverse(forward(x)) vs x") != std::string::npos, r.message);
  BOOST_TEST(!check_log_dets_cancel(t, x, TensorD(), 1e-10).ok);
}

BOOST_AUTO_TEST_CASE(harness_rejects_a_map_that_mixes_rows) {
  Rng rng(14);
  RowMixing<double> t(3);
  const TensorD x = TensorD::normal({3, 3}, 0, 1, rng);
  BOOST_TEST(check_round_trip(t, x, TensorD(), 1e-10).ok);
  const auto r = check_log_det_jacobian(t, x, TensorD());
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.message.find("depends on row") != std::string::npos, r.message);
}

BOOST_AUTO_TEST_CASE(harness_rejects_a_cut_gradient) {
  Rng rng(15);
  DetachedScale<double> t(3);
  perturb_parameters(t, rng);
  const TensorD x = TensorD::normal({2, 3}, 0, 1, rng);
  BOOST_TEST(check_round_trip(t, x, TensorD(), 1e-10).ok);
  BOOST_TEST(check_log_det_jacobian(t, x, TensorD()).ok);
  const auto r = check_gradients(t, x, TensorD(), false);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.message.find("w.r.t. log_scale") != std::string::npos, r.message);
}

BOOST_AUTO_TEST_CASE(an_implementation_returning_a_bad_log_det_shape_is_named) {
  BadLogDetShape<double> t(2);
  const std::string m = thrown_message([&] { t.forward(VarD(TensorD::zeros({5, 2}))); });
  BOOST_TEST(m.find("BadLogDetShape::forward: implementation returned log-det [5,1], expected [5]") !=
                 std::string::npos,
             m);
}

// ---- the concrete transforms against their formulas, names and errors ----------------------------

BOOST_AUTO_TEST_CASE(affine_and_permutation_closed_forms) {
  ElementwiseAffine<double> a(3);
  a.log_scale().value_mut() = TensorD::from({0.5, -1.0, 0.0});
  a.shift().value_mut() = TensorD::from({1.0, 2.0, -3.0});
  const auto [y, ld] = a.forward(VarD(TensorD::from({1.0, 2.0, 3.0, -1.0, 0.0, 4.0}, {2, 3})));
  const std::vector<double> want{std::exp(0.5) + 1, 2 * std::exp(-1.0) + 2, 0.0, -std::exp(0.5) + 1, 2.0, 1.0};
  for (int64_t i = 0; i < 6; ++i) BOOST_TEST(y.value()[i] == want[i], boost::test_tools::tolerance(1e-14));
  BOOST_TEST(ld.value().to_vector() == std::vector<double>({-0.5, -0.5}), boost::test_tools::per_element());
  // A transform that takes no condition ignores one (a Composite hands c to every step).
  const auto yc = a.forward(VarD(TensorD::from({1.0, 2.0, 3.0}, {1, 3})), VarD(TensorD::zeros({1, 7}))).out.value();
  BOOST_TEST(yc[0] == want[0], boost::test_tools::tolerance(1e-14));

  auto p = Permutation<double>::reverse(3);
  const auto [py, pld] = p->forward(VarD(TensorD::from({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3})));
  BOOST_TEST(py.value().to_vector() == std::vector<double>({3, 2, 1, 6, 5, 4}), boost::test_tools::per_element());
  BOOST_TEST(pld.value().to_vector() == std::vector<double>({0, 0}), boost::test_tools::per_element());
  Permutation<double> q({2, 0, 1});  // y = (x2, x0, x1)
  const auto qy = q.forward(VarD(TensorD::from({10.0, 20.0, 30.0}, {1, 3}))).out.value();
  BOOST_TEST(qy.to_vector() == std::vector<double>({30, 10, 20}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(logit_preprocessing_closed_form_and_extremes) {
  const double lam = 0.05;
  LogitTransform<double> t(2, lam);
  const auto [y, ld] = t.forward(VarD(TensorD::from({0.5, 0.9}, {1, 2})));
  const double p = lam + (1 - 2 * lam) * 0.9;
  BOOST_TEST(y.value()[0] == 0.0, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(y.value()[1] == std::log(p / (1 - p)), boost::test_tools::tolerance(1e-14));
  // d logit(p)/du = (1 − 2λ) / (p (1 − p)), one factor per coordinate
  const double want = std::log((1 - 2 * lam) / 0.25) + std::log((1 - 2 * lam) / (p * (1 - p)));
  BOOST_TEST(ld.value()[0] == want, boost::test_tools::tolerance(1e-14));
  // Dequantised pixels reach u = 0 and u → 1: with λ = 1e-6 they map to about ∓13.8, finite. A
  // y far out maps back into (0, 1) with a finite log-det, in float too (σ of ±40 saturates).
  LogitTransform<float> f(2);
  const auto e = f.forward(VarF(TensorF::from({0.0f, 255.999f / 256}, {1, 2})));
  BOOST_TEST(std::isfinite(e.out.value()[0]));
  BOOST_TEST(std::isfinite(e.log_det.value()[0]));
  BOOST_TEST(e.out.value()[0] == std::log(1e-6), boost::test_tools::tolerance(1e-4));
  const auto back = f.inverse(VarF(TensorF::from({-40.0f, 40.0f}, {1, 2})));
  BOOST_TEST(back.out.value()[0] >= -1.01e-6f);  // σ(−40) = 0 in float: u = −λ / (1 − 2λ)
  BOOST_TEST(back.out.value()[1] <= 1 + 1.01e-6f);
  BOOST_TEST(std::isfinite(back.log_det.value()[0]));
  BOOST_TEST(thrown_message([] { LogitTransform<double>(2, 0.5); }).find("lambda must be in [0, 0.5)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_new_spline_coupling_is_the_identity_and_names_its_raw_values) {
  // Zero weights, zero width and height biases, derivative biases log(e^{1−m} − 1): the identity,
  // inside [−B, B], on its ends and in the tails, both ways, with log-det 0.
  Rng rng(3);
  SplineCoupling<double> s(3, {8}, 1, rng, 6, 2.0);
  BOOST_TEST(s.net().sizes().back() == 2 * 17);  // parity 1 passes j = 1: 3K − 1 raw values for each of j = 0, 2
  const TensorD x = TensorD::from({-2.0, 0.3, 2.0, 1.999, -7.0, -0.5, 0.0, 1e3, 1.2}, {3, 3});
  for (bool inverse : {false, true}) {
    const TransformOut<double> r = inverse ? s.inverse(VarD(x)) : s.forward(VarD(x));
    for (int64_t i = 0; i < x.numel(); ++i) BOOST_TEST(r.out.value()[i] == x[i], boost::test_tools::tolerance(1e-14));
    for (int64_t i = 0; i < 3; ++i) BOOST_TEST(std::abs(r.log_det.value()[i]) < 1e-13);
  }
  BOOST_TEST(s.describe() == "SplineCoupling(3, parity 1, 6 bins on [-2, 2])");
  BOOST_TEST(thrown_message([&] { SplineCoupling<double>(2, {4}, 0, rng, 0); }) ==
             "SplineCoupling: bins must be in [1, 1000], got 0");
  BOOST_TEST(thrown_message([&] { SplineCoupling<double>(2, {4}, 0, rng, 4, -1.0); }).find(
                 "SplineCoupling: tail_bound must be a positive number") == 0u);
}

BOOST_AUTO_TEST_CASE(random_permutation_is_a_seeded_permutation) {
  Rng r1(5), r2(5), r3(6);
  const auto a = Permutation<float>::random(50, r1)->perm(), b = Permutation<float>::random(50, r2)->perm(),
             c = Permutation<float>::random(50, r3)->perm();
  BOOST_TEST(a == b);
  BOOST_TEST(a != c);
  std::vector<int64_t> sorted = a, iota(50);
  std::sort(sorted.begin(), sorted.end());
  std::iota(iota.begin(), iota.end(), 0);
  BOOST_TEST(sorted == iota);
  BOOST_TEST(a != iota);  // 1/50! chance for a correct shuffle
}

BOOST_AUTO_TEST_CASE(composite_names_children_with_dotted_prefixes) {
  Rng rng(1);
  Composite<double> t({std::make_shared<ElementwiseAffine<double>>(3), std::make_shared<ConditionalAffine<double>>(3, 2, rng),
                       Permutation<double>::reverse(3), std::make_shared<ElementwiseAffine<double>>(3)});
  std::vector<std::string> names;
  for (auto& [n, p] : t.named_parameters()) names.push_back(n);
  const std::vector<std::string> want{"0.log_scale",          "0.shift",
                                      "1.scale_net.weight",   "1.scale_net.bias",
                                      "1.shift_net.weight",   "1.shift_net.bias",
                                      "3.log_scale",          "3.shift"};
  BOOST_TEST(names == want, boost::test_tools::per_element());
  BOOST_TEST(t.parameter("1.scale_net.weight").name() == "1.scale_net.weight");
  BOOST_TEST(t.condition_dim() == 2);
  BOOST_TEST(t.dim() == 3);
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_named) {
  Rng rng(2);
  ElementwiseAffine<double> a(3);
  BOOST_TEST(thrown_message([&] { a.forward(VarD(TensorD::zeros({4, 2}))); }) ==
             "ElementwiseAffine(3)::forward: expected input [N,3], got [4,2]");
  BOOST_TEST(thrown_message([&] { a.inverse(VarD(TensorD::zeros({3}))); }) ==
             "ElementwiseAffine(3)::inverse: expected input [N,3], got [3]");
  ConditionalAffine<double> ca(3, 2, rng);
  BOOST_TEST(thrown_message([&] { ca.forward(VarD(TensorD::zeros({4, 3}))); }) ==
             "ConditionalAffine::forward: this transform needs a condition c:[N,2], got none");
  BOOST_TEST(thrown_message([&] { ca.forward(VarD(TensorD::zeros({4, 3})), VarD(TensorD::zeros({5, 2}))); }) ==
             "ConditionalAffine::forward: expected condition [4,2] for input [4,3], got [5,2]");
  BOOST_TEST(thrown_message([] { Permutation<double>({0, 2, 2}); }) ==
             "Permutation: index 2 appears at positions 1 and 2 (must appear once)");
  BOOST_TEST(thrown_message([] { Permutation<double>({0, 3, 1}); }) ==
             "Permutation: entry 1 is 3, expected an index in [0,3)");
  BOOST_TEST(thrown_message([] {
               Composite<double>({std::make_shared<ElementwiseAffine<double>>(3),
                                  std::make_shared<ElementwiseAffine<double>>(4)});
             }) == "Composite: step 1 (ElementwiseAffine(4)) has dimension 4, step 0 (ElementwiseAffine(3)) has 3");
  BOOST_TEST(thrown_message([&] {
               Composite<double>({std::make_shared<ConditionalAffine<double>>(3, 2, rng),
                                  std::make_shared<ConditionalAffine<double>>(3, 5, rng)});
             }) == "Composite: step 1 takes a condition of width 5, step 0 one of width 2 (they share one c)");
  BOOST_TEST(thrown_message([] { Composite<double>({}); }) == "Composite: needs at least one transform");
}


