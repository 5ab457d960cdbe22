#include "cli/flags.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <new>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/flag_error.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "train/distributed.hpp"
#include "train/run.hpp"

namespace lz {

namespace {

// An existing regular file: a missing path or a folder is refused with a message saying which.
const CLI::Validator ExistingFileValidator(
    [](std::string& path) -> std::string {
      std::error_code ec;
      const auto st = std::filesystem::status(path, ec);
      if (!std::filesystem::exists(st)) return "no such file: " + path;
      if (std::filesystem::is_directory(st)) return path + " is a folder, expected a file";
      return "";
    },
    "FILE");

// A finite real number: NaN and inf are refused (CLI::Range lets NaN through: NaN compares false).
const CLI::Validator FiniteNumber(
    [](std::string& s) -> std::string {
      double v = 0;
      if (!CLI::detail::lexical_cast(s, v)) return "expected a real number, found '" + s + "'";
      if (!std::isfinite(v)) return "expected a finite number, found " + s;
      return "";
    },
    "");

// Strictly digits that fit: std::stoull (and CLI11's conversion) would wrap "-1" to 2^64-1.
const CLI::Validator SeedRange(
    [](std::string& s) -> std::string {
      uint64_t v = 0;
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        return "expected an integer from 0 to " + std::to_string(std::numeric_limits<uint64_t>::max()) +
               ", found " + s;
      return "";
    },
    "");

// A value that is not the empty string: `--out ""` or `--resume ""` would otherwise quietly mean the
// default (a new run folder, a fresh start).
const CLI::Validator NonEmpty(
    [](std::string& s) -> std::string { return s.empty() ? "expected a value, found an empty string" : ""; }, "");

// A real number as written: the shortest text that reads back to the same double ("1e-12", "0.5",
// "10"), where CLI::Range's std::to_string rounds 1e-12 to "0.000000".
std::string shortest(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// lo <= value <= hi for a real-valued flag, in CLI::Range's words but with the bounds as given.
CLI::Validator real_range(double lo, double hi) {
  const std::string range = shortest(lo) + " to " + shortest(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(s, v)) return "expected a real number, found '" + s + "'";
        if (!(v >= lo && v <= hi)) return "Value " + s + " not in range " + range;
        return "";
      },
      "FLOAT in [" + shortest(lo) + " - " + shortest(hi) + "]");
}

// CLI11's own ExistingFile says "File is actually a directory: X"; a driver may still use it.
std::string reword(std::string m) {
  const std::string dir = "File is actually a directory: ";
  if (const size_t p = m.find(dir); p != std::string::npos)
    m = m.substr(0, p) + m.substr(p + dir.size()) + " is a folder, expected a file";
  return m;
}

std::string a_type(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  const std::string t = v.type_name();
  return (t == "array" || t == "object" ? "an " : "a ") + t;
}

}  // namespace

Flag& Flag::check(const Check& c) {
  switch (c.kind) {
    case Check::Kind::IntRange:
      if (c.narrow) o_->check(CLI::Range(static_cast<int>(c.int_lo), static_cast<int>(c.int_hi)));
      else o_->check(CLI::Range(c.int_lo, c.int_hi));
      break;
    case Check::Kind::RealRange:
      o_->check(real_range(c.real_lo, c.real_hi));
      break;
    case Check::Kind::OneOf:
      o_->check(CLI::IsMember(c.members));
      break;
    case Check::Kind::Positive:
      o_->check(CLI::PositiveNumber);
      break;
    case Check::Kind::ExistingFile:
      o_->check(ExistingFileValidator);
      break;
  }
  return *this;
}

Flags::Flags(const std::string& description, const std::string& run_prefix)
    : app_(std::make_unique<CLI::App>(description)), run_prefix_(run_prefix) {
  dist::rank();  // under mpirun, MPI starts here, before a driver prints anything (ranks > 0 are quiet)
  app_->option_defaults()->always_capture_default();
  app_->add_option("--out", out, "run folder for config, metrics, checkpoints and pictures (default: runs/" +
                                    run_prefix + "-<UTC time>)")
      ->check(NonEmpty);
  app_->add_option("--seed", seed, "random seed (every random draw follows from it), 0 to 2^64-1")
      ->capture_default_str()
      ->check(SeedRange);
  app_->add_option("--threads", threads, "threads the engine splits products and kernels over")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app_->add_option("--config", config_path, "JSON file of flag values, e.g. {\"epochs\": 5}; flags given on the "
                                            "command line win")
      ->check(ExistingFileValidator);
  kinds_ = {{"out", Kind::Text}, {"seed", Kind::Integer}, {"threads", Kind::Integer}};
}

