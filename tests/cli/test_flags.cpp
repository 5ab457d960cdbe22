// Flag and config validation every driver inherits from lz::Flags (NaN/inf, --seed's range, config
// type errors, folders given for files, --no-<flag>, out of memory), the shared size and range
// parsers, and the gmm driver's use of them (--k's limit, --data-dir for --fashion-pca).
#define BOOST_TEST_MODULE flags
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/flags.hpp"
#include "cli/sizes.hpp"
#include "datasets/idx.hpp"
#include "tensor/rng.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;
namespace fs = std::filesystem;

namespace {

// A driver's flag set in miniature: one flag of each kind.
struct Driver {
  Flags flags{"t: a test driver", "t"};
  double lr = 0.1;
  float beta = 1.0f;
  int64_t epochs = 3;
  bool learn_var = true;
  std::string resume, name = "x";
  Driver() {
    flags.add("--lr", lr, "learning rate").check(Range(0.0, 10.0));
    flags.add("--beta", beta, "a float option");
    flags.add("--epochs", epochs, "passes").check(Range(1, 100));
    flags.add("--name", name, "text");
    flags.add("--resume", resume, "a file").check(ExistingFile);
    flags.flag("--learn-var", learn_var, "learn the variance");
  }
};

struct Parsed {
  std::optional<int> rc;
  std::string err;
};
// Parses `args` (after argv[0]) with stderr captured.
Parsed parse(Driver& d, std::vector<std::string> args) {
  args.insert(args.begin(), "t");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  std::ostringstream err;
  std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
  Parsed p;
  p.rc = d.flags.parse(static_cast<int>(argv.size()), argv.data());
  std::cerr.rdbuf(old);
  p.err = err.str();
  return p;
}

// A fresh driver must refuse `args` with exit code 2 and a message holding each of `parts`.
void refused(const std::vector<std::string>& args, const std::vector<std::string>& parts) {
  Driver d;
  const Parsed p = parse(d, args);
  BOOST_TEST_INFO("args: " << args.front() << " ...; stderr: " << p.err);
  BOOST_TEST((p.rc && *p.rc == 2));
  for (const auto& part : parts) {
    BOOST_TEST_INFO("stderr: " << p.err);
    BOOST_TEST(p.err.find(part) != std::string::npos, "missing '" << part << "'");
  }
}

std::string config(const std::string& dir, const std::string& name, const std::string& json) {
  write_bytes(dir + "/" + name, json);
  return dir + "/" + name;
}

// fn must throw std::invalid_argument whose message holds each of `parts`.
void bad_text(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    BOOST_ERROR("no exception; expected one mentioning '" << parts.front() << "'");
  } catch (const std::invalid_argument& e) {
    for (const auto& part : parts) {
      BOOST_TEST_INFO("message: " << e.what());
      BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, "missing '" << part << "'");
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(real_options_refuse_nan_and_inf_naming_the_flag) {
  // CLI::Range lets NaN through (NaN compares false), so this must come from Flags::add itself;
  // --beta has no check of its own at all.
  for (const std::string v : {"nan", "NaN", "inf", "-inf", "1e400"}) {
    refused({"--lr", v}, {"--lr: expected a finite number, found " + v});
    refused({"--beta", v}, {"--beta: expected a finite number"});
  }
  refused({"--lr", "abc"}, {"--lr", "abc"});
  refused({"--lr", "11"}, {"--lr", "not in range"});  // the driver's own range check still runs
  Driver d;
  BOOST_TEST(!parse(d, {"--lr", "0.5", "--beta", "2"}).rc);
  BOOST_TEST(d.lr == 0.5);
  BOOST_TEST(d.beta == 2.0f);
}

BOOST_AUTO_TEST_CASE(seed_outside_uint64_is_refused_naming_the_range) {
  const std::string range = "--seed: expected an integer from 0 to 18446744073709551615, found ";
  for (const std::string v : {"-1", "1e23", "18446744073709551616", "1.5", "0x10", " 3"}) refused({"--seed", v}, {range + v});
  Driver d;
  BOOST_TEST(!parse(d, {"--seed", "18446744073709551615"}).rc);
  BOOST_TEST(d.flags.seed == 18446744073709551615ull);
  // the same check for a seed from a config file
  const std::string dir = scratch_dir("flags_seed");
  refused({"--config", config(dir, "neg.json", R"({"seed": -1})")}, {"neg.json: key 'seed': " + range + "-1"});
  refused({"--config", config(dir, "big.json", R"({"seed": 1e23})")}, {"big.json: key 'seed': " + range});
  Driver e;
  BOOST_TEST(!parse(e, {"--config", config(dir, "ok.json", R"({"seed": 7})")}).rc);
  BOOST_TEST(e.flags.seed == 7u);
}

BOOST_AUTO_TEST_CASE(config_type_errors_are_worded_as_type_errors) {
  const std::string dir = scratch_dir("flags_types");
  refused({"--config", config(dir, "a.json", R"({"epochs": "ten"})")},
          {"a.json: key 'epochs': expected an integer, found a string \"ten\""});
  refused({"--config", config(dir, "b.json", R"({"lr": true})")}, {"b.json: key 'lr': expected a number, found a boolean"});
  refused({"--config", config(dir, "c.json", R"({"epochs": 2.5})")}, {"key 'epochs': expected an integer, found a number 2.5"});
  refused({"--config", config(dir, "d.json", R"({"learn-var": "false"})")},
          {"key 'learn-var': expected true or false, found a string"});
  refused({"--config", config(dir, "e.json", R"({"name": [1, 2]})")}, {"key 'name': expected a string, found an array"});
  refused({"--config", config(dir, "f.json", R"({"lr": null})")}, {"key 'lr': expected a number, found null"});
  refused({"--config", config(dir, "g.json", R"({"lr": "nan"})")}, {"key 'lr': expected a number, found a string"});
  // a well-typed value out of range is still a range error
  refused({"--config", config(dir, "h.json", R"({"epochs": 1000})")}, {"key 'epochs': --epochs", "not in range 1 to 100"});
  // the negated spelling of a switch is not a key: it would read {"no-learn-var": true} as learn-var = true
  refused({"--config", config(dir, "i.json", R"({"no-learn-var": true})")},
          {"key 'no-learn-var': a negated flag; write \"learn-var\": false instead"});
  Driver d;  // 5.0 is an integer to JSON, and an integer is a number
  BOOST_TEST(!parse(d, {"--config", config(dir, "ok.json", R"({"epochs": 5.0, "lr": 2, "name": 3, "learn-var": false})")}).rc);
  BOOST_TEST(d.epochs == 5);
  BOOST_TEST(d.lr == 2.0);
  BOOST_TEST(d.name == "3");
  BOOST_TEST(!d.learn_var);
  BOOST_TEST(d.flags.values()["epochs"] == 5);
}

// Each lz::Check (cli/flags.hpp) becomes a CLI11 validator on its flag: the value inside is
// accepted, the one outside refused naming the flag (exit 2), in CLI11's own words.
BOOST_AUTO_TEST_CASE(each_check_accepts_inside_and_refuses_outside) {
  struct Case {
    std::string flag, good, bad, words;
  };
  const std::vector<Case> cases = {{"--small", "64", "65", "not in range 1 to 64"},
                                   {"--wide", "5000000000", "0", "not in range 1 to 10000000000"},
                                   {"--real", "0.5", "1.5", "not in range"},
                                   {"--pick", "b", "c", "c not in {a,b}"},
                                   {"--pos", "0.1", "-1", "--pos"}};
  for (const Case& c : cases)
    for (bool good : {true, false}) {
      Flags f("t", "t");
      int small = 1;
      int64_t wide = 1;
      double real = 0, pos = 1;
      std::string pick = "a";
      f.add("--small", small, "").check(Range(1, 64));
      f.add("--wide", wide, "").check(Range(int64_t(1), int64_t(10000000000)));
      f.add("--real", real, "").check(Range(0.0, 1.0));
      f.add("--pick", pick, "").check(OneOf({"a", "b"}));
      f.add("--pos", pos, "").check(PositiveNumber);
      const std::string value = good ? c.good : c.bad;
      const char* argv[] = {"t", c.flag.c_str(), value.c_str()};
      std::ostringstream err;
      std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
      const std::optional<int> rc = f.parse(3, argv);
      std::cerr.rdbuf(old);
      BOOST_TEST_CONTEXT(c.flag << " " << value << ": " << err.str()) {
        if (good) {
          BOOST_TEST(!rc);
        } else {
          BOOST_TEST((rc && *rc == 2));
          BOOST_TEST(err.str().find(c.flag + ":") != std::string::npos);
          BOOST_TEST(err.str().find(c.words) != std::string::npos);
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(a_folder_where_a_file_is_expected) {
  const std::string dir = scratch_dir("flags_folder");
  refused({"--config", dir}, {"--config: " + dir + " is a folder, expected a file"});
  refused({"--resume", dir}, {"--resume: " + dir + " is a folder, expected a file"});
  refused({"--resume", dir + "/none"}, {"--resume: no such file: " + dir + "/none"});
  // a driver still using CLI11's own validator gets the same wording
  Driver d;
  std::string other;
  d.flags.app().add_option("--other", other, "a file")->check(CLI::ExistingFile);
  const Parsed p = parse(d, {"--other", dir});
  BOOST_TEST((p.rc && *p.rc == 2));
  BOOST_TEST(p.err.find("--other: " + dir + " is a folder, expected a file") != std::string::npos, p.err);
  // and from a config file
  refused({"--config", config(dir, "r.json", "{\"resume\": \"" + dir + "\"}")},
          {"r.json: key 'resume': --resume: " + dir + " is a folder, expected a file"});
}

BOOST_AUTO_TEST_CASE(switches_take_no_prefix_and_explicit_values) {
  struct Case {
    std::vector<std::string> args;
    bool expect;
  };
  for (const Case& c : std::vector<Case>{{{}, true},
                                         {{"--no-learn-var"}, false},
                                         {{"--learn-var=false"}, false},
                                         {{"--learn-var=true"}, true},
                                         {{"--learn-var"}, true},
                                         {{"--no-learn-var", "--learn-var"}, true}}) {
    Driver d;
    BOOST_TEST_INFO("args: " << c.args.size());
    BOOST_TEST(!parse(d, c.args).rc);
    BOOST_TEST(d.learn_var == c.expect);
    // config.json records the value itself, so that it can be replayed
    BOOST_TEST(d.flags.values()["learn-var"] == c.expect);
  }
  // a switch that defaults to off records false, not "" (which a replayed config would refuse)
  Flags off("t", "t");
  bool verbose = false;
  off.flag("--verbose", verbose, "talk more");
  const char* argv[] = {"t"};
  BOOST_TEST(!off.parse(1, argv));
  BOOST_TEST(off.values()["verbose"] == false);
  Driver h;
  const std::string help = h.flags.app().help();
  BOOST_TEST(help.find("--no-learn-var") != std::string::npos, help);
  BOOST_CHECK_THROW(h.flags.flag("-v", h.learn_var, "short"), std::logic_error);
}

BOOST_AUTO_TEST_CASE(guarded_main_reports_out_of_memory) {
  std::ostringstream err;
  std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
  const int rc = guarded_main([]() -> int { throw std::bad_alloc(); });
  const int rc2 = guarded_main([]() -> int { throw std::runtime_error("plain"); });
  std::cerr.rdbuf(old);
  BOOST_TEST(rc == 1);
  BOOST_TEST(rc2 == 1);
  BOOST_TEST(err.str().find("error: out of memory (") != std::string::npos, err.str());
  BOOST_TEST(err.str().find("error: plain\n") != std::string::npos, err.str());
  BOOST_TEST(err.str().find("std::bad_alloc") == std::string::npos, err.str());
}

BOOST_AUTO_TEST_CASE(size_lists) {
  BOOST_TEST(parse_size_list("--arch", "200,200", 1000) == (std::vector<int64_t>{200, 200}), boost::test_tools::per_element());
  BOOST_TEST(parse_size_list("--arch", "7", 7) == (std::vector<int64_t>{7}), boost::test_tools::per_element());
  bad_text([] { parse_size_list("--arch", "99999999999", 1000000); },
           {"--arch: 99999999999 is above the limit 1000000"});
  bad_text([] { parse_size_list("--arch", "200,99999999999999999999999", 1000000); }, {"--arch", "above the limit 1000000"});
  bad_text([] { parse_size_list("--arch", "200,1001", 1000); }, {"--arch: 1001 is above the limit 1000 (in '200,1001')"});
  for (const std::string t : {"", "200,", ",200", "200,,200", "0", "-3", "2x", " 200", "+5", "1.5"})
    bad_text([&] { parse_size_list("--hidden", t, 1000); }, {"--hidden: expected comma-separated positive sizes like 200,200"});
}

BOOST_AUTO_TEST_CASE(int_ranges) {
  const IntRange one = parse_int_range("--k", "3", 100), many = parse_int_range("--k", "1:10", 100);
  BOOST_TEST(one.lo == 3);
  BOOST_TEST(one.hi == 3);
  BOOST_TEST(many.lo == 1);
  BOOST_TEST(many.hi == 10);
  BOOST_TEST(many.count() == 10);
  bad_text([] { parse_int_range("--k", "1:99999999999", 100000); }, {"--k: 99999999999 is above the limit 100000"});
  bad_text([] { parse_int_range("--k", "5:2", 100); }, {"--k: range 5:2 is empty"});
  for (const std::string t : {"", ":", "1:", ":3", "0", "0:3", "1:2:3", "a", "-1:3"})
    bad_text([&] { parse_int_range("--k", t, 100); }, {"--k: expected a positive integer K or a range LO:HI"});
}

// ---- the gmm driver -------------------------------------------------------------------------

namespace {
struct Run {
  int code = -1;
  std::string out, err;
  double seconds = 0;
};
Run gmm(const std::string& args) {
  const std::string dir = std::string(LZ_BINARY_DIR) + "/tests-tmp";
  fs::create_directories(dir);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string cmd = "timeout 60 " + std::string(LZ_BINARY_DIR) + "/bin/gmm " + args + " >" + dir +
                          "/gmm.out 2>" + dir + "/gmm.err";
  const int status = std::system(cmd.c_str());
  Run r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  r.out = read_text(dir + "/gmm.out");
  r.err = read_text(dir + "/gmm.err");
  return r;
}
bool have_gmm() { return fs::exists(std::string(LZ_BINARY_DIR) + "/bin/gmm"); }
}  // namespace

BOOST_AUTO_TEST_CASE(gmm_k_range_too_large_fails_at_once) {
  BOOST_TEST_REQUIRE(have_gmm(), "bin/gmm not built");
  const std::string dir = scratch_dir("flags_gmm_k");
  // this used to build a list of 10^11 values before checking any (a hang, then bad_alloc)
  const Run r = gmm("--toy two_moons --n 100 --k 1:99999999999 --out " + dir + "/a");
  BOOST_TEST(r.code == 2);  // a bad flag (issue 39: it exited 1)
  BOOST_TEST(r.err.find("--k: 99999999999 is above the limit 100000") != std::string::npos, r.err);
  BOOST_TEST(r.seconds < 10.0);
  BOOST_TEST(!fs::exists(dir + "/a"));
  const Run nan = gmm("--toy two_moons --n 100 --tol nan --out " + dir + "/b");
  BOOST_TEST(nan.code == 2);
  BOOST_TEST(nan.err.find("--tol: expected a finite number, found nan") != std::string::npos, nan.err);
  BOOST_TEST(!fs::exists(dir + "/b"));
}

BOOST_AUTO_TEST_CASE(gmm_fashion_pca_reads_data_dir) {
  BOOST_TEST_REQUIRE(have_gmm(), "bin/gmm not built");
  const std::string dir = scratch_dir("flags_gmm_data");
  // a tiny stand-in for Fashion-MNIST's training split: 40 random 28x28 images
  Rng rng(3);
  std::vector<uint8_t> pixels(40 * 784), labels(40);
  for (auto& p : pixels) p = static_cast<uint8_t>(rng.next_u64() % 256);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<uint8_t>(i % 10);
  fs::create_directories(dir + "/fm");
  write_gz(dir + "/fm/train-images-idx3-ubyte.gz", idx_bytes(kIdxImagesMagic, {40, 28, 28}, pixels));
  write_gz(dir + "/fm/train-labels-idx1-ubyte.gz", idx_bytes(kIdxLabelsMagic, {40}, labels));
  const Run ok = gmm("--fashion-pca 2 --k 2 --data-dir " + dir + "/fm --out " + dir + "/run");
  BOOST_TEST(ok.code == 0, ok.err);
  BOOST_TEST(ok.out.find("data fashion-mnist-pca2: 40 points in 2-D") != std::string::npos, ok.out);
  const Run missing = gmm("--fashion-pca 2 --data-dir " + dir + "/nowhere --out " + dir + "/b");
  BOOST_TEST(missing.code == 1);
  BOOST_TEST(missing.err.find("cannot open " + dir + "/nowhere/train-images-idx3-ubyte.gz") != std::string::npos,
             missing.err);
  const Run unused = gmm("--toy two_moons --data-dir " + dir + "/fm --out " + dir + "/c");
  BOOST_TEST(unused.code == 2);
  BOOST_TEST(unused.err.find("only --fashion-pca reads a data folder") != std::string::npos, unused.err);
  const Run folder = gmm("--csv " + dir + " --out " + dir + "/d");
  BOOST_TEST(folder.code == 2);
  BOOST_TEST(folder.err.find("--csv: " + dir + " is a folder, expected a file") != std::string::npos, folder.err);
  for (const char* d : {"/b", "/c", "/d"}) BOOST_TEST(!fs::exists(dir + d));
}

// issue 39: `--out ""` and `--data-dir ""` silently meant the default, `--resume ""` started a new run.
BOOST_AUTO_TEST_CASE(an_empty_text_value_is_refused_naming_the_flag) {
  refused({"--out", ""}, {"--out: expected a value, found an empty string"});
  refused({"--name", ""}, {"--name: expected a value, found an empty string"});
  refused({"--name="}, {"--name"});
  Flags f("t", "t");
  f.enable_resume({"epochs"});
  const char* argv[] = {"t", "--resume", ""};
  std::ostringstream err;
  std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
  const std::optional<int> rc = f.parse(3, argv);
  std::cerr.rdbuf(old);
  BOOST_TEST((rc && *rc == 2));
  BOOST_TEST(err.str().find("--resume: expected a value, found an empty string") != std::string::npos, err.str());
  Driver d;  // a text flag left at its default is no empty value
  BOOST_TEST(!parse(d, {}).rc);
  BOOST_TEST(d.name == "x");
  // config.json records a text flag left unset as "": replayed by --config, it stays unset (the
  // --data-dir of most runs); "" for a flag whose default is not empty is refused
  const std::string dir = scratch_dir("flags_empty_config");
  auto with_dir = [](Flags& g, std::string& data_dir) { g.add("--data-dir", data_dir, "a folder"); };
  Flags first("t", "t");
  std::string unset;
  with_dir(first, unset);
  const char* plain[] = {"t"};
  BOOST_TEST(!first.parse(1, plain));
  BOOST_TEST(first.run_config()["data-dir"] == "");
  write_bytes(dir + "/config.json", first.run_config().dump());
  Flags again("t", "t");
  std::string replayed;
  with_dir(again, replayed);
  const std::string cfg = dir + "/config.json";
  const char* replay[] = {"t", "--config", cfg.c_str()};
  BOOST_TEST(!again.parse(3, replay));
  BOOST_TEST(replayed.empty());
  BOOST_TEST(again.run_config() == first.run_config());
  refused({"--config", config(dir, "n.json", "{\"name\": \"\"}")}, {"n.json: key 'name': --name: expected a value"});
}

// issue 39: `--lr 0` said "not in range 0.000000 to 10.000000" (CLI::Range's std::to_string),
// hiding the real minimum 1e-12.
BOOST_AUTO_TEST_CASE(a_real_range_prints_its_bounds_as_given) {
  Flags f("t", "t");
  double lr = 1e-3, tiny = 0.5;
  f.add("--lr", lr, "").check(LearningRateRange());
  f.add("--tiny", tiny, "").check(Range(2.5e-7, 0.75));
  for (const auto& [args, words] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--lr", "0"}, "--lr: Value 0 not in range 1e-12 to 10"},
           {{"--lr", "11"}, "--lr: Value 11 not in range 1e-12 to 10"},
           {{"--tiny", "1e-7"}, "--tiny: Value 1e-7 not in range 2.5e-07 to 0.75"}}) {
    Flags g("t", "t");
    double a = 1e-3, b = 0.5;
    g.add("--lr", a, "").check(LearningRateRange());
    g.add("--tiny", b, "").check(Range(2.5e-7, 0.75));
    std::vector<const char*> argv = {"t", args[0].c_str(), args[1].c_str()};
    std::ostringstream err;
    std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
    const std::optional<int> rc = g.parse(3, argv.data());
    std::cerr.rdbuf(old);
    BOOST_TEST((rc && *rc == 2));
    BOOST_TEST(err.str().find(words) != std::string::npos, err.str());
  }
  const char* ok[] = {"t", "--lr", "1e-12", "--tiny", "2.5e-7"};
  BOOST_TEST(!f.parse(5, ok));
  BOOST_TEST(lr == 1e-12);
  BOOST_TEST(f.app().help().find("1e-12") != std::string::npos);
}

// A bad value found after parsing (a size list, a range of K, a network too large) exits 2 as a
// bad flag does; any other error exits 1.
BOOST_AUTO_TEST_CASE(guarded_main_exits_2_for_a_flag_error) {
  std::ostringstream err;
  std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
  const int rc = guarded_main([]() -> int { return static_cast<int>(parse_size_list("--arch", "0", 10).size()); });
  const int rc2 = guarded_main([]() -> int { throw std::invalid_argument("a bad file"); });
  std::cerr.rdbuf(old);
  BOOST_TEST(rc == 2);
  BOOST_TEST(rc2 == 1);
  BOOST_TEST(err.str().find("error: --arch: expected comma-separated positive sizes") != std::string::npos, err.str());
}
