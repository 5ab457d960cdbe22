// The full-covariance E-step's screening (models/gmm_screen.cpp, called block by block by
// models/gmm_steps.cpp's e_step): against the same E-step with every solve done, it may only zero
// responsibilities below e^-50 and must leave log p(x) and every other responsibility as they were.
#define BOOST_TEST_MODULE gmm_screen
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "models/gmm.hpp"
#include "models/gmm_screen.hpp"
#include "models/gmm_steps.hpp"
#include "spawn_count.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"

using namespace lz;

namespace {

constexpr int64_t D = 32, K = 4;

// Four full-covariance components in 32-D (screening starts at D = 32): 0 and 1 overlap (soft
// responsibilities), 2 lies about 70 nats from them (its responsibilities for their points are
// tiny but not zero in double: the pairs screening drops), and 3 is so far that its terms
// underflow to 0 either way.
GmmParams four_components(Rng& rng) {
  GmmParams p;
  p.type = CovarianceType::full;
  p.weights = TensorD::from({0.3, 0.3, 0.2, 0.2});
  p.means = TensorD::zeros({K, D});
  p.means[1 * D + 0] = 2.5;
  p.means[2 * D + 1] = 12.0;
  p.means[3 * D + 2] = 60.0;
  p.covariances = TensorD::empty({K, D, D});
  for (int64_t k = 0; k < K; ++k) {  // Σ = I + A A^T with small random A
    const TensorD A = TensorD::normal({D, D}, 0.0, 0.15, rng);
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < D; ++j) {
        double s = i == j ? 1.0 : 0.0;
        for (int64_t l = 0; l < D; ++l) s += A[i * D + l] * A[j * D + l];
        p.covariances[(k * D + i) * D + j] = s;
      }
  }
  return p;
}

TensorD draw(const GmmParams& p, int64_t n, Rng& rng) {
  GmmOptions o;
  o.n_components = p.n_components();
  GaussianMixture g(o);
  g.set_params(p);
  return g.sample(n, rng);
}

struct Step {
  TensorD R, log_px;
  double total;
};

