// The training loop's promises, through the driver binaries on a tiny copy of the digits: a run
// killed at any step (SIGKILL, mid-epoch or at an epoch's end) or stopped by SIGINT/SIGTERM and
// resumed ends bit for bit as the uninterrupted run (parameters, optimizer state, generator,
// metrics.jsonl and summary.json apart from wall-clock fields); resumed flags are checked; run
// folders cannot collide; --config replays a run. Kills are injected with LZ_FAULT_AFTER_STEP
// (train/trainer.cpp) so that every case is deterministic.
#define BOOST_TEST_MODULE resume
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nn/safetensors.hpp"
#include "tensor/rng.hpp"
#include "tests/apps/run_checks.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool have(const std::string& driver) { return fs::exists(std::string(LZ_BINARY_DIR) + "/bin/" + driver); }

void same_run(const std::string& ref, const std::string& got) {
  same_checkpoint(ref, got);
  BOOST_TEST(records(ref) == records(got), "metrics.jsonl of " << got << " differs from " << ref);
  BOOST_TEST(summary(ref) == summary(got), "summary.json of " << got << " differs from " << ref);
  BOOST_TEST(temp_leftovers(got).empty());
}

// Kill a run after `step` with `sig`, resume it (with no flags but --resume), compare with `ref`.
void kill_and_resume(const std::string& driver, const std::string& args, const std::string& ref,
                     const std::string& dir, int64_t step, const std::string& sig) {
  BOOST_TEST_CONTEXT(driver << " killed by " << sig << " after step " << step) {
    fs::remove_all(dir);
    RunResult r = run_driver(driver, args + " --out " + dir, "LZ_FAULT_AFTER_STEP=" + std::to_string(step) + ":" + sig);
    if (sig == "KILL") {
      BOOST_TEST(r.code == 128 + SIGKILL);
    } else {
      BOOST_TEST(r.code == 128 + (sig == "INT" ? SIGINT : SIGTERM));
      BOOST_TEST(r.err.find("stopped by SIG" + sig) != std::string::npos, r.err);
      BOOST_TEST(r.err.find("resume with: " + driver + " --resume " + dir) != std::string::npos, r.err);
    }
    BOOST_TEST(!fs::exists(dir + "/summary.json"));
    // a leftover temporary file (a kill inside a write) is cleaned up by the resumed run
    write_bytes(dir + "/checkpoint.safetensors.tmp.99999", "half");
    // and so are a picture's (plot/plot.cpp: its data, script, gnuplot's stderr, the PNG before its rename)
    for (const char* ext : {".dat", ".gp", ".gp.err", ".png"}) write_bytes(dir + "/loss.png.plot-99999" + ext, "half");
    r = run_driver(driver, "--resume " + dir);
    BOOST_TEST(r.code == 0, r.err);
    same_run(ref, dir);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(classify_resumes_bit_for_bit_after_any_kill) {
  BOOST_TEST_REQUIRE(have("classify"), "bin/classify not built");
  const std::string dir = scratch_dir("resume_classify");
  // 240 training digits, batch 32: 8 steps per epoch, 3 epochs; records every 3 steps (so logged
  // windows straddle epochs and checkpoints), a checkpoint every 5 steps inside epochs.
  const std::string args = "--data digits --data-dir " + tiny_digits() +
                           " --hidden 16 --epochs 3 --batch 32 --log-every 3 --checkpoint-every 5";
  RunResult r = run_driver("classify", args + " --out " + dir + "/ref");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  BOOST_TEST(records(dir + "/ref").size() == 8u + 3u);  // 24 steps / 3, and one per epoch
  // SIGKILL right after a checkpoint (5), between checkpoints and after a record (9), at an
  // epoch's end (16), mid-epoch after the first epoch (19); SIGINT and SIGTERM mid-epoch.
  for (int64_t step : {5, 9, 16, 19}) kill_and_resume("classify", args, dir + "/ref", dir + "/k", step, "KILL");
  kill_and_resume("classify", args, dir + "/ref", dir + "/i", 11, "INT");
  kill_and_resume("classify", args, dir + "/ref", dir + "/t", 2, "TERM");
}

BOOST_AUTO_TEST_CASE(vae_and_iwae_resume_bit_for_bit_after_any_kill) {
  BOOST_TEST_REQUIRE(have("vae"), "bin/vae not built");
  const std::string dir = scratch_dir("resume_vae");
  for (const char* k : {"1", "3"}) {
    const std::string args = "--data digits --data-dir " + tiny_digits() + " --k " + k +
                             " --arch 16 --latent 2 --epochs 2 --batch 40 --log-every 4 --warmup 5 "
                             "--checkpoint-every 4 --eval-k 10 --eval-n 20 --naive-n 0";
    const std::string ref = dir + "/ref" + k;
    RunResult r = run_driver("vae", args + " --out " + ref);
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
    for (int64_t step : {5, 6, 9}) kill_and_resume("vae", args, ref, dir + "/k" + k, step, "KILL");
    kill_and_resume("vae", args, ref, dir + "/i" + k, 7, "INT");
  }
}

BOOST_AUTO_TEST_CASE(a_run_killed_before_its_first_checkpoint_says_so) {
  BOOST_TEST_REQUIRE(have("classify"), "bin/classify not built");
  const std::string dir = scratch_dir("resume_early") + "/run";
  const std::string args = "--data digits --data-dir " + tiny_digits() + " --hidden 8 --epochs 1 --batch 32";
  RunResult r = run_driver("classify", args + " --out " + dir, "LZ_FAULT_AFTER_STEP=2:KILL");
  BOOST_TEST(r.code == 128 + SIGKILL);
  r = run_driver("classify", "--resume " + dir);
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find(dir + "/checkpoint.safetensors does not exist") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("stopped before its first checkpoint") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(resumed_flags_are_applied_or_refused_never_ignored) {
  BOOST_TEST_REQUIRE(have("classify"), "bin/classify not built");
  const std::string dir = scratch_dir("resume_flags");
  const std::string args = "--data digits --data-dir " + tiny_digits() + " --hidden 8 --batch 32";
  RunResult r = run_driver("classify", args + " --epochs 1 --out " + dir + "/a");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string before = read_text(dir + "/a/checkpoint.safetensors");
  const std::string finished = read_text(dir + "/a/summary.json");
  // a flag that changes what is computed is refused, naming it and both values
  r = run_driver("classify", "--resume " + dir + "/a --epochs 2 --lr 0.01");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--lr 0.01 differs from the run's 0.001") != std::string::npos, r.err);
  r = run_driver("classify", "--resume " + dir + "/a --epochs 2 --hidden 9");
  BOOST_TEST(r.err.find("--hidden 9 differs from the run's 8") != std::string::npos, r.err);
  // the same value again is fine; a resumed run stays in its folder
  r = run_driver("classify", "--resume " + dir + "/a --epochs 2 --out " + dir + "/elsewhere");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("continues in its own folder") != std::string::npos, r.err);
  BOOST_TEST(read_text(dir + "/a/checkpoint.safetensors") == before);  // nothing was touched
  BOOST_TEST(read_text(dir + "/a/summary.json") == finished);
  // resuming a run that has done its epochs (killed in its final evaluation, say) evaluates again
  fs::remove(dir + "/a/summary.json");
  r = run_driver("classify", "--resume " + dir + "/a");
  BOOST_TEST(r.code == 0, r.err);
  json want = json::parse(finished);
  want.erase("train_seconds");
  BOOST_TEST(summary(dir + "/a") == want);
  // the run has done its epoch: asking for no more is an error, more epochs continue it
  r = run_driver("classify", "--resume " + dir + "/a --epochs 2 --hidden 8");
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(json::parse(read_text(dir + "/a/config.json"))["epochs"] == 2);  // applied and recorded
  BOOST_TEST(summary(dir + "/a")["epochs"] == 2);
  // and equals a run of 2 epochs from the start
  r = run_driver("classify", args + " --epochs 2 --out " + dir + "/b");
  BOOST_TEST(r.code == 0, r.err);
  same_run(dir + "/b", dir + "/a");
}

BOOST_AUTO_TEST_CASE(a_checkpoint_whose_counters_disagree_is_refused) {
  BOOST_TEST_REQUIRE(have("classify"), "bin/classify not built");
  const std::string dir = scratch_dir("resume_counters");
  const std::string args = "--data digits --data-dir " + tiny_digits() + " --hidden 8 --epochs 2 --batch 32";
  RunResult r = run_driver("classify", args + " --out " + dir + "/a", "LZ_FAULT_AFTER_STEP=8:KILL");
  BOOST_REQUIRE(fs::exists(dir + "/a/checkpoint.safetensors"));
  SafeTensors f = read_safetensors(dir + "/a/checkpoint.safetensors");
  std::vector<std::pair<std::string, AnyTensor>> tensors;
  for (const auto& n : f.order) tensors.emplace_back(n, f.tensors.at(n));
  // counters from another moment than the tensors (what two files renamed one by one allowed)
  auto bad = f.metadata;
  bad["train.step"] = "3";
  write_safetensors(dir + "/a/checkpoint.safetensors", tensors, bad);
  r = run_driver("classify", "--resume " + dir + "/a");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("counters disagree: step 3 is not 1 epochs of 8 batches + 0") != std::string::npos, r.err);
  bad = f.metadata;
  bad["optim.lr"] = "nan";
  write_safetensors(dir + "/a/checkpoint.safetensors", tensors, bad);
  r = run_driver("classify", "--resume " + dir + "/a");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("'optim.lr' = 'nan'") != std::string::npos, r.err);
  BOOST_TEST(!fs::exists(dir + "/a/summary.json"));
}