Flags::~Flags() = default;

template <typename T>
Flag Flags::add_option(const std::string& name, T& var, const std::string& help) {
  CLI::Option* o = app_->add_option(name, var, help)->capture_default_str();
  if constexpr (std::is_floating_point_v<T>) o->check(FiniteNumber);
  if constexpr (std::is_same_v<T, std::string>) o->check(NonEmpty);
  kinds_[o->get_lnames().at(0)] = kind_of<T>();
  return Flag(o);
}
Flag Flags::add(const std::string& n, int& v, const std::string& h) { return add_option(n, v, h); }
Flag Flags::add(const std::string& n, int64_t& v, const std::string& h) { return add_option(n, v, h); }
Flag Flags::add(const std::string& n, uint64_t& v, const std::string& h) { return add_option(n, v, h); }
Flag Flags::add(const std::string& n, float& v, const std::string& h) { return add_option(n, v, h); }
Flag Flags::add(const std::string& n, double& v, const std::string& h) { return add_option(n, v, h); }
Flag Flags::add(const std::string& n, std::string& v, const std::string& h) { return add_option(n, v, h); }

Flag Flags::flag(const std::string& name, bool& var, const std::string& help) {
  if (name.size() < 3 || name.compare(0, 2, "--") != 0 || name.find(',') != std::string::npos)
    throw std::logic_error("Flags::flag: expected one long name like --learn-var, found '" + name + "'");
  CLI::Option* o = app_->add_flag(name + ",!--no-" + name.substr(2), var, help + " (--no-" + name.substr(2) + " to turn off)")
                       ->capture_default_str();
  o->default_str(var ? "true" : "false");  // CLI11 captures "" for a flag, which config.json could not replay
  kinds_[name.substr(2)] = Kind::Boolean;
  return Flag(o);
}

void Flags::check_config_type(const std::string& name, const std::string& key, const nlohmann::json& v,
                              const std::string& where) const {
  const auto it = kinds_.find(name);
  const Kind kind = it == kinds_.end() ? Kind::Other : it->second;
  std::string expected;
  switch (kind) {
    case Kind::Integer:
      // 1e23 or 5.0 are integers to JSON's eye; the option's range check words the rest.
      if (v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())) return;
      expected = "an integer";
      break;
    case Kind::Real:
      if (v.is_number()) return;
      expected = "a number";
      break;
    case Kind::Text:
      if (v.is_string() || v.is_number()) return;
      expected = "a string";
      break;
    case Kind::Boolean:
      if (v.is_boolean()) return;
      expected = "true or false";
      break;
    case Kind::Other:
      if (!v.is_null() && !v.is_object()) return;
      expected = "a number, string or boolean";
      break;
  }
  throw std::runtime_error(where + ": key '" + key + "': expected " + expected + ", found " + a_type(v) +
                           (v.is_primitive() && !v.is_null() ? " " + v.dump() : ""));
}

namespace {
std::string json_to_arg(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  // 5.0 reads as "5" so that an integer option's check sees an integer.
  if (v.is_number_float() && std::fabs(v.get<double>()) < 9e18 && std::floor(v.get<double>()) == v.get<double>())
    return std::to_string(static_cast<int64_t>(v.get<double>()));
  return v.dump();
}
}  // namespace

