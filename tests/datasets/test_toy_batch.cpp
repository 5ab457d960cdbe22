#define BOOST_TEST_MODULE toy_batch
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "datasets/batch.hpp"
#include "datasets/toy.hpp"

using namespace lz;

namespace {
struct Moments {
  double mean = 0, se = 0;  // sample mean and its standard error
};
template <typename F>
Moments moments(int64_t n, F f) {
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = f(i);
    s += v, s2 += v * v;
  }
  const double m = s / n, var = s2 / n - m * m;
  return {m, std::sqrt(var / n)};
}
// |mean - expected| within 4.5 standard errors: fails by chance about once in 150,000 runs.
void check_mean(const Moments& m, double expected, const std::string& what) {
  BOOST_TEST_INFO(what << ": mean " << m.mean << " expected " << expected << " se " << m.se);
  BOOST_TEST(std::fabs(m.mean - expected) <= 4.5 * m.se + 1e-12);
}
}  // namespace

BOOST_AUTO_TEST_CASE(two_moons_mean_and_labels) {
  Rng rng(1);
  const int64_t n = 20000;
  const Dataset d = two_moons(n, rng, 0.1);
  BOOST_TEST(d.x.shape() == (Shape{n, 2}));
  // E[x] = (0 + 1)/2, E[y] = (2/pi + 0.5 - 2/pi)/2 over the two moons (t uniform on [0,pi]).
  check_mean(moments(n, [&](int64_t i) { return d.x[2 * i]; }), 0.5, "moons x");
  check_mean(moments(n, [&](int64_t i) { return d.x[2 * i + 1]; }), 0.25, "moons y");
  // per moon: the upper moon has E[y] = 2/pi
  check_mean(moments(n / 2, [&](int64_t i) { return d.x[2 * i + 1]; }), 2 / std::numbers::pi, "upper moon y");
  int64_t ones = 0;
  for (auto y : d.y) ones += y;
  BOOST_TEST(ones == n / 2);
}

BOOST_AUTO_TEST_CASE(circles_radii) {
  Rng rng(2);
  const int64_t n = 20000;
  const double s = 0.05;
  const Dataset d = circles(n, rng, s);
  // E|p + e|^2 = r^2 + 2 s^2 for isotropic noise e of std s
  check_mean(moments(n / 2, [&](int64_t i) { return d.x[2 * i] * d.x[2 * i] + d.x[2 * i + 1] * d.x[2 * i + 1]; }),
             1 + 2 * s * s, "outer r^2");
  check_mean(moments(n / 2, [&](int64_t i) {
               const int64_t j = i + n / 2;
               return d.x[2 * j] * d.x[2 * j] + d.x[2 * j + 1] * d.x[2 * j + 1];
             }),
             0.25 + 2 * s * s, "inner r^2");
  BOOST_TEST(d.y[0] == 0);
  BOOST_TEST(d.y[n - 1] == 1);
}

BOOST_AUTO_TEST_CASE(eight_gaussians_centres_and_weights) {
  Rng rng(3);
  const int64_t n = 40000;
  const Dataset d = eight_gaussians(n, rng, 0.1);
  for (int k = 0; k < 8; ++k) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < n; ++i)
      if (d.y[i] == k) rows.push_back(i);
    // class frequency 1/8 within 4.5 binomial standard errors
    const double p = 1.0 / 8, se = std::sqrt(p * (1 - p) / n);
    BOOST_TEST(std::fabs(static_cast<double>(rows.size()) / n - p) <= 4.5 * se);
    const double t = k * std::numbers::pi / 4;
    const int64_t m = static_cast<int64_t>(rows.size());
    check_mean(moments(m, [&](int64_t i) { return d.x[2 * rows[i]]; }), 2 * std::cos(t), "centre x");
    check_mean(moments(m, [&](int64_t i) { return d.x[2 * rows[i] + 1]; }), 2 * std::sin(t), "centre y");
  }
}

BOOST_AUTO_TEST_CASE(pinwheel_second_moment) {
  Rng rng(4);
  const int64_t n = 40000;
  const Dataset d = pinwheel(n, rng, 0.1);
  // a rotation keeps the norm: E r^2 = 4 (E f0^2 + E f1^2) = 4 (1 + 0.3^2 + 0.1^2)
  check_mean(moments(n, [&](int64_t i) { return d.x[2 * i] * d.x[2 * i] + d.x[2 * i + 1] * d.x[2 * i + 1]; }),
             4 * (1 + 0.09 + 0.01), "pinwheel r^2");
  BOOST_TEST(d.num_classes == 5);
}

