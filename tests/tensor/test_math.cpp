// The stable formulas of tensor/math.hpp against naive double-precision loops and closed forms in
// their tails, through the SIMD maps (batch body and scalar tail) at ragged lengths.
#define BOOST_TEST_MODULE tensor_math
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/math.hpp"
#include "tensor/tensor.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

double naive_lse(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += std::exp(x);
  return std::log(s);
}
}  // namespace

BOOST_AUTO_TEST_CASE(log_2pi) {
  // Correctly rounded: log(2π) in 80-bit long double, then rounded once (std::log(2 * M_PI) is 1 ulp off).
  const long double two_pi = 6.283185307179586476925286766559005768L;
  BOOST_TEST(math::kLog2Pi == static_cast<double>(std::log(two_pi)));
}

BOOST_AUTO_TEST_CASE(softplus_sigmoid_bce_against_naive_forms_and_tails) {
  Rng rng(1);
  const int64_t n = 37;  // batches and a ragged scalar tail
  const TensorD x = TensorD::normal({n}, 0, 4, rng), t = TensorD::uniform({n}, 0, 1, rng);
  std::vector<double> sp(n), ls(n), sg(n), bce(n);
  vec::map(n, x.data(), sp.data(), [](auto v) { return math::softplus(v); });
  vec::map(n, x.data(), ls.data(), [](auto v) { return math::log_sigmoid(v); });
  vec::map(n, x.data(), sg.data(), [](auto v) { return math::sigmoid(v); });
  vec::zip(n, x.data(), t.data(), bce.data(), [](auto v, auto tv) { return math::bce_with_logits(v, tv); });
  for (int64_t i = 0; i < n; ++i) {
    const double e = std::exp(x[i]), s = e / (1 + e);
    BOOST_TEST(sp[i] == std::log1p(e), tt::tolerance(1e-13));
    BOOST_TEST(ls[i] == std::log(s), tt::tolerance(1e-12));
    BOOST_TEST(sg[i] == s, tt::tolerance(1e-14));
    BOOST_TEST(bce[i] == -(t[i] * std::log(s) + (1 - t[i]) * std::log1p(-s)), tt::tolerance(1e-10));
  }
  // Where the naive forms overflow or lose everything: softplus(x) = x + e^{-x}, softplus(-x) = e^{-x}.
  BOOST_TEST(math::softplus(800.0) == 800.0);
  BOOST_TEST(math::softplus(-50.0) == std::exp(-50.0), tt::tolerance(1e-14));
  BOOST_TEST(math::log_sigmoid(-800.0) == -800.0);
  BOOST_TEST(math::sigmoid(-800.0) == 0.0);
  BOOST_TEST(math::bce_with_logits(1000.0, 1.0) == 0.0);
  BOOST_TEST(math::bce_with_logits(1000.0, 0.0) == 1000.0);
  BOOST_TEST(math::softplus(-50.0f) == std::exp(-50.0f), tt::tolerance(1e-6f));
}

BOOST_AUTO_TEST_CASE(logsumexp_row_and_columns_against_naive) {
  Rng rng(2);
  const int64_t n = 5, cols = 19;
  const TensorD x = TensorD::normal({n, cols}, 0, 3, rng);
  std::vector<double> out(cols), sums(cols), exps(n * cols);
  math::logsumexp_cols(n, cols, x.data(), out.data(), sums.data(), exps.data());
  for (int64_t k = 0; k < cols; ++k) {
    std::vector<double> col(n);
    for (int64_t j = 0; j < n; ++j) col[j] = x[j * cols + k];
    BOOST_TEST(out[k] == naive_lse(col), tt::tolerance(1e-14));
    double m = -kInf, s = 0;
    for (double v : col) m = std::max(m, v);
    for (int64_t j = 0; j < n; ++j) {
      BOOST_TEST(exps[j * cols + k] == std::exp(col[j] - m), tt::tolerance(1e-14));
      s += std::exp(col[j] - m);
    }
    BOOST_TEST(sums[k] == s, tt::tolerance(1e-14));
  }
  std::vector<double> out2(cols);
  math::logsumexp_cols(n, cols, x.data(), out2.data(), sums.data());  // without keeping exps
  for (int64_t k = 0; k < cols; ++k) BOOST_TEST(out2[k] == out[k]);
  const std::vector<double> row(x.data(), x.data() + cols);
  BOOST_TEST(math::logsumexp(cols, x.data()) == naive_lse(row), tt::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(logsumexp_edge_values) {
  const double big[] = {1e4, 1e4 - 1, -1e4};
  BOOST_TEST(math::logsumexp(3, big) == 1e4 + std::log1p(std::exp(-1.0)), tt::tolerance(1e-15));
  const double ninf[] = {-kInf, -kInf};
  BOOST_TEST(math::logsumexp(2, ninf) == -kInf);
  const double pinf[] = {1.0, kInf};
  BOOST_TEST(math::logsumexp(2, pinf) == kInf);
  // Columns: [2,3] with column 0 all -inf, column 1 holding +inf, column 2 a NaN.
  const double x[] = {-kInf, 1.0, 0.0, -kInf, kInf, std::nan("")};
  double out[3], sums[3];
  math::logsumexp_cols(2, 3, x, out, sums);
  BOOST_TEST(out[0] == -kInf);
  BOOST_TEST(out[1] == kInf);
  BOOST_TEST(std::isnan(out[2]));
}

BOOST_AUTO_TEST_CASE(streaming_logsumexp_matches_the_batch_kernel) {
  Rng rng(3);
  const TensorD x = TensorD::normal({1000}, 0, 20, rng);
  math::StreamingLogSumExp acc;
  for (int64_t i = 0; i < x.numel(); ++i) acc.add(x[i]);
  BOOST_TEST(acc.value() == math::logsumexp(x.numel(), x.data()), tt::tolerance(1e-13));
}

BOOST_AUTO_TEST_CASE(normal_quantile_inverts_the_normal_cdf) {
  // Φ(x) = ½ erfc(−x/√2); Acklam's approximation holds |Φ⁻¹(p) − x| to about 1e-9 relative. Up to
  // x = 5 only: beyond, p = 1 − Φ(−x) is within a few ulps of 1 and p itself carries the error.
  double worst = 0;
  for (double x = -8.0; x <= 5.0; x += 0.01) {
    const double p = 0.5 * std::erfc(-x / std::sqrt(2.0));
    worst = std::max(worst, std::abs(lz::math::normal_quantile(p) - x) / std::max(1.0, std::abs(x)));
  }
  BOOST_TEST_MESSAGE("worst relative error of normal_quantile on [-8, 5]: " << worst);
  BOOST_TEST(worst < 2e-9);
  BOOST_TEST(lz::math::normal_quantile(0.5) == 0.0);
  BOOST_TEST(std::isinf(lz::math::normal_quantile(0.0)));
  BOOST_TEST(std::isnan(lz::math::normal_quantile(1.5)));
}
