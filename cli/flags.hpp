// Command-line flags for the drivers, over CLI11.
//
// Every driver gets: --help listing each flag with its default; errors for an unknown flag or a bad
// value that name the flag and what is accepted (lz::Range, lz::OneOf: CLI11's Range and IsMember);
// --config FILE.json whose keys are flag names without dashes ({"epochs": 5}), an unknown key being
// an error naming it, command-line flags winning over the file; --out (run folder), --seed and
// --threads (the engine's threads, tensor/parallel.hpp; OpenBLAS runs single-threaded inside).
//
// Checks every driver gets without asking:
//   - a real-valued option (float or double) refuses NaN and inf, naming the flag;
//   - --seed takes an integer from 0 to 2^64-1 and refuses anything else (-1, 1e23), from a
//     config file too;
//   - a --config value of the wrong JSON type is a type error ("key 'epochs': expected an
//     integer, found a string"), before any range check;
//   - a text option refuses the empty string (`--out ""`, `--data-dir ""`, `--resume ""` would
//     otherwise mean the default), naming the flag;
//   - a real range's message prints its bounds as given ("not in range 1e-12 to 10");
//   - lz::ExistingFile says "X is a folder, expected a file" (and so does CLI::ExistingFile, for a
//     file that adds options through app()).
// Booleans: flag("--learn-var", v, ...) registers --learn-var (true), --no-learn-var (false) and
// accepts --learn-var=true / --learn-var=false; in a config file {"learn-var": false}.
//
//   lz::Flags flags("classify: an MLP classifier", "classify");
//   flags.add("--epochs", epochs, "passes over the training set").check(lz::Range(1, 10000));
//   if (auto rc = flags.parse(argc, argv)) return *rc;
//
// This header does not include CLI11: CLI/CLI.hpp defines about 200 functions in every file that
// includes it (11 s of compile per file at -O3, against 3.4 s for nlohmann/json), and a dozen
// drivers and tests include this one. The checks are our own small values (Check), turned into
// CLI11's validators in flags.cpp; app() still hands out the CLI::App for a file that includes CLI11.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/flag_error.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace lz {

// What a flag's value must satisfy, with CLI11's wording when it does not (flags.cpp).
struct Check {
  enum class Kind { IntRange, RealRange, OneOf, Positive, ExistingFile };
  explicit Check(Kind k) : kind(k) {}
  Kind kind;
  bool narrow = false;  // IntRange: the bounds were ints (CLI::Range<int> reads the value as an int)
  int64_t int_lo = 0, int_hi = 0;
  double real_lo = 0, real_hi = 0;
  std::vector<std::string> members;  // OneOf
};
// lo <= value <= hi (CLI::Range). Integer bounds check an integer, real bounds a real number.
template <typename T>
Check Range(T lo, T hi) {
  static_assert(std::is_arithmetic_v<T>, "Range: numeric bounds");
  Check c(std::is_integral_v<T> ? Check::Kind::IntRange : Check::Kind::RealRange);
  if constexpr (std::is_integral_v<T>) {
    c.narrow = sizeof(T) <= sizeof(int);
    c.int_lo = static_cast<int64_t>(lo);
    c.int_hi = static_cast<int64_t>(hi);
  } else {
    c.real_lo = static_cast<double>(lo);
    c.real_hi = static_cast<double>(hi);
  }
  return c;
}
// One of these words (CLI::IsMember).
inline Check OneOf(std::vector<std::string> members) {
  Check c(Check::Kind::OneOf);
  c.members = std::move(members);
  return c;
}
// Every driver's --lr: one range, so a learning rate one driver takes no other refuses.
inline Check LearningRateRange() { return Range(1e-12, 10.0); }
// A number above 0 (CLI::PositiveNumber).
inline const Check PositiveNumber{Check::Kind::Positive};
// An existing regular file: a missing path or a folder is refused with a message saying which.
inline const Check ExistingFile{Check::Kind::ExistingFile};

// One flag of a Flags, as add() and flag() return it: flags.add(...).check(Range(1, 64)).
class Flag {
 public:
  explicit Flag(CLI::Option* o) : o_(o) {}
  Flag& check(const Check& c);

 private:
  CLI::Option* o_;
};

