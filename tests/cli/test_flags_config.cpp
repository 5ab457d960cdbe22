// Flags (cli/flags): defaults, values and help; a bad value names its flag; a --config file.
#define BOOST_TEST_MODULE flags_config
#include <boost/test/unit_test.hpp>

#include <iostream>
#include <optional>
#include <sstream>

#include "cli/flags.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;

namespace {
// Runs Flags::parse on argv, capturing stderr.
struct Parsed {
  std::optional<int> rc;
  std::string err;
};
Parsed parse(Flags& f, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  std::stringstream buf;
  auto* old = std::cerr.rdbuf(buf.rdbuf());
  Parsed p;
  p.rc = f.parse(static_cast<int>(argv.size()), argv.data());
  std::cerr.rdbuf(old);
  p.err = buf.str();
  return p;
}
struct Driver {
  Flags flags{"test driver", "test"};
  int epochs = 10;
  double lr = 1e-3;
  std::string data = "digits";
  Driver() {
    flags.add("--epochs", epochs, "epochs").check(Range(1, 1000));
    flags.add("--lr", lr, "learning rate").check(PositiveNumber);
    flags.add("--data", data, "data set").check(OneOf({"digits", "fashion"}));
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(flags_defaults_values_and_help) {
  Driver d;
  const Parsed p = parse(d.flags, {"--epochs", "3"});
  BOOST_TEST(!p.rc.has_value());
  BOOST_TEST(d.epochs == 3);
  BOOST_TEST(d.flags.out.rfind("runs/test-", 0) == 0);
  const nlohmann::json v = d.flags.values();
  BOOST_TEST(v["epochs"] == 3);
  BOOST_TEST(v["lr"] == 1e-3);
  BOOST_TEST(v["data"] == "digits");
  BOOST_TEST(v["threads"] == 1);
  Driver h;
  std::stringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  const Parsed ph = parse(h.flags, {"--help"});
  std::cout.rdbuf(old);
  BOOST_TEST(ph.rc.value_or(-1) == 0);
  BOOST_TEST(out.str().find("--epochs") != std::string::npos);
  BOOST_TEST(out.str().find("10") != std::string::npos);  // the default shows
}

BOOST_AUTO_TEST_CASE(flags_bad_values_name_the_flag) {
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--epochs", "0"});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("--epochs") != std::string::npos);
    BOOST_TEST(p.err.find("not in range 1 to 1000") != std::string::npos);
  }
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--data", "cifar"});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("--data") != std::string::npos);
    BOOST_TEST(p.err.find("digits") != std::string::npos);
  }
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--epoch", "3"});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("--epoch") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(flags_config_file) {
  const std::string dir = scratch_dir("flags");
  write_bytes(dir + "/ok.json", R"({"epochs": 5, "lr": 0.01, "data": "fashion"})");
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--config", (dir + "/ok.json").c_str(), "--lr", "0.5"});
    BOOST_TEST(!p.rc.has_value());
    BOOST_TEST(d.epochs == 5);
    BOOST_TEST(d.lr == 0.5);  // the command line wins
    BOOST_TEST(d.data == "fashion");
  }
  write_bytes(dir + "/bad.json", R"({"epochs": 5, "hiden": 3})");
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--config", (dir + "/bad.json").c_str()});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("bad.json: unknown key 'hiden'") != std::string::npos);
    BOOST_TEST(p.err.find("valid keys: out, seed, threads, epochs, lr, data") != std::string::npos);
  }
  write_bytes(dir + "/range.json", R"({"epochs": 5000})");
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--config", (dir + "/range.json").c_str()});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("range.json: key 'epochs'") != std::string::npos);
  }
}