BOOST_AUTO_TEST_CASE(run_folders_do_not_collide_and_config_replays_a_run) {
  BOOST_TEST_REQUIRE(have("classify"), "bin/classify not built");
  const std::string dir = scratch_dir("run_folders");
  const std::string args = "--data digits --data-dir " + tiny_digits() + " --hidden 8 --epochs 1 --batch 32";
  RunResult r = run_driver("classify", args + " --out " + dir + "/a");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string metrics = read_text(dir + "/a/metrics.jsonl");
  r = run_driver("classify", args + " --out " + dir + "/a");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find(dir + "/a holds another run (config.json is there)") != std::string::npos, r.err);
  BOOST_TEST(read_text(dir + "/a/metrics.jsonl") == metrics);
  // the run's own config.json repeats it exactly
  r = run_driver("classify", "--config " + dir + "/a/config.json --out " + dir + "/b");
  BOOST_TEST(r.code == 0, r.err);
  same_run(dir + "/a", dir + "/b");
  // default folders: two runs started in the same second in one folder get different names
  const std::string cwd = dir + "/cwd";
  fs::create_directories(cwd);
  const std::string bin = std::string(LZ_BINARY_DIR) + "/bin/classify ";
  const std::string cmd = "cd " + cwd + " && (" + bin + args + " >/dev/null 2>&1 & " + bin + args +
                          " >/dev/null 2>&1; wait)";
  BOOST_TEST(std::system(cmd.c_str()) == 0);
  int runs = 0;
  for (const auto& e : fs::directory_iterator(cwd + "/runs")) runs += fs::exists(e.path() / "summary.json");
  BOOST_TEST(runs == 2);
}

