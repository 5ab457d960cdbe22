#include "nn/checkpoint.hpp"

#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace lz {

namespace {

template <typename T>
constexpr const char* dtype_of() {
  return sizeof(T) == 4 ? "F32" : "F64";
}

std::string to_string_exact(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  return std::string(buf, r.ptr);
}

template <typename I>
I parse_number(const std::string& s, const std::string& where, const std::string& key) {
  I v{};
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    throw std::runtime_error(where + ": metadata '" + key + "' = '" + s + "' is not a number");
  return v;
}

std::array<uint64_t, 4> parse_rng_state(const std::string& s, const std::string& where) {
  std::array<uint64_t, 4> st{};
  std::istringstream is(s);
  std::string word;
  size_t k = 0;
  while (is >> word) {
    if (k == 4) throw std::runtime_error(where + ": metadata 'rng.state' has more than 4 numbers: '" + s + "'");
    st[k++] = parse_number<uint64_t>(word, where, "rng.state");
  }
  if (k != 4) throw std::runtime_error(where + ": metadata 'rng.state' needs 4 numbers, found " + std::to_string(k));
  if (st[0] == 0 && st[1] == 0 && st[2] == 0 && st[3] == 0)
    throw std::runtime_error(where + ": metadata 'rng.state' is all zeros (not a valid xoshiro state)");
  return st;
}

}  // namespace

std::filesystem::path checkpoint_config_path(const std::filesystem::path& checkpoint) {
  std::filesystem::path p = checkpoint;
  return p.replace_extension(".json");
}

template <typename T>
void save_checkpoint(const std::filesystem::path& path, const Module<T>& module,
                     std::type_identity_t<const Optimizer<T>*> optimizer, const Rng* rng, const nlohmann::json& config,
                     const std::map<std::string, std::string>& extra) {
  if (path.extension() == ".json")
    throw std::invalid_argument(path.string() + ": a checkpoint path must not end in .json (its config goes there)");
  std::vector<std::pair<std::string, AnyTensor>> tensors;
  for (const auto& [name, v] : module.named_parameters()) tensors.emplace_back(name, v.value());
  std::map<std::string, std::string> meta{{"format", "latentzoo"}, {"dtype", dtype_of<T>()}};
  if (optimizer) {
    for (auto& [name, t] : optimizer->state_tensors("optim.")) tensors.emplace_back(name, std::move(t));
    meta["optim.type"] = optimizer->type();
    meta["optim.step"] = std::to_string(optimizer->steps());
    meta["optim.lr"] = to_string_exact(optimizer->lr());
  }
  if (rng) {
    const auto s = rng->state();
    meta["rng.state"] =
        std::to_string(s[0]) + " " + std::to_string(s[1]) + " " + std::to_string(s[2]) + " " + std::to_string(s[3]);
  }
  if (!config.is_null()) meta["config"] = config.dump();
  for (const auto& [k, v] : extra) {
    if (meta.count(k)) throw std::invalid_argument("save_checkpoint: extra metadata key '" + k + "' is reserved");
    meta[k] = v;
  }
  write_safetensors(path, tensors, meta);
  if (!config.is_null()) write_file_atomic(checkpoint_config_path(path), config.dump(2) + "\n");
}

