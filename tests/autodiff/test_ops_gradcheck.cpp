// Every differentiable op of autodiff/ops.hpp against central differences, in double,
// with broadcast cases and edge values, and each case's function once more in float against
// double (the same inputs, output and gradients within 1e-4 of the largest). The last two cases check that nothing was left out: every
// op of the hand-kept list of autodiff/ops.hpp's functions, and every kind of graph node the ops'
// sources can record (the op names they pass to Var::record, read from autodiff/ops/*.cpp) must
// appear in the graph of some gradchecked function here, so a new op without a gradcheck fails.
#define BOOST_TEST_MODULE ops_gradcheck
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"

using namespace lz;
using V = std::vector<VarD>;

namespace {
std::set<std::string>& covered() {
  static std::set<std::string> s;
  return s;
}

// The op names of the nodes in the graphs of gradchecked functions.
std::set<std::string>& recorded() {
  static std::set<std::string> s;
  return s;
}

void collect_ops(const Node<double>* n, std::set<const Node<double>*>& seen) {
  if (n == nullptr || !seen.insert(n).second) return;
  recorded().insert(n->op);
  for (const auto& in : n->inputs) collect_ops(in.get(), seen);
}

// The scalar type of a generic check's inputs: double in the gradcheck, float in the comparison.
template <class VV>
using T_of = typename std::decay_t<VV>::value_type::value_type;

template <class T>
Tensor<T> as(const TensorD& t) {
  Tensor<T> out = Tensor<T>::empty(t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<T>(t[i]);
  return out;
}
template <class T>
TensorD as_double(const Tensor<T>& t) {
  TensorD out = TensorD::empty(t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<double>(t[i]);
  return out;
}

// The ops compared in float against double.
std::set<std::string>& float_covered() {
  static std::set<std::string> s;
  return s;
}

// |a − b| ≤ tol · max(1, max |b|) elementwise (equal infinities and NaNs agree).
void near_in_float(const std::string& what, const TensorD& a, const TensorD& b, double tol) {
  BOOST_REQUIRE(a.shape() == b.shape());
  double scale = 1;
  for (int64_t i = 0; i < b.numel(); ++i)
    if (std::isfinite(b[i])) scale = std::max(scale, std::abs(b[i]));
  for (int64_t i = 0; i < b.numel(); ++i) {
    if (!std::isfinite(b[i])) {
      BOOST_TEST((a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))), what << " element " << i << ": float " << a[i] << " vs double " << b[i]);
      continue;
    }
    BOOST_TEST(std::abs(a[i] - b[i]) <= tol * scale, what << " element " << i << ": float " << a[i] << " vs double " << b[i]);
  }
}

// The float instantiation (other SIMD width, other kernels) against the double one on the same
// inputs (rounded to float first, so both see the same numbers): the output, and the gradient of
// a fixed random projection of it with respect to every input, within 1e-4 of the largest.
template <class F>
void float_matches_double(const std::string& op, const F& f, const std::vector<TensorD>& in) {
  std::vector<VarD> vd;
  std::vector<VarF> vf;
  for (const TensorD& t : in) {
    const TensorF tf = as<float>(t);
    vf.emplace_back(tf, true);
    vd.emplace_back(as_double(tf), true);
  }
  const VarD yd = f(vd);
  const VarF yf = f(vf);
  near_in_float(op + " output", as_double(yf.value()), yd.value(), 1e-4);
  Rng rng(17);
  TensorD r = TensorD::normal(yd.value().shape(), 0, 1, rng);
  for (int64_t i = 0; i < r.numel(); ++i)
    if (!std::isfinite(yd.value()[i])) r[i] = 0;  // an infinite output contributes no gradient
  const TensorF rf = as<float>(r);
  sum(yd * VarD(as_double(rf))).backward();
  sum(yf * VarF(rf)).backward();
  for (size_t k = 0; k < in.size(); ++k) {
    BOOST_REQUIRE(vd[k].grad().defined() == vf[k].grad().defined());
    if (vd[k].grad().defined())
      near_in_float(op + " gradient of input " + std::to_string(k), as_double(vf[k].grad()), vd[k].grad(), 1e-4);
  }
  float_covered().insert(op);
}

template <class F>
void check(const std::string& op, const F& f, const std::vector<TensorD>& in, GradcheckOptions opt = {}) {
  const GradcheckResult r = gradcheck(GradcheckFn(f), in, op, opt);
  BOOST_TEST(r.ok, op << ": " << r.message);
  BOOST_TEST(r.checks > 0, op << ": nothing was compared");
  covered().insert(op);
  // The same function once more, to see which nodes its graph holds.
  std::vector<VarD> vars;
  for (const TensorD& t : in) vars.emplace_back(t, true);
  std::set<const Node<double>*> seen;
  collect_ops(f(vars).node(), seen);
  if constexpr (std::is_invocable_v<const F&, const std::vector<VarF>&>) float_matches_double(op, f, in);
}

// The op names the ops' sources pass to Var<T>::record / record_range: the string literals in the
// arguments before the VJP lambda; where the name is a variable, the literals a `const char* op`
// is assigned, and the literals passed to a function taking `const char* op` (logsumexp_like).
std::set<std::string> op_names_in_sources() {
  std::set<std::string> names;
  const std::regex literal("\"([a-z_0-9]+)\""), takes_op("(\\w+)\\([^()]*const char\\* op\\)");
  auto literals = [&](const std::string& text) {
    for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it) names.insert((*it)[1]);
  };
  for (const auto& e : std::filesystem::directory_iterator(std::string(LZ_SOURCE_DIR) + "/autodiff/ops")) {
    if (e.path().extension() != ".cpp") continue;
    std::stringstream buf;
    buf << std::ifstream(e.path()).rdbuf();
    const std::string src = buf.str();
    for (const char* call : {"::record(", "::record_range("})
      for (size_t at = src.find(call); at != std::string::npos; at = src.find(call, at + 1))
        literals(src.substr(at, src.find('[', at) - at));
    for (size_t at = src.find("const char* op ="); at != std::string::npos; at = src.find("const char* op =", at + 1))
      literals(src.substr(at, src.find(';', at) - at));
    for (std::sregex_iterator it(src.begin(), src.end(), takes_op), end; it != end; ++it) {
      const std::string callee = std::string((*it)[1]) + "(";
      for (size_t at = src.find(callee); at != std::string::npos; at = src.find(callee, at + 1))
        if (at > 0 && src[at - 1] != '_' && !std::isalnum(static_cast<unsigned char>(src[at - 1])))
          literals(src.substr(at, src.find(';', at) - at));
    }
  }
  return names;
}

