// The run folder (train/run): config, metrics and summary, atomic writes, the non-finite loss
// message; and the progress line (train/progress).
#define BOOST_TEST_MODULE run_dir
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/helpers.hpp"
#include "train/progress.hpp"
#include "train/run.hpp"

using namespace lz;
using namespace lz::testing;

BOOST_AUTO_TEST_CASE(run_dir_writes_config_metrics_summary) {
  const std::string dir = scratch_dir("run") + "/nested/run1";
  {
    RunDir run(dir);
    run.write_config({{"lr", 0.001}, {"data", "digits"}});
    run.log({{"step", 1}, {"loss", 2.5}});
    run.log({{"step", 2}, {"loss", NAN}});
    run.write_summary({{"test_accuracy", 0.95}});
  }
  const auto cfg = nlohmann::json::parse(read_text(dir + "/config.json"));
  BOOST_TEST(cfg["data"] == "digits");
  std::istringstream lines(read_text(dir + "/metrics.jsonl"));
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  BOOST_TEST(!std::getline(lines, l3));
  BOOST_TEST(nlohmann::json::parse(l1)["loss"] == 2.5);
  BOOST_TEST(nlohmann::json::parse(l2)["loss"].is_null());  // JSON has no NaN
  BOOST_TEST(nlohmann::json::parse(read_text(dir + "/summary.json"))["test_accuracy"] == 0.95);
  BOOST_TEST(temp_leftovers(dir).empty());
}

BOOST_AUTO_TEST_CASE(atomic_write_keeps_the_old_file_on_failure) {
  const std::string dir = scratch_dir("atomic");
  atomic_write(dir + "/f.txt", "old");
  BOOST_CHECK_THROW(atomic_write_with(dir + "/f.txt",
                                      [](std::FILE* f) {
                                        std::fputs("half", f);
                                        throw std::runtime_error("disk on fire");
                                        return true;
                                      }),
                    std::runtime_error);
  BOOST_TEST(read_text(dir + "/f.txt") == "old");
  BOOST_TEST(temp_leftovers(dir).empty());
  try {
    atomic_write(dir + "/no/such/folder/f.txt", "x");
    BOOST_FAIL("no throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find(dir + "/no/such/folder/f.txt") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(check_finite_names_step_batch_and_checkpoint) {
  BOOST_CHECK_NO_THROW(check_finite(1.5, 1, 1, ""));
  try {
    check_finite(NAN, 1234, 17, "runs/x/ckpt-1000.safetensors");
    BOOST_FAIL("no throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "loss is nan at step 1234 (batch 17); last good checkpoint: runs/x/ckpt-1000.safetensors");
  }
  try {
    check_finite(-INFINITY, 3, 2, "");
    BOOST_FAIL("no throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) == "loss is -inf at step 3 (batch 2); no checkpoint saved yet");
  }
}

// Epoch summaries do not flood a log: at most one per interval, and the run's last one always.
BOOST_AUTO_TEST_CASE(progress_epoch_summaries_are_throttled) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("train", 100, 1, 3600.0, f);
    for (int e = 1; e <= 10; ++e) p.summary("epoch " + std::to_string(e) + ": loss 1", e == 10);
  }
  std::rewind(f);
  char buf[4096] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string s(buf, n);
  BOOST_TEST(s == "epoch 10: loss 1\n");
}

BOOST_AUTO_TEST_CASE(progress_plain_lines_when_not_a_terminal) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("train", 4, 64, 0.0, f);  // interval 0: a line for every step
    BOOST_TEST(!p.is_terminal());
    for (int s = 1; s <= 4; ++s) p.update(1, s, 2.0);
  }
  std::rewind(f);
  char buf[4096] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string s(buf, n);
  BOOST_TEST(s.find('\r') == std::string::npos);
  BOOST_TEST(s.find("step 4/4 loss 2") != std::string::npos);
  BOOST_TEST(s.find("items/s") != std::string::npos);
  BOOST_TEST(format_duration(3725) == "1h02m");
  BOOST_TEST(format_duration(65) == "1m05s");
}

// issue 39: a killed run left its pictures' temporary files (plot/plot.cpp: "<name>.png.plot-<pid>"
// with .dat, .gp, .gp.err, .png), and --resume swept only the atomic writes' ".tmp-<pid>".
BOOST_AUTO_TEST_CASE(resume_sweeps_atomic_and_picture_temporaries) {
  const std::string dir = scratch_dir("run_sweep");
  {
    RunDir run(dir);
    run.log({{"step", 1}});
  }
  const std::vector<std::string> leftovers = {"checkpoint.safetensors.tmp-123", "config.json.tmp.77",
                                              "density.png.plot-11780.dat",     "density.png.plot-11780.gp",
                                              "loss.png.plot-5.gp.err",         "z.png.plot-42.png"};
  // names a run may hold that are not temporaries of ours
  const std::vector<std::string> kept = {"my.png.plot-notes.txt", "plot-1.dat", "a.png.plot-12.csv"};
  for (const auto& n : leftovers) write_bytes(dir + "/" + n, "half");
  for (const auto& n : kept) write_bytes(dir + "/" + n, "mine");
  RunDir resumed(dir, RunMode::Resume);
  resumed.resume_at(1);
  for (const auto& n : leftovers) BOOST_TEST(!std::filesystem::exists(dir + "/" + n), n << " was not swept");
  for (const auto& n : kept) BOOST_TEST(std::filesystem::exists(dir + "/" + n), n << " was removed");
}
