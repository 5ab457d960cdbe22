// The flow driver end to end: it trains in about a second on a small toy and writes its outputs
// (config, metrics, checkpoint, summary with the test log-likelihood, pictures); a run killed by
// SIGKILL at chosen steps (LZ_FAULT_AFTER_STEP, train/trainer.cpp) and resumed with
// `flow --resume DIR` ends with a checkpoint bit-identical to the uninterrupted run's and the same
// metrics.jsonl apart from wall-clock fields. Needs bin/flow (build the `flow` target first).
#define BOOST_TEST_MODULE flow_driver
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nn/safetensors.hpp"
#include "plot/png.hpp"
#include "tests/apps/run_checks.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// 512 training points, batch 64: 8 steps per epoch, 3 epochs; a record every 3 steps and a
// checkpoint every 5, so kills land before, on and after checkpoints, mid-epoch and at an epoch's end.
const std::string kArgs =
    "--data two_moons --n 512 --n-test 256 --couplings 3 --hidden 16,16 --lu --batch 64 --epochs 3 "
    "--log-every 3 --checkpoint-every 5 --lr 3e-3 --seed 4";

// The digits' 784 pixels, 2 couplings: a few seconds.
const std::string kPixelArgs = "--data digits --couplings 2 --hidden 32 --batch 64 --epochs 2 --checkpoint-every 2 --seed 1";

}  // namespace

BOOST_AUTO_TEST_CASE(a_small_run_writes_its_outputs) {
  const std::string dir = scratch_dir("flow_driver_outputs") + "/run";
  const RunResult r = run_driver("flow", kArgs + " --out " + dir);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  for (const char* f : {"config.json", "metrics.jsonl", "checkpoint.safetensors", "summary.json", "loss.png",
                        "density.png", "samples.png", "z.png"})
    BOOST_TEST(fs::exists(dir + "/" + f), f);
  const json s = summary(dir);
  const double ll = s.at("test_log_likelihood"), se = s.at("test_log_likelihood_se"),
               base = s.at("base_test_log_likelihood");
  BOOST_TEST_MESSAGE("test log-likelihood " << ll << " ± " << se << ", base " << base);
  // 24 steps of a 3-coupling flow already move well past N(0, I) (about -2.5 nats on two moons).
  BOOST_TEST(ll > base + 0.3);
  BOOST_TEST(se > 0.0);
  BOOST_TEST(se < 0.1);
  BOOST_TEST(s.at("steps") == 24);
  const json c = json::parse(read_text(dir + "/config.json"));
  BOOST_TEST(c.at("couplings") == 3);
  BOOST_TEST(c.at("lu") == true);
  BOOST_TEST(c.at("actnorm") == true);
  const SafeTensors ck = read_safetensors(dir + "/checkpoint.safetensors");
  BOOST_TEST(ck.tensors.count("0.log_scale"));  // ActNorm, then LU, then the coupling
  BOOST_TEST(ck.tensors.count("1.log_diag"));
  BOOST_TEST(ck.tensors.count("2.net.fc3.weight"));
  const Image img = read_png(dir + "/density.png");
  BOOST_TEST(img.w == 1400);
  BOOST_TEST(img.h == 650);
  // 3 epochs' evaluations in metrics.jsonl
  int evals = 0;
  for (const json& j : records(dir)) evals += j.contains("test_log_likelihood");
  BOOST_TEST(evals == 3);
}

BOOST_AUTO_TEST_CASE(a_killed_run_resumes_bit_for_bit) {
  kill_and_resume("flow", kArgs, scratch_dir("flow_driver_resume"), {5, 6, 11, 16});
}

// Pixels draw fresh dequantisation noise every batch from the run's generator, so a resumed run
// must restore it with the checkpoint: killed mid-epoch, the run still ends bit for bit.
BOOST_AUTO_TEST_CASE(a_killed_pixel_run_resumes_bit_for_bit) {
  kill_and_resume("flow", kPixelArgs + " --data-dir " + tiny_digits(), scratch_dir("flow_driver_pixels_resume"), {3, 5});
}

// Images on 8 principal components: two epochs of a small flow beat the best Gaussian on the
// same projection by about 0.85 nats per image (seeds 1-3: 0.82-0.87; each figure's standard
// error is 0.04), and the samples are decoded back into a grid of 8 x 8 digits.
BOOST_AUTO_TEST_CASE(principal_components_beat_the_best_gaussian) {
  const std::string dir = scratch_dir("flow_driver_pca") + "/run";
  const RunResult r = run_driver("flow", "--data digits --pca 8 --couplings 4 --hidden 32 --epochs 2 --batch 128 --seed 2 --out " + dir);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json s = summary(dir);
  const double ll = s.at("test_log_likelihood"), g = s.at("gaussian_test_log_likelihood");
  BOOST_TEST_MESSAGE("flow " << ll << ", best Gaussian " << g);
  BOOST_TEST(ll > g + 0.4);
  BOOST_TEST(s.at("dim") == 8);
  const double ratio = s.at("pca_explained_variance_ratio");
  BOOST_TEST(ratio > 0.3);
  BOOST_TEST(ratio < 0.8);
  const Image img = read_png(dir + "/samples.png");
  BOOST_TEST(img.w == 8 * 2 * 28 + 9 * 2);  // 8 columns magnified twice, 2 pixels of padding
  BOOST_TEST(!fs::exists(dir + "/density.png"));
}

