// Flags::enable_resume / apply_resume / run_config: how --resume reconciles the command line with
// the run it continues (declared in cli/flags.hpp; the loop itself is train/trainer.cpp).
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/flags.hpp"
#include "nn/safetensors.hpp"
#include "train/trainer.hpp"

namespace lz {

namespace fs = std::filesystem;

namespace {
// Flags that say where or how fast a run goes, never what it computes.
bool is_run_neutral(const std::string& key) {
  return key == "out" || key == "config" || key == "resume" || key == "threads";
}
}  // namespace

void Flags::enable_resume(std::vector<std::string> may_change) {
  may_change_ = std::move(may_change);
  app_->add_option("--resume", resume,
                  "continue the run in RUN_DIR (or from this checkpoint file) exactly where it stopped; flags not "
                  "given take the run's values")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string { return s.empty() ? "expected a value, found an empty string" : ""; }, ""));
}

nlohmann::json Flags::run_config() const {
  nlohmann::json j = values();
  for (const char* k : {"out", "config", "resume"}) j.erase(k);
  return j;
}

void Flags::apply_resume() {
  resume_checkpoint = resolve_checkpoint(resume);
  const SafeTensors file = read_safetensors(resume_checkpoint);
  auto it = file.metadata.find("config");
  if (it == file.metadata.end())
    throw std::runtime_error(resume_checkpoint + ": no run config in its metadata (not a checkpoint of a training run)");
  nlohmann::json stored;
  try {
    stored = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(resume_checkpoint + ": metadata 'config' is not valid JSON: " + e.what());
  }
  if (!stored.is_object()) throw std::runtime_error(resume_checkpoint + ": metadata 'config' is not a JSON object");

  fs::path folder = fs::path(resume_checkpoint).parent_path();
  if (folder.empty()) folder = ".";
  if (!out.empty() && fs::weakly_canonical(out) != fs::weakly_canonical(folder))
    throw std::runtime_error("--out " + out + " with --resume: a resumed run continues in its own folder, " +
                             folder.string());
  out = folder.string();

  std::string may;
  for (const auto& k : may_change_) may += (may.empty() ? "--" : ", --") + k;
  const nlohmann::json given = values();  // before the run's values fill the flags not given
  for (const auto& [key, v] : stored.items()) {
    const CLI::Option* o = app_->get_option_no_throw("--" + key);
    if (!o)
      throw std::runtime_error(resume_checkpoint + ": the run's config has '" + key +
                               "', which is not a flag of this driver (a checkpoint of another program?)");
    if (o->count() == 0 || is_run_neutral(key) || given[key] == v) continue;
    if (std::find(may_change_.begin(), may_change_.end(), key) != may_change_.end()) {
      std::cerr << "resume: --" << key << " " << given[key].dump() << " (the run had " << v.dump() << ")\n";
      continue;
    }
    throw std::runtime_error("--" + key + " " + given[key].dump() + " differs from the run's " + v.dump() + " (" +
                             resume_checkpoint + "); a resumed run keeps the settings it started with" +
                             (may.empty() ? std::string() : " (these may change: " + may + ")"));
  }
  nlohmann::json fill = stored;
  for (const char* k : {"out", "config", "resume"}) fill.erase(k);
  apply_config(fill, resume_checkpoint);  // a text flag the run left unset ("") stays unset
}

}  // namespace lz