BOOST_AUTO_TEST_CASE(a_corrupt_or_mismatched_checkpoint_is_refused_naming_it) {
  BOOST_TEST_REQUIRE(have("classify"), "bin/classify not built");
  const std::string dir = scratch_dir("resume_bad_ckpt");
  const std::string args = "--data digits --data-dir " + tiny_digits() + " --hidden 8 --epochs 1 --batch 32";
  RunResult r = run_driver("classify", args + " --out " + dir + "/a");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string ckpt = dir + "/a/checkpoint.safetensors";
  const std::string good = read_text(ckpt);
  const SafeTensors f = read_safetensors(ckpt);
  auto rewrite = [&](const std::function<void(std::vector<std::pair<std::string, AnyTensor>>&,
                                              std::map<std::string, std::string>&)>& change) {
    std::vector<std::pair<std::string, AnyTensor>> tensors;
    for (const auto& n : f.order) tensors.emplace_back(n, f.tensors.at(n));
    auto meta = f.metadata;
    change(tensors, meta);
    write_safetensors(ckpt, tensors, meta);
  };
  const std::string finished = read_text(dir + "/a/summary.json");
  auto refused = [&](const std::string& what, int code) {
    const std::string before = read_text(ckpt);
    r = run_driver("classify", "--resume " + dir + "/a --epochs 2");
    BOOST_TEST(r.code == code);
    BOOST_TEST(r.err.find(what) != std::string::npos, r.err);
    BOOST_TEST(read_text(ckpt) == before);  // a refused resume changes nothing in the run
    BOOST_TEST(read_text(dir + "/a/summary.json") == finished);
  };
  // truncated
  write_bytes(ckpt, good.substr(0, good.size() / 2));
  refused(ckpt, 2);
  // the run's config says 16 hidden units, its tensors have 8
  rewrite([](auto&, auto& meta) {
    json c = json::parse(meta["config"]);
    c["hidden"] = 16;
    meta["config"] = c.dump();
  });
  refused("'fc1.weight' has shape [8,784], expected [16,784]", 1);
  // a float64 tensor where the model is float32
  rewrite([](auto& tensors, auto&) {
    const auto& w = std::get<Tensor<float>>(tensors[0].second);
    Tensor<double> d(w.shape());
    for (int64_t i = 0; i < w.numel(); ++i) d[i] = w[i];
    tensors[0].second = d;
  });
  refused("has dtype F64, expected F32", 1);
  // a checkpoint of another driver
  rewrite([](auto&, auto& meta) { meta["train.driver"] = "vae"; });
  refused("was written by 'vae', not by 'classify'", 1);
}