BOOST_AUTO_TEST_CASE(checkerboard_only_black_squares_uniformly) {
  Rng rng(5);
  const int64_t n = 40000;
  const Dataset d = checkerboard(n, rng);
  std::vector<int64_t> cells(16, 0);
  for (int64_t i = 0; i < n; ++i) {
    const double x = d.x[2 * i], y = d.x[2 * i + 1];
    BOOST_REQUIRE(x >= -4 && x < 4 && y >= -4 && y < 4);
    const int64_t cx = static_cast<int64_t>(std::floor(x / 2)), cy = static_cast<int64_t>(std::floor(y / 2));
    BOOST_REQUIRE(((cx + cy) % 2 + 2) % 2 == 0);  // a black square
    ++cells[(cx + 2) * 4 + (cy + 2)];
  }
  const double p = 1.0 / 8, se = std::sqrt(p * (1 - p) / n);
  for (int64_t c = 0; c < 16; ++c)
    if (cells[c]) BOOST_TEST(std::fabs(static_cast<double>(cells[c]) / n - p) <= 4.5 * se);
  BOOST_TEST(!d.labelled());
}

BOOST_AUTO_TEST_CASE(two_spirals_are_point_symmetric) {
  Rng rng(6);
  const int64_t n = 20000;
  const Dataset d = two_spirals(n, rng, 0.1);
  // the second spiral is the first rotated by pi: class means are opposite
  auto m0 = moments(n / 2, [&](int64_t i) { return d.x[2 * i]; });
  auto m1 = moments(n / 2, [&](int64_t i) { return d.x[2 * (i + n / 2)]; });
  BOOST_TEST(std::fabs(m0.mean + m1.mean) <= 4.5 * std::hypot(m0.se, m1.se));
  BOOST_TEST(std::fabs(m0.mean) > 10 * m0.se);  // and not both trivially zero
}

BOOST_AUTO_TEST_CASE(inverted_sine_is_the_curve_plus_uniform_noise) {
  Rng rng(7);
  const int64_t n = 20000;
  const Dataset d = inverted_sine(n, rng, 0.1);
  BOOST_TEST(d.x.shape() == (Shape{n, 2}));
  BOOST_TEST(d.name == "inverted_sine");
  BOOST_TEST(!d.labelled());
  // y ~ U(0,1): mean 1/2; the noise e = x − (y + 0.3 sin 2πy) ~ U(−0.1, 0.1): mean 0, variance 0.2²/12,
  // never outside ±0.1 (a float's rounding of x aside).
  auto noise = [&](int64_t i) {
    const double y = d.x[2 * i + 1];
    return d.x[2 * i] - (y + 0.3 * std::sin(2 * std::numbers::pi * y));
  };
  double lo = 1, hi = -1;
  for (int64_t i = 0; i < n; ++i) {
    BOOST_REQUIRE(d.x[2 * i + 1] >= 0.0f);
    BOOST_REQUIRE(d.x[2 * i + 1] < 1.0f);
    lo = std::min(lo, noise(i)), hi = std::max(hi, noise(i));
  }
  BOOST_TEST(lo >= -0.1 - 1e-6);
  BOOST_TEST(hi <= 0.1 + 1e-6);
  BOOST_TEST(lo < -0.099);  // and it reaches its ends: uniform, not a narrow bell
  BOOST_TEST(hi > 0.099);
  check_mean(moments(n, [&](int64_t i) { return d.x[2 * i + 1]; }), 0.5, "inverted sine y");
  check_mean(moments(n, noise), 0.0, "inverted sine noise");
  check_mean(moments(n, [&](int64_t i) { return noise(i) * noise(i); }), 0.04 / 12, "inverted sine noise variance");
  Rng a(9), b(9);
  BOOST_TEST(inverted_sine(50, a).x.to_vector() == inverted_sine(50, b).x.to_vector());
}

