#include "train/flags.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include "tensor/ops.hpp"
#include "train/run.hpp"

namespace lz {

Flags::Flags(const std::string& description, const std::string& run_prefix) : app_(description), run_prefix_(run_prefix) {
  app_.option_defaults()->always_capture_default();
  app_.add_option("--out", out, "run folder for config, metrics, checkpoints and pictures (default: runs/" +
                                    run_prefix + "-<UTC time>)");
  app_.add_option("--seed", seed, "random seed (every random draw follows from it)")->capture_default_str();
  app_.add_option("--threads", threads, "OpenBLAS threads")->capture_default_str()->check(CLI::Range(1, 256));
  app_.add_option("--config", config_path, "JSON file of flag values, e.g. {\"epochs\": 5}; flags given on the "
                                           "command line win")
      ->check(CLI::ExistingFile);
}

CLI::Option* Flags::flag(const std::string& name, bool& var, const std::string& help) {
  CLI::Option* o = app_.add_flag(name, var, help)->capture_default_str();
  switches_[o->get_lnames().at(0)] = &var;
  return o;
}

namespace {
std::string json_to_arg(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}
}  // namespace

void Flags::apply_config(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw std::runtime_error(where + ": expected a JSON object of flag values, found a " + j.type_name());
  std::string valid;
  for (const CLI::Option* o : app_.get_options()) {
    const auto& ln = o->get_lnames();
    if (ln.empty() || ln[0] == "help" || ln[0] == "config") continue;
    valid.append(valid.empty() ? "" : ", ").append(ln[0]);
  }
  for (const auto& [key, v] : j.items()) {
    CLI::Option* o = app_.get_option_no_throw("--" + key);
    if (!o || key == "help" || key == "config")
      throw std::runtime_error(where + ": unknown key '" + key + "' (valid keys: " + valid + ")");
    if (o->count() > 0) continue;  // the command line wins
    if (v.is_null() || v.is_object())
      throw std::runtime_error(where + ": key '" + key + "': expected a number, string or boolean, found a " +
                               v.type_name());
    try {
      if (v.is_array())
        for (const auto& e : v) o->add_result(json_to_arg(e));
      else
        o->add_result(json_to_arg(v));
      o->run_callback();
    } catch (const CLI::Error& e) {
      throw std::runtime_error(where + ": key '" + key + "': " + e.what());
    }
  }
}

std::optional<int> Flags::parse(int argc, const char* const* argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app_.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app_.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << "\nRun with --help for the flags and their accepted values.\n";
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
  set_blas_threads(threads);
  return std::nullopt;
}

nlohmann::json Flags::values() const {
  nlohmann::json j = nlohmann::json::object();
  for (const CLI::Option* o : app_.get_options()) {
    const auto& ln = o->get_lnames();
    if (ln.empty() || ln[0] == "help") continue;
    if (auto sw = switches_.find(ln[0]); sw != switches_.end()) {  // a switch is true or false, given or not
      j[ln[0]] = *sw->second;
      continue;
    }
    std::vector<std::string> res = o->count() > 0 ? o->results() : std::vector<std::string>{o->get_default_str()};
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
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace lz
