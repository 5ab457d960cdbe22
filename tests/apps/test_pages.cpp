// Every driver's run folder gets its page (train/page, written however the run ends), checked by
// tests/python/page_check.py: every image and link resolves inside the folder, every picture is
// shown, nothing refers outside. With Chromium (a peer: scripts/setup.sh --peers), each page is
// rendered headless: it loads, the browser fetches every image and nothing missing, and its
// screenshot is kept in the run folder as page.png. The tour's page over the runs
// (scripts/tour_table.py, as scripts/demo.sh ends) is checked and rendered the same way.
#define BOOST_TEST_MODULE pages
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/apps/run_checks.hpp"
#include "tests/helpers.hpp"
#include "tests/peer.hpp"

using namespace lz::testing;
namespace fs = std::filesystem;

namespace {

struct DriverRun {
  std::string name, driver, args, env;
  int code;  // 0, or 128 + SIGTERM for the run stopped by a signal
};

// Each driver on tiny data (a second or two each; cvae on both of its paths), with pictures, curves
// and a summary; and one run stopped by SIGTERM after its third step (no summary: its page says so).
std::vector<DriverRun> driver_runs() {
  const std::string digits = " --data digits --data-dir " + tiny_digits();
  return {
      {"classify", "classify", digits + " --hidden 16 --epochs 2 --batch 32 --log-every 2", "", 0},
      {"gmm", "gmm", "--toy eight_gaussians --n 400 --k 6:8 --method both --sgd-steps 30", "", 0},
      // --naive-n 0: the naive estimator's 10^5 prior samples took 4 minutes under ASan
      {"vae", "vae", digits + " --arch 16 --latent 2 --epochs 2 --batch 32 --log-every 2 --eval-k 10 --eval-n 10 "
                     "--naive-n 0", "", 0},
      {"cvae-label", "cvae", digits + " --condition label --arch 16 --prior-arch 8 --latent 3 --epochs 2 --batch 32 "
                       "--log-every 2 --eval-k 10 --eval-n 20", "", 0},
      {"flow", "flow", "--data two_moons --n 500 --n-test 100 --couplings 2 --hidden 16 --epochs 2 --log-every 2", "", 0},
      {"mdn", "mdn", "--hidden 16 --n-train 400 --n-test 200 --epochs 2 --log-every 2", "", 0},
      {"flow-stopped", "flow", "--data two_moons --n 500 --n-test 100 --couplings 2 --hidden 16 --epochs 5 --log-every 1",
       "LZ_FAULT_AFTER_STEP=3:TERM", 128 + SIGTERM},
      {"cvae-actions", "cvae", "--condition actions --n-train 256 --n-test 32 --samples 4 --eval-k 20 --arch 16 "
                               "--prior-arch 8 --latent 2 --components 2 --batch 32 --epochs 2 --log-every 2", "", 0},
  };
}

// Runs every driver into root/<name>; returns the folders.
std::vector<std::string> run_all(const std::string& root) {
  std::vector<std::string> dirs;
  for (const DriverRun& d : driver_runs()) {
    const std::string dir = root + "/" + d.name;
    const RunResult r = run_driver(d.driver, d.args + " --seed 1 --out " + dir, d.env);
    BOOST_TEST_REQUIRE(r.code == d.code, d.name << ": exit " << r.code << "\n" << r.err);
    BOOST_TEST_REQUIRE(fs::exists(dir + "/index.html"), d.name << " wrote no page");
    dirs.push_back(dir);
  }
  return dirs;
}

lz::test::Run check(const std::string& dir) {
  return lz::test::run(std::string(lz::test::python()) + " " + lz::test::script("page_check.py") + " " + dir);
}

// The tour's page over the runs in `root` (scripts/tour_table.py, as scripts/demo.sh ends).
void tour_page(const std::string& root) {
  const lz::test::Run r =
      lz::test::run(std::string(lz::test::python()) + " " + LZ_SOURCE_DIR + "/scripts/tour_table.py " + root);
  BOOST_TEST_REQUIRE(r.status == 0, r.output);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_driver_writes_a_page_whose_images_and_links_resolve) {
  const std::vector<std::string> dirs = run_all(scratch_dir("pages"));
  tour_page(dirs[0] + "/..");
  for (const std::string& dir : dirs) {
    const lz::test::Run r = check(dir);
    BOOST_TEST(r.status == 0, dir << ":\n" << r.output);
  }
  // The tour's page: each run's own page linked from its row (the check resolves every link).
  const lz::test::Run tour = check(dirs[0] + "/..");
  BOOST_TEST(tour.status == 0, tour.output);
  const std::string tour_html = read_text(dirs[0] + "/../index.html");
  for (const char* run : {"classify", "gmm", "flow", "mdn"})
    BOOST_TEST(tour_html.find(std::string("<a href=\"") + run + "/index.html\">" + run + "</a></td>") != std::string::npos, run);
  const std::string flow = read_text(dirs[4] + "/index.html"), stopped = read_text(dirs[6] + "/index.html");
  BOOST_TEST(flow.find("<img src=\"density.png\"") != std::string::npos);
  BOOST_TEST(flow.find("id=\"summary\"") != std::string::npos);
  BOOST_TEST(stopped.find("no summary.json") != std::string::npos);
  BOOST_TEST(stopped.find("<svg") != std::string::npos);  // the curves of the steps it took

  // The check can fail: a picture gone, and one the page does not show, are both named.
  fs::remove(dirs[4] + "/density.png");
  fs::copy_file(dirs[4] + "/loss.png", dirs[4] + "/extra.png");
  const lz::test::Run r = check(dirs[4]);
  BOOST_TEST(r.status == 1, r.output);
  BOOST_TEST(r.output.find("density.png is missing") != std::string::npos, r.output);
  BOOST_TEST(r.output.find("the picture extra.png is not shown") != std::string::npos, r.output);
}

LZ_SKIPPABLE_CASE(chromium_renders_every_drivers_page) {
  const std::string root = scratch_dir("pages_chromium");
  std::vector<std::string> dirs;
  for (const DriverRun& d : driver_runs()) dirs.push_back(root + "/" + d.name);
  // Chromium first (a skip costs no driver run), on a page that needs nothing but itself.
  fs::create_directories(dirs[0]);
  write_bytes(dirs[0] + "/index.html", "<!DOCTYPE html><html><body><h1>probe</h1></body></html>\n");
  if (!lz::test::run_peer("chromium", "page_check.py", dirs[0] + " --chromium")) return;
  fs::remove_all(dirs[0]);
  run_all(root);
  tour_page(root);
  dirs.push_back(root);  // and the tour's page over them
  for (const std::string& dir : dirs) {
    BOOST_TEST_CONTEXT(dir) {
      lz::test::Run r;
      lz::test::run_peer("chromium", "page_check.py", dir + " --chromium", &r);
      BOOST_TEST(r.output.find("rendered to page.png") != std::string::npos, r.output);
      BOOST_TEST(fs::file_size(dir + "/page.png") > 20000u);  // a rendered page, not a blank one
    }
  }
}
