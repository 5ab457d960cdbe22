// The action-chunk task at a small size (cvae --condition actions, 4000 observations, 800 steps,
// 128-128 networks, about 7 s a run in Release): the mixture-density network keeps the two ways
// around the obstacle and the unimodal Gaussian regression averages them into it. A change that
// makes the MDN collapse onto the average (as it did before its warm-up, models/mdn.hpp) fails here.
// Diagonal components (--mdn-rank 0, the default, spelled out: rank 2 needs about 2000 steps
// before its samples settle, 0.23-0.36 collisions at these 800).
//
// Thresholds from seeds 1-5 of this command (docs/mdn.md): MDN sampled collisions 0.012-0.035,
// |left share − demonstrations'| 0.003-0.037, deterministic (most probable component) collisions 0,
// test NLL 31.6-33.7 nats below the unimodal's; the unimodal collides in 0.991-0.996 of its
// samples and always at its mean. With --mdn-warmup 0 (the collapsed MDN) the same seeds give MDN
// collisions 0.991-0.996, deterministic collisions 1 and an NLL within 1 nat of the unimodal's.
// Needs bin/cvae.
#define BOOST_TEST_MODULE mdn_chunks
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/apps/run_checks.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;
using json = nlohmann::json;

namespace {

const std::string kSmall =
    "--condition actions --n-train 4000 --n-test 200 --samples 10 --epochs 10 --arch 128,128 --prior-arch 16 "
    "--latent 2 --eval-k 5 --batch 50 --mdn-warmup 200 --mdn-rank 0";

}  // namespace

BOOST_AUTO_TEST_CASE(the_mdn_keeps_the_modes_and_the_unimodal_regression_averages_them) {
  for (int seed : {1, 2}) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      const std::string dir = scratch_dir("mdn_chunks_s" + std::to_string(seed)) + "/run";
      const RunResult r = run_driver("cvae", kSmall + " --seed " + std::to_string(seed) + " --out " + dir);
      BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
      const json s = summary(dir);
      const json &mdn = s.at("mdn"), &uni = s.at("unimodal");
      const double collisions = mdn.at("sampled").at("collision_rate"), left = mdn.at("sampled").at("left_share"),
                   demo_left = mdn.at("sampled").at("demo_left_share"), det = mdn.at("deterministic").at("collision_rate");
      const double nll = mdn.at("test_nll").at("mean"), uni_nll = uni.at("test_nll").at("mean");
      BOOST_TEST_MESSAGE("MDN: collisions " << collisions << ", left share " << left << " (demonstrations " << demo_left
                                            << "), deterministic collisions " << det << ", test NLL " << nll
                                            << "; unimodal: collisions " << uni.at("sampled").at("collision_rate")
                                            << ", test NLL " << uni_nll);
      // The MDN: samples pass beside the obstacle, in about the demonstrations' shares, and the
      // mean of its most probable component is one of the ways around.
      BOOST_TEST(collisions <= 0.10);
      BOOST_TEST(std::fabs(left - demo_left) <= 0.08);
      // One obstacle: two modes (L, R), the same difference in summary.json's mode_shares.
      const json& shares = mdn.at("mode_shares");
      BOOST_TEST(shares.at("predicted").size() == 2u);
      BOOST_TEST(shares.at("max_abs_error").get<double>() <= 0.08);
      BOOST_TEST(shares.at("demonstrated").at(0).get<double>() == demo_left, boost::test_tools::tolerance(1e-9));
      BOOST_TEST(det <= 0.05);
      BOOST_TEST(nll < uni_nll - 20);
      // The unimodal regression: its samples and its mean run into the obstacle.
      BOOST_TEST(uni.at("sampled").at("collision_rate").get<double>() >= 0.9);
      BOOST_TEST(uni.at("deterministic").at("collision_rate").get<double>() >= 0.9);
    }
  }
}