TensorD randn(Shape s, Rng& rng) { return TensorD::normal(std::move(s), 0.0, 1.0, rng); }
// Entries with |x| in [0.1, 2], random sign: away from the kinks of abs/relu/clamp and from 0 for div.
TensorD away_from_zero(Shape s, Rng& rng) {
  TensorD t = TensorD::uniform(std::move(s), 0.1, 2.0, rng);
  for (int64_t i = 0; i < t.numel(); ++i)
    if (rng.uniform() < 0.5) t[i] = -t[i];
  return t;
}
TensorD positive(Shape s, Rng& rng) { return TensorD::uniform(std::move(s), 0.5, 2.0, rng); }

// Broadcast pairs: same, scalar (both sides), row (both sides), column (both sides), both broadcast, 3-D general.
const std::vector<std::pair<Shape, Shape>> kPairs = {
    {{3, 4}, {3, 4}}, {{3, 4}, {}},     {{}, {3, 4}},     {{3, 4}, {4}},        {{4}, {3, 4}},
    {{3, 4}, {3, 1}}, {{3, 1}, {3, 4}}, {{3, 1}, {1, 4}}, {{2, 1, 4}, {3, 1}}, {{1, 4}, {2, 3, 1}}};
}  // namespace

BOOST_AUTO_TEST_CASE(binary_elementwise_all_broadcast_cases) {
  Rng rng(1);
  for (const auto& [sa, sb] : kPairs) {
    BOOST_TEST_CONTEXT("shapes " << shape_str(sa) << " and " << shape_str(sb)) {
      check("add", [](const auto& v) { return add(v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
      check("sub", [](const auto& v) { return sub(v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
      check("mul", [](const auto& v) { return mul(v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
      check("div", [](const auto& v) { return div(v[0], v[1]); }, {randn(sa, rng), away_from_zero(sb, rng)});
    }
  }
}

BOOST_AUTO_TEST_CASE(unary_elementwise) {
  Rng rng(2);
  const Shape s{3, 5};  // 15 elements: two SIMD batches and a scalar tail in float, more in double
  check("add_scalar", [](const auto& v) { return v[0] + 0.7; }, {randn(s, rng)});
  check("mul_scalar", [](const auto& v) { return v[0] * -1.3; }, {randn(s, rng)});
  check("scalar_sub", [](const auto& v) { return 2.0 - v[0]; }, {randn(s, rng)});
  check("neg", [](const auto& v) { return -v[0]; }, {randn(s, rng)});
  check("pow", [](const auto& v) { return pow(v[0], T_of<decltype(v)>(2.5)); }, {positive(s, rng)});
  check("pow", [](const auto& v) { return pow(v[0], T_of<decltype(v)>(-1.5)); }, {positive(s, rng)});
  check("exp", [](const auto& v) { return exp(v[0]); }, {randn(s, rng)});
  check("log", [](const auto& v) { return log(v[0]); }, {positive(s, rng)});
  check("sqrt", [](const auto& v) { return sqrt(v[0]); }, {positive(s, rng)});
  check("abs", [](const auto& v) { return abs(v[0]); }, {away_from_zero(s, rng)});
  check("square", [](const auto& v) { return square(v[0]); }, {randn(s, rng)});
}

BOOST_AUTO_TEST_CASE(activations) {
  Rng rng(3);
  const Shape s{4, 5};
  check("tanh", [](const auto& v) { return tanh(v[0]); }, {randn(s, rng)});
  check("sigmoid", [](const auto& v) { return sigmoid(v[0]); }, {randn(s, rng)});
  check("relu", [](const auto& v) { return relu(v[0]); }, {away_from_zero(s, rng)});
  check("leaky_relu", [](const auto& v) { return leaky_relu(v[0], T_of<decltype(v)>(0.2)); }, {away_from_zero(s, rng)});
  check("softplus", [](const auto& v) { return softplus(v[0]); }, {randn(s, rng)});
  check("log_sigmoid", [](const auto& v) { return log_sigmoid(v[0]); }, {randn(s, rng)});
  check("clamp", [](const auto& v) { return clamp(v[0], T_of<decltype(v)>(-0.05), T_of<decltype(v)>(0.05)); }, {away_from_zero(s, rng)});
  check("clamp", [](const auto& v) { return clamp(v[0], T_of<decltype(v)>(-1.0), T_of<decltype(v)>(1.0)); },
        {TensorD::from({-1.5, -0.5, 0.3, 0.9, 1.2, 3.0, -0.99, 0.0})});
  // Edge values: far tails of softplus and log_sigmoid.
  const TensorD tails = TensorD::from({-100.0, -50.0, -20.0, 0.0, 20.0, 50.0, 100.0});
  check("softplus", [](const auto& v) { return softplus(v[0]); }, {tails});
  check("log_sigmoid", [](const auto& v) { return log_sigmoid(v[0]); }, {tails});
  check("sigmoid", [](const auto& v) { return sigmoid(v[0]); }, {tails});
}

BOOST_AUTO_TEST_CASE(where_broadcast) {
  Rng rng(4);
  TensorD mask({3, 4});
  for (int64_t i = 0; i < mask.numel(); ++i) mask[i] = (i * 7) % 3 == 0 ? 1.0 : 0.0;
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{3, 4}, {3, 4}}, {{4}, {}}, {{3, 1}, {1, 4}}})
    check("where", [mask](const auto& v) { return where(as<T_of<decltype(v)>>(mask), v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
}

BOOST_AUTO_TEST_CASE(activation_closed_forms_in_the_tails) {
  const VarD x(TensorD::from({-100.0, -50.0, 50.0, 100.0}), true);
  const TensorD sp = softplus(x).value(), ls = log_sigmoid(x).value();
  // softplus(x) = log1p(e^x) for x < 0; x + log1p(e^-x) for x > 0; a naive log(1+e^x) would give 0 or inf.
  for (int64_t i = 0; i < 4; ++i) {
    const double xi = x.value()[i];
    const double want = xi < 0 ? std::log1p(std::exp(xi)) : xi + std::log1p(std::exp(-xi));
    BOOST_TEST(sp[i] == want, boost::test_tools::tolerance(1e-15));
    BOOST_TEST(ls[i] == -(xi > 0 ? std::log1p(std::exp(-xi)) : -xi + std::log1p(std::exp(xi))),
               boost::test_tools::tolerance(1e-15));
  }
  BOOST_TEST(sp[0] > 0.0);  // 3.7e-44, not rounded to 0
  BOOST_TEST(ls[3] < 0.0);
}

BOOST_AUTO_TEST_CASE(reductions) {
  Rng rng(5);
  const TensorD x = randn({3, 4, 5}, rng);
  check("sum", [](const auto& v) { return sum(v[0]); }, {x});
  check("mean", [](const auto& v) { return mean(v[0]); }, {x});
  for (int64_t axis : {0, 1, 2, -1})
    for (bool keep : {false, true}) {
      BOOST_TEST_CONTEXT("axis " << axis << " keepdim " << keep) {
        check("sum_axis", [=](const auto& v) { return sum(v[0], axis, keep); }, {x});
        check("mean_axis", [=](const auto& v) { return mean(v[0], axis, keep); }, {x});
        check("max", [=](const auto& v) { return max(v[0], axis, keep); }, {x});
        check("logsumexp", [=](const auto& v) { return logsumexp(v[0], axis, keep); }, {x});
        check("log_mean_exp", [=](const auto& v) { return log_mean_exp(v[0], axis, keep); }, {x});
      }
    }
  for (int64_t axis : {0, 1, 2}) {
    check("log_softmax", [=](const auto& v) { return log_softmax(v[0], axis); }, {x});
    check("softmax", [=](const auto& v) { return softmax(v[0], axis); }, {x});
  }
}

BOOST_AUTO_TEST_CASE(logsumexp_with_minus_infinity) {
  const double ninf = -std::numeric_limits<double>::infinity();
  // Rows with some -inf entries are differentiable; finite differences see a constant there.
  const TensorD x = TensorD::from({0.5, ninf, -1.0, 2.0, ninf, ninf, 0.1, ninf, ninf, 3.0, -2.0, 1.0}, {3, 4});
  check("logsumexp", [](const auto& v) { return logsumexp(v[0], 1); }, {x});
  check("log_mean_exp", [](const auto& v) { return log_mean_exp(v[0], 1); }, {x});
  check("softmax", [](const auto& v) { return softmax(v[0], 1); }, {x});  // (log_softmax is -inf there)
  check("logsumexp", [](const auto& v) { return logsumexp(v[0], 0); }, {x});

  // A slice of only -inf: value -inf, gradient exactly 0, no NaN anywhere; other slices unaffected.
  for (int64_t axis : {1, 0}) {
    const TensorD y = axis == 1 ? TensorD::from({ninf, ninf, ninf, 0.0, std::log(3.0), ninf}, {2, 3})
                                : TensorD::from({ninf, 0.0, ninf, std::log(3.0), ninf, ninf}, {3, 2});
    for (bool mean_form : {false, true}) {
      VarD v(y, true);
      VarD out = mean_form ? log_mean_exp(v, axis) : logsumexp(v, axis);
      BOOST_TEST(out.value()[0] == ninf);
      BOOST_TEST(out.value()[1] == std::log(4.0) - (mean_form ? std::log(3.0) : 0.0), boost::test_tools::tolerance(1e-15));
      sum(out).backward();
      const TensorD g = v.grad();
      // Gradient of slice 1 is softmax: (1/4, 3/4, 0); slice 0 gets 0.
      const std::vector<double> want = axis == 1 ? std::vector<double>{0, 0, 0, 0.25, 0.75, 0}
                                                 : std::vector<double>{0, 0.25, 0, 0.75, 0, 0};
      for (int64_t i = 0; i < 6; ++i) BOOST_TEST(g[i] == want[i], boost::test_tools::tolerance(1e-15));
    }
  }
  covered().insert("logsumexp");
}

BOOST_AUTO_TEST_CASE(logsumexp_with_huge_entries) {
  for (double big : {1e4, -1e4}) {
    // log(e^b + 2e^b + e^{b-3}) = b + log(3 + e^-3); gradient = (1, 2, e^-3) / (3 + e^-3)
    const TensorD x = TensorD::from({big, big + std::log(2.0), big - 3.0, big, big, big}, {2, 3});
    VarD v(x, true);
    VarD out = logsumexp(v, 1);
    BOOST_TEST(out.value()[0] == big + std::log(3.0 + std::exp(-3.0)), boost::test_tools::tolerance(1e-15));
    BOOST_TEST(out.value()[1] == big + std::log(3.0), boost::test_tools::tolerance(1e-15));
    VarD lme = log_mean_exp(v, 1);
    BOOST_TEST(lme.value()[1] == big, boost::test_tools::tolerance(1e-15));
    sum(out).backward();
    const double z = 3.0 + std::exp(-3.0);
    const std::vector<double> want{1 / z, 2 / z, std::exp(-3.0) / z, 1 / 3.0, 1 / 3.0, 1 / 3.0};
    for (int64_t i = 0; i < 6; ++i) BOOST_TEST(v.grad()[i] == want[i], boost::test_tools::tolerance(1e-12));
    // Finite differences still work at this magnitude (x ± 1e-6 is representable to ~1e-12).
    check("logsumexp", [](const auto& w) { return logsumexp(w[0], 1); }, {x});
    check("softmax", [](const auto& w) { return softmax(w[0], 1); }, {x});
  }
}

BOOST_AUTO_TEST_CASE(linear_algebra) {
  Rng rng(6);
  check("matmul", [](const auto& v) { return matmul(v[0], v[1]); }, {randn({3, 4}, rng), randn({4, 5}, rng)});
  check("matmul", [](const auto& v) { return matmul(v[0], v[1]); }, {randn({2, 3, 4}, rng), randn({2, 4, 5}, rng)});
  check("matmul", [](const auto& v) { return matmul(v[0], v[1]); }, {randn({2, 3, 4}, rng), randn({4, 5}, rng)});
  check("matmul", [](const auto& v) { return matmul(v[0], v[1]); }, {randn({3, 4}, rng), randn({2, 4, 5}, rng)});
  check("linear", [](const auto& v) { return linear(v[0], v[1], v[2]); },
        {randn({6, 4}, rng), randn({3, 4}, rng), randn({3}, rng)});
  // Inputs away from zero keep every pre-activation off relu's kink (|x w^T + b| >= 0.1 checked below).
  {
    const TensorD x = away_from_zero({6, 4}, rng), w = away_from_zero({3, 4}, rng), b = away_from_zero({3}, rng);
    const TensorD pre = add(matmul(x, w, false, true), b);
    double closest = 1e9;
    for (int64_t i = 0; i < pre.numel(); ++i) closest = std::min(closest, std::abs(pre[i]));
    BOOST_TEST(closest > 1e-3);  // central differences with eps 1e-6 never cross the kink
    check("linear_relu", [](const auto& v) { return linear_relu(v[0], v[1], v[2]); }, {x, w, b});
  }
  check("transpose", [](const auto& v) { return transpose(v[0]); }, {randn({3, 4}, rng)});
  check("transpose", [](const auto& v) { return transpose(v[0]); }, {randn({2, 3, 4}, rng)});
}

BOOST_AUTO_TEST_CASE(triangular_solve) {
  Rng rng(1);
  TensorD L = TensorD::normal({2, 3, 3}, 0.0, 0.3, rng);
  for (int64_t k = 0; k < 2; ++k)
    for (int64_t i = 0; i < 3; ++i) L[(k * 3 + i) * 3 + i] = 1.0 + 0.5 * i;  // well conditioned
  const TensorD Y = TensorD::normal({2, 4, 3}, 0.0, 1.0, rng);
  // the forward solves: L_k z = y for every row
  const VarD Z = tri_solve_rows(VarD(L), VarD(Y));
  for (int64_t k = 0; k < 2; ++k)
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t i = 0; i < 3; ++i) {
        double s = 0;
        for (int64_t j = 0; j <= i; ++j) s += L[(k * 3 + i) * 3 + j] * Z.value()[(k * 4 + n) * 3 + j];
        BOOST_TEST(s == Y[(k * 4 + n) * 3 + i], boost::test_tools::tolerance(1e-12));
      }
  check("tri_solve_rows", [](const auto& v) { return tri_solve_rows(v[0], v[1]); }, {L, Y});
  // the strict upper triangle is never read, so its gradient is exactly zero
  VarD Lv(L, true), Yv(Y, true);
  sum(tri_solve_rows(Lv, Yv)).backward();
  BOOST_TEST(Lv.grad()[1] == 0.0);
  BOOST_TEST(Lv.grad()[9 + 5] == 0.0);
}

BOOST_AUTO_TEST_CASE(shape_ops) {
  Rng rng(7);
  const TensorD x = randn({4, 6}, rng);
  check("reshape", [](const auto& v) { return reshape(v[0], {3, -1}); }, {x});
  check("narrow", [](const auto& v) { return narrow(v[0], 1, 2, 3); }, {x});
  check("narrow", [](const auto& v) { return narrow(v[0], 0, 1, 2); }, {x});
  check("concat", [](const auto& v) { return concat<T_of<decltype(v)>>({v[0], v[1], v[0]}, 1); },
        {randn({3, 2}, rng), randn({3, 4}, rng)});
  check("concat", [](const auto& v) { return concat<T_of<decltype(v)>>({v[0], v[1]}, 0); }, {randn({2, 3}, rng), randn({1, 3}, rng)});
  // Parts reordered and weighted, so a VJP that sends a part's gradient to the wrong slice fails.
  check("split", [](const auto& v) {
    auto p = split(v[0], {1, 3, 2}, 1);
    return concat<T_of<decltype(v)>>({p[2] * 3.0, p[0], p[1] * p[1]}, 1);
  }, {x});
  check("chunk", [](const auto& v) {
    auto p = chunk(v[0], 3, 0);  // 4 rows -> sizes 2, 2
    BOOST_TEST(p.size() == 2u);
    return concat<T_of<decltype(v)>>({p[1] * 2.0, p[0]}, 1);
  }, {x});
  check("index_select", [](const auto& v) { return index_select(v[0], {3, 0, 3, 1}); }, {x});
  check("gather", [](const auto& v) { return gather(v[0], 1, {5, 0, 0, 2, 1, 1, 4, 3}, {4, 2}); }, {x});
  check("gather", [](const auto& v) { return gather(v[0], 0, {3, 0, 1, 1, 2, 0}, {2, 3}); }, {x});
  check("gather", [](const auto& v) { return gather(v[0], 1, {0, 2, 1, 1, 0, 0, 2, 2}, {2, 2, 2}); },
        {randn({2, 3, 2}, rng)});
  check("expand", [](const auto& v) { return expand(v[0], {2, 3, 4}); }, {randn({3, 1}, rng)});
  check("expand", [](const auto& v) { return expand(v[0], {5, 4}); }, {randn({4}, rng)});
}

BOOST_AUTO_TEST_CASE(losses) {
  Rng rng(8);
  // bce: targets in [0,1] with the same shape, then one target row broadcast over the batch.
  check("bce_with_logits", [](const auto& v) { return bce_with_logits(v[0], v[1]); },
        {scale(randn({4, 3}, rng), 3.0), TensorD::uniform({4, 3}, 0, 1, rng)});
  check("bce_with_logits", [](const auto& v) { return bce_with_logits(v[0], v[1]); },
        {randn({4, 3}, rng), TensorD::uniform({3}, 0, 1, rng)});
  check("bce_with_logits", [](const auto& v) { return bce_with_logits(v[0], v[1]); },
        {TensorD::from({-60.0, -30.0, 0.0, 30.0, 60.0}), TensorD::from({0.0, 1.0, 0.5, 0.0, 1.0})});
  const Shape s{5, 3};
  check("gaussian_log_density", [](const auto& v) { return gaussian_log_density(v[0], v[1], v[2]); },
        {randn(s, rng), randn(s, rng), randn(s, rng)});
  check("gaussian_log_density", [](const auto& v) { return gaussian_log_density(v[0], v[1], v[2]); },
        {randn(s, rng), randn({}, rng), randn({3}, rng)});  // scalar mean, row of log-variances
  check("gaussian_log_density", [](const auto& v) { return gaussian_log_density(v[0], v[1], v[2]); },
        {randn(s, rng), randn({5, 1}, rng), randn(s, rng)});
  check("kl_std_normal", [](const auto& v) { return kl_std_normal(v[0], v[1]); }, {randn(s, rng), randn(s, rng)});
  check("kl_std_normal", [](const auto& v) { return kl_std_normal(v[0], v[1]); }, {randn(s, rng), randn({3}, rng)});
  check("kl_diag_gaussians", [](const auto& v) { return kl_diag_gaussians(v[0], v[1], v[2], v[3]); },
        {randn(s, rng), randn(s, rng), randn(s, rng), randn(s, rng)});
  check("mse", [](const auto& v) { return mse(v[0], v[1]); }, {randn(s, rng), randn(s, rng)});
  check("mse", [](const auto& v) { return mse(v[0], v[1]); }, {randn(s, rng), randn({3}, rng)});
  check("nll", [](const auto& v) { return nll(v[0], {2, 0, 1, 1, 2}); }, {randn(s, rng)});
  check("nll", [](const auto& v) { return nll(log_softmax(v[0], 1), {2, 0, 1, 1, 2}); }, {randn(s, rng)});
}

BOOST_AUTO_TEST_CASE(likelihoods) {
  Rng rng(9);
  const TensorD x = TensorD::uniform({3, 4}, 0, 1, rng);
  // x a constant (data): the fused node, for logits of x's shape and for k = 2 samples sharing x.
  const auto fused = [x](const auto& v) { return bernoulli_log_prob(v[0], Var<T_of<decltype(v)>>(as<T_of<decltype(v)>>(x))); };
  BOOST_TEST(std::string(fused(V{VarD(randn({2, 3, 4}, rng), true)}).op()) == "bernoulli_log_prob");
  check("bernoulli_log_prob", fused, {scale(randn({3, 4}, rng), 3.0)});
  check("bernoulli_log_prob", fused, {randn({2, 3, 4}, rng)});
  const TensorD t = TensorD::from({0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.0, 0.3}, {2, 4});  // far tails of both signs
  check("bernoulli_log_prob", [t](const auto& v) { return bernoulli_log_prob(v[0], Var<T_of<decltype(v)>>(as<T_of<decltype(v)>>(t))); },
        {TensorD::from({-60.0, -30.0, -1.0, 0.0, 1.0, 30.0, 60.0, 2.0}, {2, 4})});
  // x differentiable as well: the composed path, gradients to both.
  check("bernoulli_log_prob", [](const auto& v) { return bernoulli_log_prob(v[0], v[1]); },
        {randn({2, 3, 4}, rng), TensorD::uniform({3, 4}, 0, 1, rng)});
}

BOOST_AUTO_TEST_CASE(rational_quadratic_spline) {
  // Inputs across [−B, B] and in both tails (identity there: gradient 1 to x, 0 to the raw values),
  // raw values large enough to give uneven bins and derivatives far from 1; out and log-derivative
  // checked together (concatenated, so v covers both VJPs).
  Rng rng(10);
  const int64_t K = 5;
  TensorD x = TensorD::uniform({3, 4}, -2.8, 2.8, rng);
  x[1] = -4.0, x[6] = 3.5, x[11] = 7.0;
  const auto both = []<typename T>(const WithLogDet<T>& r) {
    return concat<T>({reshape(r.out, {-1, 1}), reshape(r.log_abs_det, {-1, 1})}, 1);
  };
  const RqSplineOptions o{.tail_bound = 3.0};
  for (double spread : {1.0, 3.0}) {
    const TensorD w = scale(randn({3, 4, K}, rng), spread), h = scale(randn({3, 4, K}, rng), spread),
                  d = scale(randn({3, 4, K - 1}, rng), spread);
    check("rq_spline", [&](const auto& v) { return both(rq_spline(v[0], v[1], v[2], v[3], o)); }, {x, w, h, d});
    check("rq_spline_inverse", [&](const auto& v) { return both(rq_spline_inverse(v[0], v[1], v[2], v[3], o)); },
          {x, w, h, d});
  }
  // One bin (K = 1: no interior knot, no raw derivative) and another bound.
  const TensorD x1 = TensorD::from({-0.9, 0.2, 0.7, 1.4}, {2, 2});
  check("rq_spline", [&](const auto& v) { return both(rq_spline(v[0], v[1], v[2], v[3], {.tail_bound = 1.0})); },
        {x1, randn({2, 2, 1}, rng), randn({2, 2, 1}, rng), TensorD::zeros({2, 2, 0})});
}

BOOST_AUTO_TEST_CASE(affine_coupling_fused) {
  // Output and log-determinant together (as the spline's), gradients to x, raw and scale; raw
  // large enough that tanh is far from linear, a negative scale, a passed coordinate (keep 0).
  Rng rng(11);
  const TensorD keep = TensorD::from({1.0, 0.0, 1.0}, {3});
  const auto both = []<typename T>(const WithLogDet<T>& r) {
    return concat<T>({r.out, reshape(r.log_abs_det, {-1, 1})}, 1);
  };
  const std::vector<TensorD> in{randn({4, 3}, rng), scale(randn({4, 6}, rng), 1.5),
                                TensorD::from({0.8, 1.3, -0.6}, {3})};
  check("affine_coupling", [&](const auto& v) { return both(affine_coupling(v[0], v[1], v[2], as<T_of<decltype(v)>>(keep))); }, in);
  check("affine_coupling_inverse", [&](const auto& v) { return both(affine_coupling_inverse(v[0], v[1], v[2], as<T_of<decltype(v)>>(keep))); },
        in);
}

BOOST_AUTO_TEST_CASE(loss_closed_forms) {
  // gaussian_log_density against the textbook formula; kl against the integral's closed form.
  const VarD x(TensorD::from({0.3, -1.2}), false), m(TensorD::from({0.1, 0.4}), false), lv(TensorD::from({-0.5, 1.3}), false);
  const TensorD ld = gaussian_log_density(x, m, lv).value(), kl = kl_std_normal(m, lv).value();
  for (int64_t i = 0; i < 2; ++i) {
    const double var = std::exp(lv.value()[i]), d = x.value()[i] - m.value()[i];
    BOOST_TEST(ld[i] == -0.5 * std::log(2 * M_PI * var) - d * d / (2 * var), boost::test_tools::tolerance(1e-14));
    const double mu = m.value()[i];
    BOOST_TEST(kl[i] == 0.5 * (var + mu * mu - 1 - std::log(var)), boost::test_tools::tolerance(1e-14));
  }
  // KL between two Gaussians: the textbook form, zero for q = p, and N(0, 1) as p gives kl_std_normal.
  const VarD mp(TensorD::from({-0.7, 2.0}), false), lp(TensorD::from({0.9, -0.4}), false);
  const TensorD kq = kl_diag_gaussians(m, lv, mp, lp).value();
  for (int64_t i = 0; i < 2; ++i) {
    const double vq = std::exp(lv.value()[i]), vp = std::exp(lp.value()[i]), d = m.value()[i] - mp.value()[i];
    BOOST_TEST(kq[i] == 0.5 * (std::log(vp / vq) + (vq + d * d) / vp - 1), boost::test_tools::tolerance(1e-14));
  }
  const TensorD self = kl_diag_gaussians(m, lv, m, lv).value(), to_std = kl_diag_gaussians(m, lv, VarD(TensorD::zeros({2})), VarD(TensorD::zeros({2}))).value();
  for (int64_t i = 0; i < 2; ++i) {
    BOOST_TEST(self[i] == 0.0);
    BOOST_TEST(to_std[i] == kl[i], boost::test_tools::tolerance(1e-15));
  }
  // bce at |x| = 800: no overflow, equals the softplus identity.
  const TensorD b = bce_with_logits(VarD(TensorD::from({800.0, -800.0}), false), VarD(TensorD::from({0.0, 0.0}), false)).value();
  BOOST_TEST(b[0] == 800.0);
  BOOST_TEST(b[1] == 0.0);
}

BOOST_AUTO_TEST_CASE(max_sends_the_gradient_to_the_first_maximum_only) {
  // Ties are not differentiable; as PyTorch's max(dim) the first maximum takes the whole gradient.
  VarD x(TensorD::from({1.0, 3.0, 3.0, 2.0, 5.0, 5.0}, {2, 3}), true);
  VarD m = max(x, 1);
  BOOST_TEST(m.value()[0] == 3.0);
  BOOST_TEST(m.value()[1] == 5.0);
  sum(m * VarD(TensorD::from({10.0, 20.0}))).backward();
  const std::vector<double> want{0, 10, 0, 0, 20, 0};
  for (int64_t i = 0; i < 6; ++i) BOOST_TEST(x.grad()[i] == want[i]);
}

// Runs last (Boost.Test keeps declaration order): every op declared in autodiff/ops.hpp was checked.
BOOST_AUTO_TEST_CASE(every_declared_op_is_covered) {
  const std::vector<std::string> declared = {
      "add", "sub", "mul", "div", "add_scalar", "mul_scalar", "scalar_sub", "neg", "pow", "exp", "log", "sqrt",
      "abs", "square",                                                                          // elementwise
      "tanh", "sigmoid", "relu", "leaky_relu", "softplus", "log_sigmoid", "clamp", "where",     // activation
      "sum", "sum_axis", "mean", "mean_axis", "max", "logsumexp", "log_mean_exp", "log_softmax", "softmax",
      "matmul", "linear", "linear_relu", "transpose", "tri_solve_rows",                         // linalg
      "reshape", "narrow", "concat", "split", "chunk", "index_select", "gather", "expand",      // shape
      "bce_with_logits", "gaussian_log_density", "kl_std_normal", "kl_diag_gaussians", "mse", "nll",  // loss
      "bernoulli_log_prob",                                                                     // likelihood
      "rq_spline", "rq_spline_inverse", "affine_coupling", "affine_coupling_inverse"};         // flow ops
  for (const auto& op : declared) BOOST_TEST(covered().count(op) == 1u, "op not gradchecked: " << op);
  for (const auto& op : declared) BOOST_TEST(float_covered().count(op) == 1u, "op not compared in float against double: " << op);
  BOOST_TEST(covered().size() == declared.size());
  BOOST_TEST_MESSAGE(covered().size() << " ops in the suite (every op of autodiff/ops.hpp gradchecked in double)");
}

// Runs last too: every kind of node the ops' sources record was in a gradchecked graph above.
BOOST_AUTO_TEST_CASE(every_recorded_node_is_gradchecked) {
  const std::set<std::string> in_sources = op_names_in_sources();
  BOOST_TEST(in_sources.size() > 40u, "found only " << in_sources.size() << " op names in autodiff/ops/*.cpp");
  for (const char* known : {"tanh", "affine_coupling_inverse", "rq_spline", "logsumexp"})
    BOOST_TEST(in_sources.count(known) == 1u, "the source scan missed " << known);
  for (const auto& op : in_sources)
    BOOST_TEST(recorded().count(op) == 1u, "op '" << op << "' is recorded by autodiff/ops but no gradcheck here builds it");
  BOOST_TEST_MESSAGE(in_sources.size() << " node kinds in autodiff/ops, each in a gradchecked graph");
}
