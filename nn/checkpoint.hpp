// Checkpoints: a module's parameters, optionally an optimizer's state and a generator's state,
// in one safetensors file (nn/safetensors.hpp), and beside it the caller's JSON config.
//
//   tensors   "<param>" for every parameter (PyTorch state_dict names: "encoder.fc1.weight"),
//             "optim.<param>.<slot>" for the optimizer (exp_avg, exp_avg_sq, step, momentum_buffer)
//   metadata  "format": "latentzoo", "dtype": "F32"|"F64", "optim.type", "optim.step", "optim.lr",
//             "rng.state" (four u64 in decimal), "config" (the config JSON, so the file stands alone)
//   beside    <path with extension .json>: the config, pretty-printed
// Resuming from (module, optimizer, rng) continues a run bit for bit as if it never stopped.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "nn/safetensors.hpp"
#include "tensor/rng.hpp"

namespace lz {

// model.safetensors -> model.json
std::filesystem::path checkpoint_config_path(const std::filesystem::path& checkpoint);

// (The optimizer parameter is not deduced, so `nullptr` may be passed for it.)
// Write the checkpoint (and, if `config` is not null, the config beside it), each atomically.
// `extra` adds string metadata (a trainer's counters), in the same file as the tensors, so the
// two can never come from different moments.
template <typename T>
void save_checkpoint(const std::filesystem::path& path, const Module<T>& module,
                     std::type_identity_t<const Optimizer<T>*> optimizer = nullptr, const Rng* rng = nullptr,
                     const nlohmann::json& config = nullptr, const std::map<std::string, std::string>& extra = {});

// Load into existing objects. The file must hold exactly the module's parameters (missing or
// unexpected names, wrong shapes and wrong dtypes are errors naming the tensor and the file);
// optimizer tensors are ignored unless `optimizer` is given, which then requires the state of an
// optimizer of the same type; `rng` requires "rng.state". Everything is checked before anything
// is changed. Returns the file's metadata.
template <typename T>
std::map<std::string, std::string> load_checkpoint(const std::filesystem::path& path, Module<T>& module,
                                                   std::type_identity_t<Optimizer<T>*> optimizer = nullptr,
                                                   Rng* rng = nullptr);

// The config saved beside a checkpoint (falls back to the copy in its metadata).
nlohmann::json load_checkpoint_config(const std::filesystem::path& checkpoint);

}  // namespace lz