Step e_step(const TensorD& X, const GmmParams& p, bool screen) {
  const gmm::Points x = gmm::points(X);
  Step s{TensorD::empty({K, x.N}), TensorD::empty({x.N}), 0.0};
  s.total = gmm::e_step(x, p, gmm::factorize(p), &s.R, &s.log_px, screen);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(screening_zeros_only_responsibilities_below_the_gap) {
  Rng rng(31);
  const GmmParams p = four_components(rng);
  const TensorD X = draw(p, 3000, rng);
  const Step dense = e_step(X, p, false), screened = e_step(X, p, true);

  BOOST_TEST(screened.total == dense.total, boost::test_tools::tolerance(1e-13));
  double worst_lpx = 0, worst_kept = 0, largest_dropped = 0;
  int64_t dropped = 0, soft = 0;
  for (int64_t n = 0; n < X.size(0); ++n)
    worst_lpx = std::max(worst_lpx, std::abs(screened.log_px[n] - dense.log_px[n]) / std::abs(dense.log_px[n]));
  for (int64_t i = 0; i < K * X.size(0); ++i) {
    const double rs = screened.R[i], rd = dense.R[i];
    if (rs == 0 && rd > 0) {
      ++dropped;
      largest_dropped = std::max(largest_dropped, rd);
    } else {
      worst_kept = std::max(worst_kept, std::abs(rs - rd));
    }
    soft += rd > 1e-3 && rd < 1 - 1e-3;
  }
  BOOST_TEST_MESSAGE("dropped " << dropped << " of " << K * X.size(0) << " pairs, largest dropped r " << largest_dropped
                                << "; soft pairs " << soft << "; worst kept |dr| " << worst_kept
                                << "; worst log p(x) rel diff " << worst_lpx);
  BOOST_TEST(dropped > 1000);               // component 2's terms for the points of 0 and 1
  BOOST_TEST(soft > 100);                   // and the overlap of 0 and 1 is really soft
  BOOST_TEST(largest_dropped < 2e-22);      // e^-50
  BOOST_TEST(worst_kept < 1e-14);
  BOOST_TEST(worst_lpx < 1e-14);
}

BOOST_AUTO_TEST_CASE(a_component_screened_below_one_point_is_computed_in_full) {
  // No point comes from component 2: screening would leave it no mass at all, where dropping
  // r < 2e-22 is no longer negligible next to N_k; the E-step then does every solve.
  Rng rng(32);
  const GmmParams p = four_components(rng);
  GmmParams only01;  // components 0 and 1 of p
  only01.type = CovarianceType::full;
  only01.weights = TensorD::from({0.5, 0.5});
  only01.means = TensorD::empty({2, D});
  only01.covariances = TensorD::empty({2, D, D});
  std::copy(p.means.data(), p.means.data() + 2 * D, only01.means.data());
  std::copy(p.covariances.data(), p.covariances.data() + 2 * D * D, only01.covariances.data());
  const TensorD X = draw(only01, 1500, rng);
  const Step dense = e_step(X, p, false), screened = e_step(X, p, true);
  int64_t positive = 0;
  for (int64_t n = 0; n < X.size(0); ++n) {
    BOOST_TEST(screened.R[2 * X.size(0) + n] == dense.R[2 * X.size(0) + n]);
    positive += dense.R[2 * X.size(0) + n] > 0;
  }
  BOOST_TEST(positive > 1000);  // the tiny responsibilities are there, and kept
}

BOOST_AUTO_TEST_CASE(two_threads_screen_as_one) {
  // enough points for the screened E-step to split (8 blocks of 2048 for D = 32)
  Rng rng(33);
  const GmmParams p = four_components(rng);
  const TensorD X = draw(p, 20000, rng);
  set_threads(1);
  const int before_one = lz::test::threads_started;
  const Step one = e_step(X, p, true);
  BOOST_TEST(lz::test::threads_started == before_one);
  set_threads(2);
  BOOST_TEST_REQUIRE(threads() == 2);  // else "2 threads" would quietly be 1
  const int before_two = lz::test::threads_started;
  const Step two = e_step(X, p, true);
  BOOST_TEST(lz::test::threads_started - before_two >= 2);  // the pass really split over two threads
  set_threads(1);
  BOOST_TEST(two.total == one.total, boost::test_tools::tolerance(1e-13));
  int64_t differ = 0;
  for (int64_t i = 0; i < one.R.numel(); ++i) differ += one.R[i] != two.R[i];
  for (int64_t n = 0; n < X.size(0); ++n) differ += one.log_px[n] != two.log_px[n];
  BOOST_TEST(differ == 0);  // each point's terms do not depend on which thread computed them
}

BOOST_AUTO_TEST_CASE(drop_below_gap_keeps_exactly_the_pairs_within_50_nats) {
  const double inf = std::numeric_limits<double>::infinity();
  // K = 3 components (rows) for B = 5 points (columns); exactly 50 below the best is kept
  std::vector<double> lp = {-1.0, -10.0, 0.0,   -300.0, 5.0,     //
                            -50.9, -60.5, -50.0, -3.0, -inf,     //
                            -51.1, -10.0, -50.1, -1.0, 4.9};  // column 2: -50.0 kept, -50.1 not
  std::vector<double> best(5);
  BOOST_TEST(gmm::drop_below_gap(lp.data(), 5, 3, best.data()) == 10);
  const std::vector<double> want = {-1.0, -10.0, 0.0, -inf, 5.0,   //
                                    -50.9, -inf, -50.0, -3.0, -inf,  //
                                    -inf, -10.0, -inf, -1.0, 4.9};
  BOOST_TEST(lp == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(overlapping_components_switch_screening_off_and_agree) {
  // Four copies of one component: every pair is within the gap, screening cannot pay, and after
  // its first block the E-step solves in full; either way the result is the unscreened one.
  Rng rng(34);
  GmmParams p = four_components(rng);
  for (int64_t k = 1; k < K; ++k) {
    std::copy(p.means.data(), p.means.data() + D, p.means.data() + k * D);
    std::copy(p.covariances.data(), p.covariances.data() + D * D, p.covariances.data() + k * D * D);
  }
  const TensorD X = draw(p, 6000, rng);  // 3 blocks of 2048
  const Step dense = e_step(X, p, false), screened = e_step(X, p, true);
  BOOST_TEST(screened.total == dense.total, boost::test_tools::tolerance(1e-13));
  double worst = 0;
  for (int64_t i = 0; i < dense.R.numel(); ++i) worst = std::max(worst, std::abs(screened.R[i] - dense.R[i]));
  BOOST_TEST(worst < 1e-14);
  BOOST_TEST(dense.R[0] == 0.3, boost::test_tools::tolerance(1e-12));  // the copies share each point by weight
}