template <typename T>
std::map<std::string, std::string> load_checkpoint(const std::filesystem::path& path, Module<T>& module,
                                                   std::type_identity_t<Optimizer<T>*> optimizer, Rng* rng) {
  const std::string where = path.string();
  SafeTensors file = read_safetensors(path);
  auto as_t = [&](const std::string& name, const AnyTensor& a) -> const Tensor<T>& {
    if (!std::holds_alternative<Tensor<T>>(a))
      throw std::runtime_error(where + ": tensor '" + name + "' has dtype " + dtype_name(a) + ", expected " +
                               dtype_of<T>() + " (the model is " + (sizeof(T) == 4 ? "float32" : "float64") + ")");
    return std::get<Tensor<T>>(a);
  };

  // 1. The module's parameters: exactly the file's non-optimizer tensors.
  const auto params = module.named_parameters();
  std::set<std::string> known;
  std::vector<const Tensor<T>*> src;
  for (const auto& [name, v] : params) {
    known.insert(name);
    auto it = file.tensors.find(name);
    if (it == file.tensors.end())
      throw std::runtime_error(where + ": missing tensor '" + name + "' (a parameter of " + module.describe() +
                               ", shape " + shape_str(v.shape()) + ")");
    const Tensor<T>& t = as_t(name, it->second);
    if (t.shape() != v.shape())
      throw ShapeError(where + ": tensor '" + name + "' has shape " + shape_str(t.shape()) + ", expected " +
                       shape_str(v.shape()) + " for " + module.describe());
    src.push_back(&t);
  }
  std::map<std::string, Tensor<T>> optim_tensors;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind("optim.", 0) == 0) {
      if (optimizer) optim_tensors.emplace(name, as_t(name, t));
      continue;
    }
    if (!known.count(name))
      throw std::runtime_error(where + ": unexpected tensor '" + name + "' (not a parameter of " + module.describe() +
                               ")");
  }

  // 2. Generator and optimizer, validated before anything changes.
  auto meta = [&](const char* key, const char* needed_for) -> const std::string& {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      throw std::runtime_error(where + ": no '" + key + "' in the metadata; " + needed_for);
    return it->second;
  };
  std::array<uint64_t, 4> rng_state{};
  if (rng) rng_state = parse_rng_state(meta("rng.state", "the checkpoint was saved without a generator"), where);
  double lr = 0;
  if (optimizer) {
    const std::string& type = meta("optim.type", "the checkpoint was saved without an optimizer");
    if (type != optimizer->type())
      throw std::runtime_error(where + ": optimizer state is for '" + type + "', loading into '" + optimizer->type() + "'");
    const auto steps = parse_number<int64_t>(meta("optim.step", "the optimizer state is incomplete"), where, "optim.step");
    lr = parse_number<double>(meta("optim.lr", "the optimizer state is incomplete"), where, "optim.lr");
    optimizer->load_state(optim_tensors, steps, "optim.", where);  // validates, then replaces
    optimizer->set_lr(lr);
  }

  // 3. Commit.
  for (size_t i = 0; i < params.size(); ++i) {
    Var<T> v = params[i].second;
    std::memcpy(v.value_mut().data(), src[i]->data(), sizeof(T) * static_cast<size_t>(src[i]->numel()));
  }
  if (rng) rng->set_state(rng_state);
  return file.metadata;
}

nlohmann::json load_checkpoint_config(const std::filesystem::path& checkpoint) {
  const auto cfg = checkpoint_config_path(checkpoint);
  std::ifstream in(cfg);
  if (in) {
    try {
      return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(cfg.string() + ": not valid JSON: " + e.what());
    }
  }
  SafeTensors f = read_safetensors(checkpoint);
  auto it = f.metadata.find("config");
  if (it == f.metadata.end())
    throw std::runtime_error(cfg.string() + ": no config beside the checkpoint, and none in its metadata");
  try {
    return nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(checkpoint.string() + ": metadata 'config' is not valid JSON: " + e.what());
  }
}

template void save_checkpoint<float>(const std::filesystem::path&, const Module<float>&, const Optimizer<float>*,
                                     const Rng*, const nlohmann::json&, const std::map<std::string, std::string>&);
template void save_checkpoint<double>(const std::filesystem::path&, const Module<double>&, const Optimizer<double>*,
                                      const Rng*, const nlohmann::json&, const std::map<std::string, std::string>&);
template std::map<std::string, std::string> load_checkpoint<float>(const std::filesystem::path&, Module<float>&,
                                                                   Optimizer<float>*, Rng*);
template std::map<std::string, std::string> load_checkpoint<double>(const std::filesystem::path&, Module<double>&,
                                                                    Optimizer<double>*, Rng*);

}  // namespace lz