// All 784 pixels: bits per dimension with the preprocessing's Jacobian counted. A model that
// learned nothing about the 8-bit levels scores 8 (uniform over 256 levels); two small couplings
// after two epochs score about 2.2 on the digits, where most pixels are exactly 0.
BOOST_AUTO_TEST_CASE(pixels_are_scored_in_bits_per_dimension) {
  const std::string dir = scratch_dir("flow_driver_pixels") + "/run";
  const RunResult r = run_driver("flow", kPixelArgs + " --out " + dir);
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json s = summary(dir);
  const double bpd = s.at("test_bits_per_dim"), se = s.at("test_bits_per_dim_se");
  BOOST_TEST_MESSAGE("bits per dimension " << bpd << " ± " << se);
  BOOST_TEST(bpd > 1.0);
  BOOST_TEST(bpd < 3.0);
  BOOST_TEST(se > 0.0);
  BOOST_TEST(se < 0.05);
  BOOST_TEST(s.at("dim") == 784);
  int evals = 0;
  for (const json& j : records(dir)) evals += j.contains("test_bits_per_dim");
  BOOST_TEST(evals == 2);
  BOOST_TEST(fs::exists(dir + "/samples.png"));
}

BOOST_AUTO_TEST_CASE(a_spline_run_records_its_architecture_and_resumes_bit_for_bit) {
  // --coupling/--bins/--tail-bound go into config.json and the checkpoint's config: a resumed run
  // rebuilds the spline flow from them (a wrong rebuild could not load the checkpoint's tensors).
  const std::string root = scratch_dir("flow_driver_spline");
  const std::string args = kArgs + " --coupling spline --bins 5 --tail-bound 2.5";
  const RunResult r0 = run_driver("flow", args + " --out " + root + "/ref");
  BOOST_REQUIRE_MESSAGE(r0.code == 0, r0.err);
  const json c = json::parse(read_text(root + "/ref/config.json"));
  BOOST_TEST(c.at("coupling") == "spline");
  BOOST_TEST(c.at("bins") == 5);
  BOOST_TEST(c.at("tail-bound") == 2.5);
  const json s = summary(root + "/ref");
  BOOST_TEST(s.at("test_log_likelihood").get<double>() > s.at("base_test_log_likelihood").get<double>() + 0.3);
  const SafeTensors ck = read_safetensors(root + "/ref/checkpoint.safetensors");
  BOOST_TEST(any_shape(ck.tensors.at("2.net.fc3.bias")) == Shape{14});  // one coordinate: 3K − 1 raw values
  RunResult r = run_driver("flow", args + " --out " + root + "/k", "LZ_FAULT_AFTER_STEP=11:KILL");
  BOOST_TEST(r.code == 128 + SIGKILL);
  r = run_driver("flow", "--resume " + root + "/k");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  same_checkpoint(root + "/ref", root + "/k");
  BOOST_TEST(summary(root + "/ref") == summary(root + "/k"));
  r = run_driver("flow", "--coupling cubic --out " + root + "/bad");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("cubic") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_named) {
  const std::string dir = scratch_dir("flow_driver_bad");
  RunResult r = run_driver("flow", "--data csv --out " + dir + "/a");
  BOOST_TEST(r.code == 2);  // every bad flag exits 2 (these exited 1 before issue 39)
  BOOST_TEST(r.err.find("--data csv needs --csv PATH") != std::string::npos, r.err);
  r = run_driver("flow", "--data spirals --out " + dir + "/b");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("spirals") != std::string::npos, r.err);
  r = run_driver("flow", "--hidden 16,0 --out " + dir + "/c");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--hidden") != std::string::npos, r.err);
  r = run_driver("flow", "--data two_moons --pca 4 --out " + dir + "/e");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--pca is for --data digits|fashion") != std::string::npos, r.err);
  r = run_driver("flow", "--data digits --data-dir " + dir + "/nowhere --out " + dir + "/f");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("nowhere") != std::string::npos, r.err);
  // A CSV of 3 columns, no actnorm: runs (D = 3 has no pictures).
  {
    std::ofstream f(dir + "/p.csv");
    f << "a,b,c\n";
    for (int i = 0; i < 100; ++i) f << i * 0.01 << "," << std::sin(i * 0.1) << "," << (i % 7) * 0.3 << "\n";
  }
  r = run_driver("flow", "--data csv --csv " + dir + "/p.csv --no-actnorm --couplings 2 --hidden 8 --epochs 2 --batch 16 --out " +
                 dir + "/d");
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(fs::exists(dir + "/d/summary.json"));
  BOOST_TEST(!fs::exists(dir + "/d/density.png"));
  BOOST_TEST(json::parse(read_text(dir + "/d/config.json")).at("actnorm") == false);
}