BOOST_AUTO_TEST_CASE(toys_are_seeded_and_names_dispatch) {
  for (const auto& name : toy_names()) {
    Rng a(9), b(9), c(10);
    const Dataset da = make_toy(name, 300, a), db = make_toy(name, 300, b), dc = make_toy(name, 300, c);
    BOOST_TEST(da.x.to_vector() == db.x.to_vector());
    BOOST_TEST(da.x.to_vector() != dc.x.to_vector());
    BOOST_TEST(da.name == name);
  }
  Rng r(0);
  try {
    make_toy("moons", 10, r);
    BOOST_FAIL("no throw");
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    BOOST_TEST(m.find("unknown toy 'moons'") != std::string::npos);
    BOOST_TEST(m.find("two_moons, circles, eight_gaussians, pinwheel, checkerboard, two_spirals") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(batches_cover_every_index_once_per_epoch) {
  Rng rng(11);
  const int64_t n = 103, bs = 10;
  std::vector<int64_t> first_order;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto batches = epoch_batches(n, bs, rng);
    BOOST_TEST(static_cast<int64_t>(batches.size()) == batches_per_epoch(n, bs));
    BOOST_TEST(batches.size() == 11u);
    BOOST_TEST(batches.back().size() == 3u);  // the partial batch is kept
    std::vector<int> seen(n, 0);
    std::vector<int64_t> order;
    for (auto& b : batches)
      for (auto i : b) ++seen[i], order.push_back(i);
    for (int s : seen) BOOST_REQUIRE(s == 1);
    if (epoch == 0) first_order = order;
    else BOOST_TEST(order != first_order);  // reshuffled each epoch
  }
  const auto plain = epoch_batches(5, 2, rng, false);
  BOOST_TEST(plain[2] == (std::vector<int64_t>{4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(make_batch_takes_rows_and_labels) {
  Dataset d;
  d.x = TensorF::from({0, 1, 2, 3, 4, 5}, {3, 2});
  d.y = {7, 8, 9};
  d.num_classes = 10;
  const Batch b = make_batch(d, {2, 0});
  BOOST_TEST(b.x.to_vector() == (std::vector<float>{4, 5, 0, 1}), boost::test_tools::per_element());
  BOOST_TEST(b.y == (std::vector<int64_t>{9, 7}), boost::test_tools::per_element());
  BOOST_CHECK_THROW(make_batch(d, {3}), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(dynamic_binarisation_is_bernoulli) {
  Rng rng(12);
  const int64_t n = 100000;
  const TensorF x = TensorF::full({n}, 0.3f);
  const TensorF b = binarize(x, rng);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    BOOST_REQUIRE((b[i] == 0.0f || b[i] == 1.0f));
    s += b[i];
  }
  BOOST_TEST(std::fabs(s / n - 0.3) <= 4.5 * std::sqrt(0.3 * 0.7 / n));
  const TensorF ends = binarize(TensorF::from({0.0f, 1.0f, 0.0f, 1.0f}), rng);
  BOOST_TEST(ends.to_vector() == (std::vector<float>{0, 1, 0, 1}), boost::test_tools::per_element());
  const TensorF again = binarize(x, rng);
  BOOST_TEST(again.to_vector() != b.to_vector());  // a fresh draw each call
  BOOST_CHECK_THROW(binarize(TensorF::from({0.5f, 1.5f}), rng), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(split_and_standardise) {
  Rng rng(13);
  const Dataset d = eight_gaussians(1000, rng);
  auto [tr, te] = train_test_split(d, 200, rng, true);
  BOOST_TEST(tr.size() == 800);
  BOOST_TEST(te.size() == 200);
  std::vector<int> all(8, 0), test(8, 0);
  for (auto y : d.y) ++all[y];
  for (auto y : te.y) ++test[y];
  for (int k = 0; k < 8; ++k) BOOST_TEST(std::abs(test[k] - all[k] * 0.2) <= 1.0);
  const Standardiser s = Standardiser::fit(tr.x);
  const TensorF z = s.apply(tr.x);
  for (int j = 0; j < 2; ++j) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < z.size(0); ++i) m += z[2 * i + j];
    m /= z.size(0);
    for (int64_t i = 0; i < z.size(0); ++i) v += (z[2 * i + j] - m) * (z[2 * i + j] - m);
    BOOST_TEST(std::fabs(m) < 1e-5);
    BOOST_TEST(std::fabs(v / z.size(0) - 1) < 1e-4);
  }
  const TensorF back = s.invert(z);
  for (int64_t i = 0; i < back.numel(); ++i) BOOST_TEST(std::fabs(back[i] - tr.x[i]) < 1e-5);
}
