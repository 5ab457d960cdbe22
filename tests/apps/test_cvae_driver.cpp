// The cvae driver end to end on a tiny copy of the digits (30 random images per class, seconds
// even under the sanitizers): both conditions write their outputs with finite numbers in the order
// the theory requires (ELBO ≤ the importance-sampled log p(x|c)), and a run killed by SIGKILL and
// resumed ends bit for bit where the uninterrupted run ends; the action-chunk condition scores its
// three models on held-out observations. Needs bin/cvae.
#define BOOST_TEST_MODULE cvae_driver
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <csignal>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "plot/png.hpp"
#include "tests/apps/run_checks.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// 240 training digits, batch 32: 8 steps per epoch, 2 epochs; a record every 3 steps, a checkpoint
// every 5 (kills land before, on and after checkpoints, mid-epoch and at the epoch's end).
std::string args(const std::string& condition) {
  return "--data digits --data-dir " + tiny_digits() + " --condition " + condition +
         " --arch 16 --prior-arch 8 --latent 3 --batch 32 --epochs 2 --log-every 3 --checkpoint-every 5 --eval-k 100 --eval-n 20 --seed 3";
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_label_condition_writes_per_class_likelihoods_and_samples) {
  const std::string dir = scratch_dir("cvae_driver_label") + "/run";
  const RunResult r = run_driver("cvae", args("label") + " --out " + dir);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json s = summary(dir);
  const double lp = s.at("log_px_given_c").at("mean"), el = s.at("elbo").at("mean"), se = s.at("log_px_given_c").at("se");
  BOOST_TEST(std::isfinite(lp));
  BOOST_TEST(se > 0.0);
  BOOST_TEST(el <= lp + 3 * se);
  BOOST_TEST(s.at("per_class").size() == 10u);
  BOOST_TEST(s.at("steps") == 16);
  // 10 rows of 10 digits at scale 2 with 2 pixels between them, under a caption band
  const Image img = read_png(dir + "/samples.png");
  BOOST_TEST(img.w == 10 * 56 + 11 * 2);
  BOOST_TEST(img.h - img.w >= 13);
}

BOOST_AUTO_TEST_CASE(the_quadrant_condition_compares_with_the_baseline) {
  const std::string dir = scratch_dir("cvae_driver_quadrants") + "/run";
  const RunResult r = run_driver("cvae", args("quadrants") + " --quadrants 2 --out " + dir);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json s = summary(dir);
  for (const char* k : {"cvae_nll", "baseline_nll", "baseline_minus_cvae"}) {
    BOOST_TEST(std::isfinite(s.at(k).at("mean").get<double>()), k);
    BOOST_TEST(s.at(k).at("n") == 20, k);
  }
  // the paired difference is the difference of the two means
  BOOST_TEST(s.at("baseline_minus_cvae").at("mean").get<double>() ==
                 s.at("baseline_nll").at("mean").get<double>() - s.at("cvae_nll").at("mean").get<double>(),
             boost::test_tools::tolerance(1e-9));
  BOOST_TEST(s.at("quadrants") == 2);
  BOOST_TEST(fs::exists(dir + "/completions.png"));
}

BOOST_AUTO_TEST_CASE(a_killed_run_resumes_bit_for_bit) {
  const std::string root = scratch_dir("cvae_driver_resume");
  const std::string a = args("quadrants") + " --quadrants 1";
  kill_and_resume("cvae", a, root, {5, 6, 8, 11});
}

BOOST_AUTO_TEST_CASE(the_action_condition_scores_three_models_on_held_out_observations) {
  const std::string dir = scratch_dir("cvae_driver_actions") + "/run";
  const RunResult r = run_driver("cvae", "--condition actions --n-train 256 --n-test 32 --samples 4 --eval-k 20 --arch 16 "
                                         "--prior-arch 8 --latent 2 --components 2 --batch 32 --epochs 2 --seed 2 --out " + dir);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json s = summary(dir);
  for (const char* m : {"unimodal", "mdn", "cvae"}) {
    BOOST_TEST_CONTEXT(m) {
      BOOST_TEST(std::isfinite(s.at(m).at("test_nll").at("mean").get<double>()));
      const json& smp = s.at(m).at("sampled");
      BOOST_TEST(smp.at("samples") == 4);
      BOOST_TEST(s.at(m).at("deterministic").at("samples") == 1);
      for (const char* k : {"collision_rate", "left_share"}) {
        BOOST_TEST(smp.at(k).get<double>() >= 0.0);
        BOOST_TEST(smp.at(k).get<double>() <= 1.0);
      }
      BOOST_TEST(smp.at("min_ade").get<double>() <= smp.at("ade").get<double>());
      BOOST_TEST(smp.at("demo_left_share") == s.at("unimodal").at("sampled").at("demo_left_share"));
    }
  }
  BOOST_TEST(fs::exists(dir + "/trajectories.png"));
}

