// Module<T>: a node in a tree of layers that owns hierarchically named parameters.
//
// Optimizers, checkpoints and printing all walk one ordered list, named_parameters(), whose names
// are dotted paths ("encoder.fc1.weight") as in PyTorch's state_dict, so that a checkpoint written
// here lines up with a PyTorch model tensor by tensor. Each parameter Var also carries its full
// dotted name (for error messages): register_module() renames the child's subtree when it is
// attached, so the name is right however deep the module ends up.
//
// Modules are held by shared_ptr and are not copyable: a copy would share its parameters' nodes
// with the original, which is never what a caller means.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/var.hpp"

namespace lz {

template <typename T>
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // A new trainable leaf (requires_grad) holding `value`. `name` is one path component: non-empty,
  // no '.', unique among this module's parameters and children.
  Var<T> register_parameter(const std::string& name, Tensor<T> value);
  // Attach a child; its parameters appear as "<name>.<their name>" in this module's list.
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    attach(name, child);
    return child;
  }

  // All parameters of the subtree, depth first in registration order (own parameters first).
  std::vector<std::pair<std::string, Var<T>>> named_parameters() const;
  std::vector<Var<T>> parameters() const;
  // The parameter at a dotted path; throws std::out_of_range listing the names if there is none.
  Var<T> parameter(const std::string& dotted_name) const;
  int64_t num_parameters() const;
  // Drop every parameter's gradient (the next backward() starts from nothing).
  void zero_grad();

  // A table: one line per parameter (name, shape, count) and the total.
  std::string summary() const;
  // The class name shown by summary(), e.g. "Linear(784 -> 256)".
  virtual std::string describe() const { return "Module"; }

  const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& children() const { return children_; }

 private:
  void attach(const std::string& name, std::shared_ptr<Module<T>> child);
  void check_new_name(const std::string& name, const char* what) const;
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var<T>>>& out) const;

  std::vector<std::pair<std::string, Var<T>>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
};

// A module with one input and one output: layers, activations, MLPs.
template <typename T>
class Layer : public Module<T> {
 public:
  virtual Var<T> forward(const Var<T>& x) = 0;
  Var<T> operator()(const Var<T>& x) { return forward(x); }
};

}  // namespace lz
