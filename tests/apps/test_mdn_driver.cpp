// The mdn driver end to end: a small run on the inverted sine writes its outputs (config, metrics,
// checkpoint, summary, pictures) and its MDN's test NLL beats the unimodal regression's by many
// standard errors of the paired difference; a run killed by SIGKILL at chosen steps
// (LZ_FAULT_AFTER_STEP, train/trainer.cpp) and resumed with `mdn --resume DIR` ends with a
// checkpoint bit-identical to the uninterrupted run's. Needs bin/mdn (build the `mdn` target first).
#define BOOST_TEST_MODULE mdn_driver
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <csignal>
#include <filesystem>

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

const std::string kModel = "--hidden 20 --components 5 --batch 50 --lr 1e-2 --seed 3";

}  // namespace

BOOST_AUTO_TEST_CASE(a_small_run_writes_its_outputs_and_the_mixture_wins) {
  const std::string dir = scratch_dir("mdn_driver_outputs") + "/run";
  const RunResult r = run_driver("mdn", kModel + " --n-train 1000 --n-test 1000 --epochs 15 --out " + dir);  // 20 steps an epoch
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  for (const char* f : {"config.json", "metrics.jsonl", "checkpoint.safetensors", "summary.json", "test_nll.png", "density.png"})
    BOOST_TEST(fs::exists(dir + "/" + f), f);
  const json s = summary(dir);
  const double m = s.at("test_nll_mdn"), u = s.at("test_nll_unimodal"), d = s.at("test_nll_difference");
  const double m_se = s.at("test_nll_mdn_se"), u_se = s.at("test_nll_unimodal_se"), d_se = s.at("test_nll_difference_se");
  BOOST_TEST_MESSAGE("test NLL: MDN " << m << " ± " << m_se << ", unimodal " << u << " ± " << u_se << ", difference " << d
                                      << " ± " << d_se);
  for (double v : {m, u, d, m_se, u_se, d_se}) BOOST_TEST(std::isfinite(v));
  BOOST_TEST(d == u - m, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(d_se > 0.0);
  BOOST_TEST(d > 10 * d_se);
  BOOST_TEST(m < u - 0.3);
  BOOST_TEST(s.at("steps") == 300);
  BOOST_TEST(s.at("components") == 5);
  const json c = json::parse(read_text(dir + "/config.json"));
  BOOST_TEST(c.at("components") == 5);
  BOOST_TEST(c.at("cosine") == true);
  const SafeTensors ck = read_safetensors(dir + "/checkpoint.safetensors");
  // M = 5 in one input: 5 + 2·5 outputs; M = 1: 3.
  BOOST_REQUIRE(ck.tensors.count("mdn.net.fc2.weight"));
  BOOST_REQUIRE(ck.tensors.count("unimodal.net.fc2.weight"));
  BOOST_TEST(std::get<TensorF>(ck.tensors.at("mdn.net.fc2.weight")).shape() == (Shape{15, 20}));
  BOOST_TEST(std::get<TensorF>(ck.tensors.at("unimodal.net.fc2.weight")).shape() == (Shape{3, 20}));
  const Image img = read_png(dir + "/density.png");
  BOOST_TEST(img.w == 1000);
  BOOST_TEST(img.h == 720);
  int evals = 0;
  for (const json& j : records(dir)) evals += j.contains("test_nll_mdn") && j.contains("test_nll_unimodal");
  BOOST_TEST(evals == 15);
}

BOOST_AUTO_TEST_CASE(a_killed_run_resumes_bit_for_bit) {
  const std::string root = scratch_dir("mdn_driver_resume");
  // 4 steps an epoch, checkpoints at steps 4, 5, 8, 10, 12: kills at an epoch's end, mid-epoch
  // just after a checkpoint, and one step past each kind.
  const std::string args = kModel + " --n-train 200 --n-test 100 --epochs 3 --log-every 3 --checkpoint-every 5";
  const std::string ref = kill_and_resume("mdn", args, root, {4, 6, 9, 11});
  BOOST_TEST(summary(ref).at("steps") == 12);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_named) {
  const std::string dir = scratch_dir("mdn_driver_bad");
  RunResult r = run_driver("mdn", "--components 0 --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--components") != std::string::npos, r.err);
  r = run_driver("mdn", "--hidden 16,0 --out " + dir + "/b");
  BOOST_TEST(r.code == 2);  // every bad flag exits 2 (these exited 1 before issue 39)
  BOOST_TEST(r.err.find("--hidden") != std::string::npos, r.err);
  r = run_driver("mdn", "--act cubic --out " + dir + "/c");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("cubic") != std::string::npos, r.err);
}