class Flags {
 public:
  // run_prefix names the default run folder: runs/<run_prefix>-<UTC time>.
  Flags(const std::string& description, const std::string& run_prefix);
  ~Flags();
  Flags(const Flags&) = delete;
  Flags& operator=(const Flags&) = delete;

  CLI::App& app() { return *app_; }

  // An option with a value; its default (the variable's value now) appears in --help. A real-valued
  // one refuses NaN and inf before any check added to it runs. One overload per type the drivers'
  // flags have (each a line in flags.cpp over CLI11's add_option: add one for a new type).
  Flag add(const std::string& name, int& var, const std::string& help);
  Flag add(const std::string& name, int64_t& var, const std::string& help);
  Flag add(const std::string& name, uint64_t& var, const std::string& help);
  Flag add(const std::string& name, float& var, const std::string& help);
  Flag add(const std::string& name, double& var, const std::string& help);
  Flag add(const std::string& name, std::string& var, const std::string& help);
  // A boolean switch: --name sets it, --no-name clears it, --name=true / --name=false set it.
  Flag flag(const std::string& name, bool& var, const std::string& help);

  // Parse argv, then the --config file. Returns an exit code when main should return now
  // (0 after --help; 2 after printing "error: ..." for a bad flag, value or config), else nullopt.
  // Afterwards `out` is resolved and the OpenBLAS thread count is set.
  std::optional<int> parse(int argc, const char* const* argv);

  // Every option's final value ({"epochs": 10, "data": "digits", ...}) for config.json.
  nlohmann::json values() const;

  // Apply a JSON object of {flag name without dashes: value} (what --config does); throws
  // std::runtime_error naming `where` and the key on an unknown key or a bad value.
  // Keys already given on the command line are left alone, and so is "" for a text flag whose
  // default is "" (how config.json records a flag left unset).
  void apply_config(const nlohmann::json& j, const std::string& where);

  // Gradient-trained drivers call this before parse(): it adds --resume RUN_DIR|CHECKPOINT. With
  // it, parse() reads the run's config from the checkpoint and applies it to every flag not given
  // (so `vae --resume runs/x` alone continues the run as it was started); a given flag whose
  // value differs from the run's is refused naming it, unless it is in `may_change` (--epochs,
  // --time-budget, ...), which is applied and recorded. --out, if given, must be the run's folder.
  // (Defined in cli/resume.cpp.)
  void enable_resume(std::vector<std::string> may_change);
  bool resuming() const { return !resume.empty(); }
  std::string resume;             // --resume as given
  std::string resume_checkpoint;  // the checkpoint file it names

  // The config a run records in config.json and its checkpoints, and that --config replays:
  // every flag's value except out, config and resume.
  nlohmann::json run_config() const;

  std::string out;          // --out: the run folder
  uint64_t seed = 0;        // --seed
  int threads = 1;          // --threads
  std::string config_path;  // --config

 private:
  // What JSON type a config key must have (checked before the value reaches CLI11).
  enum class Kind { Integer, Real, Text, Boolean, Other };
  template <typename T>
  static constexpr Kind kind_of() {
    if constexpr (std::is_same_v<T, bool>) return Kind::Boolean;
    else if constexpr (std::is_integral_v<T>) return Kind::Integer;
    else if constexpr (std::is_floating_point_v<T>) return Kind::Real;
    else if constexpr (std::is_convertible_v<T, std::string>) return Kind::Text;
    else return Kind::Other;
  }
  // name: the option's first long name; key: as the config file spells it.
  void check_config_type(const std::string& name, const std::string& key, const nlohmann::json& v,
                         const std::string& where) const;

  template <typename T>
  Flag add_option(const std::string& name, T& var, const std::string& help);
  void apply_resume();
  std::unique_ptr<CLI::App> app_;
  std::string run_prefix_;
  std::vector<std::string> may_change_;
  std::map<std::string, Kind> kinds_;  // by long name without dashes
};

// Runs a driver's body; an exception becomes "error: <message>" on stderr and exit code 1
// (std::bad_alloc: "error: out of memory (...)"), except lz::FlagError (cli/flag_error.hpp: a bad
// flag value found after parsing), which exits 2 as a bad flag does.
int guarded_main(const std::function<int()>& body);

}  // namespace lz
