// The image preprocessing of the flow driver (datasets/flow_data.hpp) against closed forms:
// dequantisation stays inside each pixel's 1/256 bin with the uniform's mean and variance, a
// density uniform on [0, 1)^D scores exactly 8 bits per dimension, and the principal-component
// Gaussian baseline is the product of the components' normal densities.
#define BOOST_TEST_MODULE flow_data
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "datasets/flow_data.hpp"
#include "tests/thrown.hpp"

using namespace lz;

BOOST_AUTO_TEST_CASE(dequantisation_fills_each_pixels_bin_uniformly) {
  const int64_t n = 20000;
  TensorF x({n, 3});
  for (int64_t i = 0; i < n; ++i) {
    x[i * 3] = 0.0f;
    x[i * 3 + 1] = 0.004f;  // the digits' 1/255, stored to 3 decimals
    x[i * 3 + 2] = 1.0f;
  }
  Rng rng(3);
  const TensorF u = dequantize(x, rng);
  const int levels[3] = {0, 1, 255};
  for (int j = 0; j < 3; ++j) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = u[i * 3 + j];
      BOOST_REQUIRE(v >= levels[j] / 256.0);
      BOOST_REQUIRE(v < (levels[j] + 1) / 256.0);
      sum += v;
      sq += v * v;
    }
    const double mean = sum / n, var = sq / n - mean * mean;
    // U(0,1)/256 has variance 1/(12·256²); the mean is within 4 standard errors of the bin's centre
    const double sd = std::sqrt(1.0 / 12) / 256;
    BOOST_TEST(std::abs(mean - (levels[j] + 0.5) / 256) < 4 * sd / std::sqrt(double(n)));
    BOOST_TEST(var == sd * sd, boost::test_tools::tolerance(0.05));
  }
  TensorF bad({1, 2}, 0.5f);
  bad[1] = 1.5f;
  BOOST_TEST(lz::test::thrown_message([&] { dequantize(bad, rng); }).find("found 1.5") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_uniform_density_scores_eight_bits_and_the_logit_log_det_is_counted) {
  PixelPreprocess pre(4, 0.05);
  // p_u ≡ 1 on [0,1)^D means log p_y(y) = −log|det ∂y/∂u|: exactly 8 bits per dimension.
  const std::vector<double> log_det{10.0, -3.0, 0.5};
  std::vector<double> log_p_y;
  for (double l : log_det) log_p_y.push_back(-l);
  const MeanEstimate b = pre.bits_per_dim(log_p_y, log_det);
  BOOST_TEST(b.mean == 8.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(b.se == 0.0, boost::test_tools::tolerance(1e-12));
  // One nat more per image is 1 / (D ln 2) bits fewer per dimension.
  for (double& l : log_p_y) l += 1;
  BOOST_TEST(pre.bits_per_dim(log_p_y, log_det).mean == 8.0 - 1 / (4 * std::numbers::ln2),
             boost::test_tools::tolerance(1e-12));
  // The preprocessing's log-det is the closed form Σ log((1 − 2λ) / (p (1 − p))).
  TensorF x({1, 4}, 0.0f);
  Rng rng(1);
  const auto batch = pre(x, rng);
  double want = 0;
  for (int j = 0; j < 4; ++j) {
    const double p = 1 / (1 + std::exp(-double(batch.y[j])));  // y = logit(p)
    want += std::log((1 - 2 * 0.05) / (p * (1 - p)));
  }
  BOOST_TEST(batch.log_det[0] == want, boost::test_tools::tolerance(1e-4));
  BOOST_TEST(lz::test::thrown_message([&] { pre.bits_per_dim({1.0}, {}); }).find("1 log-likelihoods for 0") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_principal_component_gaussian_is_the_product_of_normals) {
  // Points on a tilted line plus noise in 3-D: two components.
  Rng rng(5);
  const int64_t n = 400;
  TensorF x({n, 3});
  for (int64_t i = 0; i < n; ++i) {
    const double t = rng.normal(), e = rng.normal();
    x[i * 3] = static_cast<float>(0.5 + 0.1 * t);
    x[i * 3 + 1] = static_cast<float>(0.5 - 0.1 * t + 0.02 * e);
    x[i * 3 + 2] = static_cast<float>(0.3 + 0.01 * rng.normal());
  }
  PcaProjection proj(x, 2);
  const TensorF z = proj.project(x);
  const std::vector<double> lp = proj.gaussian_log_prob(z);
  const auto& var = proj.pca().explained_variance();
  for (int64_t i : {0, 7, 399}) {
    double want = 0;
    for (int j = 0; j < 2; ++j)
      want += -0.5 * std::log(2 * std::numbers::pi * var[j]) - 0.5 * double(z[i * 2 + j]) * z[i * 2 + j] / var[j];
    BOOST_TEST(lp[static_cast<size_t>(i)] == want, boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(proj.explained_variance_ratio() > 0.99);
  // Reconstructions from both components are close to the data (the third carries 0.01² of variance).
  const TensorF back = proj.reconstruct(z);
  for (int64_t k = 0; k < 3 * n; ++k) BOOST_REQUIRE(std::abs(back[k] - x[k]) < 0.05);
}
