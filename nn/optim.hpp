// Optimizers with PyTorch's exact update rules and defaults (torch.optim's single-tensor path),
// updating parameters in place under NoGrad with the fused passes of tensor/vec.hpp (update_in_place).
//
// State follows PyTorch: it is created lazily at a parameter's first update, and Adam keeps a step
// count per parameter, so a parameter whose gradient is undefined (unused in this step's graph) is
// skipped without advancing its moments or its bias correction — exactly as torch skips
// `p.grad is None`. For checkpoints the state is a list of named tensors
// "<prefix><param name>.<slot>" (slots: SGD "momentum_buffer"; Adam/AdamW "exp_avg",
// "exp_avg_sq", "step") plus the optimizer's own step counter.
//
// One pass. A module's parameters and gradients each live in one buffer (nn/module.hpp), so
// step() finds maximal runs of parameters whose values and gradients are each contiguous and
// updates a run in one fused pass (a whole model is one run). The per-element state slots live
// in one buffer per slot too, in parameter order, so a run's state is contiguous as well. A run
// is updated bit for bit as its parameters would be one by one: the kernels are elementwise with
// the same scalars (and compiled without FMA contraction, so the SIMD body and the scalar tail
// round alike: nn/CMakeLists.txt), and a run splits where its parameters' state differs (Adam's
// per-parameter step counts, state present for some and not others). Parameters that are loose
// Vars still work, each its own run.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace lz {

template <typename T>
class Optimizer {
 public:
  // Parameters are named by their Var name (Module sets it to the dotted path), else "param<i>".
  Optimizer(std::vector<Var<T>> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; counts a step.
  void step();
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t steps() const { return steps_; }  // step() calls so far (restored by load_state)
  // Fused passes the last step() made: 1 for a whole module (parameters in one buffer), one per
  // parameter for loose Vars.
  int64_t last_step_passes() const { return last_passes_; }
  const std::vector<Var<T>>& params() const { return params_; }
  const std::vector<std::string>& param_names() const { return names_; }
  virtual std::string type() const = 0;  // "sgd", "adam", "adamw": checked when loading state
  // The name of the first parameter or state tensor holding a NaN or inf ("decoder.fc1.weight",
  // "optim.decoder.fc1.weight.exp_avg_sq"), or "" when everything is finite. One SIMD pass.
  std::string first_non_finite() const;

  // The state as named tensors (copies), parameters in order, slots in slot order.
  std::vector<std::pair<std::string, Tensor<T>>> state_tensors(const std::string& prefix = "") const;
  // Replace the state by `tensors` (keys "<prefix><param>.<slot>"; keys without the prefix are
  // ignored). All checks happen before anything changes: a parameter's slots must be all present
  // or all absent (absent = no state yet), shapes must match, and a key naming no parameter's slot
  // is an error. Messages name the tensor and `where` (the file).
  void load_state(const std::map<std::string, Tensor<T>>& tensors, int64_t steps, const std::string& prefix,
                  const std::string& where);

 protected:
  virtual std::vector<std::string> slots() const = 0;
  // Update params_[first, last) in one pass using state_[i], creating the state where it is
  // empty. Their gradients are defined, their values and gradients are each contiguous, and
  // same_state() holds between neighbours.
  virtual void update(size_t first, size_t last) = 0;
  // May parameters i and j share one pass? Both with state or both without (the first step
  // differs); Adam also needs equal step counts (one bias correction per pass).
  virtual bool same_state(size_t i, size_t j) const { return state_[i].empty() == state_[j].empty(); }
  // Shape of slot s of parameter i: the parameter's shape, or [] for counters.
  virtual Shape slot_shape(size_t i, const std::string& slot) const;
  // A per-parameter counter (Adam's "step") rather than one value per element.
  virtual bool is_counter(const std::string&) const { return false; }
  // Parameter i's range of the buffer of slot `slot` (an index into slots()), allocated at first
  // use: the only place per-element state is created, so consecutive parameters' state is
  // contiguous. Not zeroed.
  Tensor<T> slot_view(size_t slot, size_t i);
  // Elements of params_[first, last).
  int64_t run_numel(size_t first, size_t last) const;

  std::vector<Var<T>> params_;
  std::vector<std::string> names_;
  std::vector<std::vector<Tensor<T>>> state_;  // per parameter: empty, or one tensor per slot
  std::vector<int64_t> offsets_;                // parameter i's elements start at offsets_[i]
  std::vector<Tensor<T>> slot_buffers_;         // per slot: undefined, or offsets_.back() elements
  double lr_;
  int64_t steps_ = 0;
  int64_t last_passes_ = 0;
};

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// torch.optim.SGD: d = g + wd p; buf = d (first step) or momentum buf + (1-dampening) d;
// d = d + momentum buf (Nesterov) or buf; p -= lr d.
template <typename T>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Var<T>> params, SGDOptions opt);
  SGD(const Module<T>& m, SGDOptions opt) : SGD(m.parameters(), opt) {}
  std::string type() const override { return "sgd"; }
  const SGDOptions& options() const { return opt_; }

 protected:
  std::vector<std::string> slots() const override;
  void update(size_t first, size_t last) override;

 private:
  SGDOptions opt_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  // Unset means PyTorch's default for the class: 0 for Adam (L2 added to the gradient), 1e-2 for
  // AdamW (decoupled). An optional, so that `AdamW(m, {.lr = 3e-4})` keeps AdamW's default.
  std::optional<double> weight_decay = std::nullopt;
};

// torch.optim.Adam (decoupled = false) and AdamW (decoupled = true):
//   AdamW: p *= 1 - lr wd.   Adam: g += wd p.
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  bc_k = 1 - b_k^t
//   p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)
template <typename T>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<Var<T>> params, AdamOptions opt = {});
  Adam(const Module<T>& m, AdamOptions opt = {}) : Adam(m.parameters(), opt) {}
  std::string type() const override { return decoupled_ ? "adamw" : "adam"; }
  const AdamOptions& options() const { return opt_; }  // weight_decay resolved (always set)

 protected:
  Adam(std::vector<Var<T>> params, AdamOptions opt, bool decoupled);
  std::vector<std::string> slots() const override;
  Shape slot_shape(size_t i, const std::string& slot) const override;
  bool is_counter(const std::string& slot) const override { return slot == "step"; }
  bool same_state(size_t i, size_t j) const override;
  void update(size_t first, size_t last) override;

 private:
  AdamOptions opt_;
  bool decoupled_;
};

template <typename T>
class AdamW : public Adam<T> {
 public:
  AdamW(std::vector<Var<T>> params, AdamOptions opt = {}) : Adam<T>(std::move(params), opt, true) {}
  AdamW(const Module<T>& m, AdamOptions opt = {}) : AdamW(m.parameters(), opt) {}
};

// torch.nn.utils.clip_grad_norm_: the 2-norm of all gradients together; if it exceeds max_norm,
// every gradient is scaled by max_norm / (norm + 1e-6). Returns the norm before clipping
// (NaN/inf propagate). Parameters without a gradient are ignored.
template <typename T>
T clip_grad_norm(const std::vector<Var<T>>& params, double max_norm);

}  // namespace lz