BOOST_AUTO_TEST_CASE(the_action_condition_resumes_bit_for_bit) {
  // 256 observations, batch 32: 8 steps per epoch, 2 epochs, a checkpoint every 5 steps.
  const std::string root = scratch_dir("cvae_driver_actions_resume");
  const std::string a = "--condition actions --n-train 256 --n-test 16 --samples 2 --eval-k 10 --arch 16 --prior-arch 8 "
                        "--latent 2 --components 2 --batch 32 --epochs 2 --log-every 3 --checkpoint-every 5 --seed 4";
  const RunResult r0 = run_driver("cvae", a + " --out " + root + "/ref");
  BOOST_REQUIRE_MESSAGE(r0.code == 0, r0.err);
  const std::string dir = root + "/k11";
  RunResult r = run_driver("cvae", a + " --out " + dir, "LZ_FAULT_AFTER_STEP=11:KILL");
  BOOST_TEST(r.code == 128 + SIGKILL);
  r = run_driver("cvae", "--resume " + dir);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  same_checkpoint(root + "/ref", dir);
  BOOST_TEST(records(root + "/ref") == records(dir));
  BOOST_TEST(summary(root + "/ref") == summary(dir));
}

// The lesson of the action-chunk task, pinned at a small size (4,000 observations, 8 epochs, 128-128
// networks, Z = 4; ~5 s a run in Release): the CVAE with the mixture prior keeps both ways around the
// obstacle apart, and its deterministic action (the top component's mean) takes one of them; with
// the prior forced Gaussian (--prior learned) the same run drives into the obstacle (the first
// half of this case run with --prior learned fails: 0.535 sampled, 1 deterministic). Seeds 1-3
// measured: mixture sampled collisions 0.022 / 0.021 / 0.026, mode-share error 0.007 / 0.027 / 0.004,
// deterministic collisions 0 / 0 / 0; learned Gaussian prior 0.535 / 0.546 / 0.557 sampled,
// deterministic 1 / 1 / 1.
BOOST_AUTO_TEST_CASE(the_mixture_prior_cvae_keeps_the_modes_and_a_gaussian_prior_does_not) {
  const std::string root = scratch_dir("cvae_driver_modes");
  const std::string a = "--condition actions --n-train 4000 --n-test 200 --samples 10 --eval-k 20 --arch 128,128 "
                        "--prior-arch 64 --latent 4 --components 2 --epochs 8 --batch 50 --seed 1";
  RunResult r = run_driver("cvae", a + " --prior mixture --prior-components 4 --out " + root + "/mixture");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json m = summary(root + "/mixture").at("cvae");
  BOOST_TEST(m.at("sampled").at("collision_rate").get<double>() <= 0.10);
  BOOST_TEST(m.at("mode_shares").at("max_abs_error").get<double>() <= 0.08);
  BOOST_TEST(m.at("deterministic").at("collision_rate").get<double>() <= 0.10);
  r = run_driver("cvae", a + " --prior learned --out " + root + "/gaussian");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json g = summary(root + "/gaussian").at("cvae");
  BOOST_TEST(g.at("sampled").at("collision_rate").get<double>() >= 0.30);
  BOOST_TEST(g.at("deterministic").at("collision_rate").get<double>() >= 0.90);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_named_and_leave_no_run_folder) {
  const std::string dir = scratch_dir("cvae_driver_bad");
  RunResult r = run_driver("cvae", "--condition pixels --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("pixels") != std::string::npos, r.err);
  r = run_driver("cvae", "--condition quadrants --quadrants 4 --out " + dir + "/b");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--quadrants") != std::string::npos, r.err);
  r = run_driver("cvae", "--data digits --data-dir " + dir + "/nowhere --out " + dir + "/c");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("nowhere") != std::string::npos, r.err);
  r = run_driver("cvae", "--condition actions --p-left 2 --out " + dir + "/d");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--p-left") != std::string::npos, r.err);
  for (const char* d : {"a", "b", "c", "d"}) BOOST_TEST(!fs::exists(dir + "/" + d), d);
}
