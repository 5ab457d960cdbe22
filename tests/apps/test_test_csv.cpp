// --test-csv: the drivers that read a CSV (gmm, flow) score a test set the user split off
// themselves, the same points another tool can be scored on. Checked against what the test can
// compute itself from the files: gmm's test log-likelihood from the mixture it wrote, flow's base
// log-density from the test rows; a file whose columns differ from the training file's is refused
// naming both, before a run folder exists.
#define BOOST_TEST_MODULE test_csv
#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/rng.hpp"
#include "tests/apps/run_checks.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr double kPi = 3.14159265358979323846;

using Points = std::vector<std::array<double, 2>>;

// n points from three round clusters, shifted by `shift` (a test set unlike the training set has a
// lower likelihood, so scoring the wrong rows shows).
Points clusters(int n, uint64_t seed, double shift) {
  Rng rng(seed);
  const double cx[3] = {0, 4, -4}, cy[3] = {0, 4, 4};
  Points p;
  for (int i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng.below(3));
    p.push_back({cx[c] + rng.normal() + shift, cy[c] + rng.normal()});
  }
  return p;
}

void write_csv(const std::string& path, const Points& p, const std::string& header = "x,y") {
  std::ofstream f(path);
  if (!header.empty()) f << header << "\n";
  f.precision(17);
  for (const auto& q : p) f << q[0] << "," << q[1] << "\n";
}

// The values as the driver read them (floats).
double as_read(double v) { return static_cast<double>(static_cast<float>(v)); }

// log p(x) under the full-covariance mixture of gmm's params.json (2-D, by hand).
double mixture_log_density(const json& p, double x, double y) {
  const std::vector<double> w = p.at("weights"), mu = p.at("means"), cov = p.at("covariances");
  double sum = 0;
  for (size_t k = 0; k < w.size(); ++k) {
    const double a = cov[4 * k], b = cov[4 * k + 1], d = cov[4 * k + 3], det = a * d - b * b;
    const double dx = x - mu[2 * k], dy = y - mu[2 * k + 1];
    const double q = (d * dx * dx - 2 * b * dx * dy + a * dy * dy) / det;
    sum += w[k] * std::exp(-0.5 * q) / (2 * kPi * std::sqrt(det));
  }
  return std::log(sum);
}

}  // namespace

BOOST_AUTO_TEST_CASE(gmm_scores_the_users_test_set) {
  const std::string dir = scratch_dir("test_csv_gmm");
  const Points train = clusters(600, 1, 0), test = clusters(200, 2, 1.5);
  write_csv(dir + "/train.csv", train);
  write_csv(dir + "/test.csv", test);
  const RunResult r = run_driver("gmm", "--csv " + dir + "/train.csv --test-csv " + dir + "/test.csv --k 2:4 --n-init 2 "
                                        "--seed 1 --out " + dir + "/run");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json params = json::parse(read_text(dir + "/run/params.json"));
  const json s = json::parse(read_text(dir + "/run/summary.json"));
  BOOST_TEST(s.at("k") == 3);
  BOOST_TEST(s.at("test").at("n") == 200);
  BOOST_TEST(s.at("test").at("data") == dir + "/test.csv");
  // The mean log-density of exactly the test file's rows, under the mixture the run wrote.
  double mean = 0;
  for (const auto& q : test) mean += mixture_log_density(params.at("params"), as_read(q[0]), as_read(q[1])) / 200;
  const double got = s.at("test").at("mean_log_likelihood");
  BOOST_TEST(got == mean, boost::test_tools::tolerance(1e-9));
  // Not the fitted rows' score: the shifted test set is less likely than the training set.
  BOOST_TEST(got < s.at("mean_log_likelihood").get<double>() - 0.3);
  BOOST_TEST(s.at("test").at("se").get<double>() > 0.0);
  // Every K of the table scored on it, the chosen one as in the summary.
  BOOST_TEST(params.at("bic_table").size() == 3u);
  BOOST_TEST(params.at("bic_table")[1].at("test_mean_log_likelihood").get<double>() == got,
             boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(flow_takes_the_users_test_set_instead_of_a_fifth) {
  const std::string dir = scratch_dir("test_csv_flow");
  const Points train = clusters(400, 3, 0), test = clusters(150, 4, 0);
  write_csv(dir + "/train.csv", train);
  write_csv(dir + "/test.csv", test, "");  // no header: allowed beside a training file with one
  const RunResult r = run_driver("flow", "--data csv --csv " + dir + "/train.csv --test-csv " + dir + "/test.csv "
                                         "--couplings 2 --hidden 16 --epochs 2 --batch 64 --seed 1 --out " + dir + "/run");
  BOOST_REQUIRE_MESSAGE(r.code == 0, r.err);
  const json s = json::parse(read_text(dir + "/run/summary.json"));
  BOOST_TEST(s.at("train_size") == 400);  // all of --csv (a split would train on 320)
  BOOST_TEST(s.at("test_size") == 150);
  BOOST_TEST(s.at("test_csv") == dir + "/test.csv");
  // The base N(0, I)'s mean log-density is of the test file's rows themselves.
  double base = 0;
  for (const auto& q : test) {
    const double x = as_read(q[0]), y = as_read(q[1]);
    base += (-0.5 * (x * x + y * y) - std::log(2 * kPi)) / 150;
  }
  BOOST_TEST(s.at("base_test_log_likelihood").get<double>() == base, boost::test_tools::tolerance(1e-5));
  BOOST_TEST(std::isfinite(s.at("test_log_likelihood").get<double>()));
}

BOOST_AUTO_TEST_CASE(a_test_set_of_other_columns_is_refused_naming_both_files) {
  const std::string dir = scratch_dir("test_csv_bad");
  const Points p = clusters(100, 5, 0);
  write_csv(dir + "/train.csv", p);
  write_csv(dir + "/renamed.csv", p, "x,z");
  {
    std::ofstream f(dir + "/three.csv");
    f << "x,y,z\n1,2,3\n4,5,6\n";
  }
  struct Case {  // a bad file exits 1, a flag used where it does not apply 2 (as every bad flag)
    std::string driver, args, message;
    int code = 1;
  };
  const std::string train = dir + "/train.csv";
  const std::vector<Case> cases = {
      {"gmm", "--csv " + train + " --k 2 --test-csv " + dir + "/three.csv",
       dir + "/three.csv (the test set): 3 columns (x, y, z), but the training data " + train + " has 2 (x, y)"},
      {"gmm", "--csv " + train + " --k 2 --test-csv " + dir + "/renamed.csv",
       dir + "/renamed.csv (the test set): column 2 is 'z', but in the training data " + train + " it is 'y'"},
      {"gmm", "--toy two_moons --test-csv " + train, "--test-csv " + train + ": a test set is for --csv data, not --toy two_moons", 2},
      {"flow", "--data csv --csv " + train + " --test-csv " + dir + "/three.csv",
       dir + "/three.csv (the test set): 3 columns (x, y, z), but the training data " + train + " has 2 (x, y)"},
      {"flow", "--data two_moons --test-csv " + train, "--test-csv is for --data csv, not --data two_moons", 2},
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