void Flags::apply_config(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw std::runtime_error(where + ": expected a JSON object of flag values, found a " + j.type_name());
  std::string valid;
  for (const CLI::Option* o : app_->get_options()) {
    const auto& ln = o->get_lnames();
    if (ln.empty() || ln[0] == "help" || ln[0] == "config") continue;
    valid.append(valid.empty() ? "" : ", ").append(ln[0]);
  }
  for (const auto& [key, v] : j.items()) {
    CLI::Option* o = app_->get_option_no_throw("--" + key);
    const bool named = o && std::find(o->get_lnames().begin(), o->get_lnames().end(), key) != o->get_lnames().end();
    if (!named || key == "help" || key == "config")
      throw std::runtime_error(where + ": unknown key '" + key + "' (valid keys: " + valid + ")");
    const auto& neg = o->get_fnames();
    if (std::find(neg.begin(), neg.end(), key) != neg.end())
      throw std::runtime_error(where + ": key '" + key + "': a negated flag; write \"" + o->get_lnames().at(0) +
                               "\": false instead");
    if (o->count() > 0) continue;  // the command line wins
    // "" for a text flag whose default is "" is how config.json (values()) records a flag left
    // unset (--data-dir, gmm's --csv): replayed, it stays unset. Any other "" is refused.
    if (v.is_string() && v.get<std::string>().empty() && o->get_default_str().empty()) continue;
    check_config_type(o->get_lnames().at(0), key, v, where);
    try {
      if (v.is_array())
        for (const auto& e : v) o->add_result(json_to_arg(e));
      else
        o->add_result(json_to_arg(v));
      o->run_callback();
    } catch (const CLI::Error& e) {
      throw std::runtime_error(where + ": key '" + key + "': " + reword(e.what()));
    }
  }
}

std::optional<int> Flags::parse(int argc, const char* const* argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app_->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app_->exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << reword(e.what()) << "\nRun with --help for the flags and their accepted values.\n";
    return 2;
  }
  if (!config_path.empty()) {
    try {
      std::ifstream f(config_path);
      if (!f) throw std::runtime_error("cannot open config " + config_path);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(f);
      } catch (const nlohmann::json::parse_error& e) {
        throw std::runtime_error(config_path + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
      }
      apply_config(j, config_path);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return 2;
    }
  }
  if (!resume.empty()) {
    try {
      apply_resume();
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return 2;
    }
  }
  if (out.empty()) out = default_run_dir(run_prefix_);
  set_threads(threads);
  return std::nullopt;
}

nlohmann::json Flags::values() const {
  nlohmann::json j = nlohmann::json::object();
  for (const CLI::Option* o : app_->get_options()) {
    const auto& ln = o->get_lnames();
    if (ln.empty() || ln[0] == "help") continue;
    std::vector<std::string> res = o->count() > 0 ? o->results() : std::vector<std::string>{o->get_default_str()};
    // A switch given twice (--no-x --x) has two results and the last one wins.
    if (res.size() > 1 && kinds_.count(ln[0]) && kinds_.at(ln[0]) != Kind::Other) res = {res.back()};
    if (ln[0] == "out") res = {out};
    auto to_json = [](const std::string& s) -> nlohmann::json {
      // Numbers and booleans as themselves; anything else stays a string.
      if (s == "true" || s == "false") return s == "true";
      try {
        const nlohmann::json n = nlohmann::json::parse(s);
        if (n.is_number()) return n;
      } catch (...) {
      }
      return s;
    };
    if (res.size() == 1) j[ln[0]] = to_json(res[0]);
    else {
      nlohmann::json a = nlohmann::json::array();
      for (auto& r : res) a.push_back(to_json(r));
      j[ln[0]] = a;
    }
  }
  return j;
}

int guarded_main(const std::function<int()>& body) {
  auto fail = [](const std::string& message, int code = 1) {
    // Under MPI one rank's failure (its data did not load, a file it could not read) must end the
    // whole job, not leave the other ranks waiting in a collective forever: the message names the
    // rank, then MPI_Abort stops every rank.
    if (dist::size() > 1) {
      dist::report_error(message);
      dist::abort(code);
    }
    std::cerr << "error: " << message << "\n";
    return code;
  };
  try {
    return body();
  } catch (const FlagError& e) {
    return fail(std::string(e.what()) + "\nRun with --help for the flags and their accepted values.", 2);
  } catch (const std::bad_alloc&) {
    return fail("out of memory (an allocation failed: a size given in the flags, such as a layer width, "
                "batch or sample count, may be too large for this machine)");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace lz
