// Module<T>: a node in a tree of layers that owns hierarchically named parameters.
//
// Optimizers, checkpoints and printing all walk one ordered list, named_parameters(), whose names
// are dotted paths ("encoder.fc1.weight") as in PyTorch's state_dict, so that a checkpoint written
// here lines up with a PyTorch model tensor by tensor. Each parameter Var also carries its full
// dotted name (for error messages): register_module() renames the child's subtree when it is
// attached, so the name is right however deep the module ends up.
//
// Parameters in one buffer. The parameters of a tree live in one contiguous buffer, in
// named_parameters() order, each parameter's value a view of its range; their gradients likewise
// (each leaf's Node::grad_home views its range of one gradient buffer, and the first gradient to
// arrive is written there, so after backward() the buffer holds every gradient without a
// gather). A module's flat_parameters() / flat_gradients() are its range of the root's buffers
// (a subtree is contiguous in depth-first order), so an optimizer updates a whole model in one
// SIMD pass and data-parallel training all-reduces it in one call:
//   MPI_Allreduce(MPI_IN_PLACE, g.data(), g.numel(), ...) with g = model.flat_gradients().
// When: always. register_parameter() and register_module() rebuild the root's buffers (a copy of
// the values; models are built once, so the quadratic cost of building a tree layer by layer is
// a few megabytes copied once), so there is no flatten() call to forget, no "flattened or not"
// state, and a parameter registered at any time, at any depth, simply works. Rejected: an
// explicit flatten() called by the optimizer or trainer, whose every caller would have to know
// it, and which a later registration would silently undo.
// A module has at most one parent: a module shared by two parents cannot be a contiguous range
// of both parents' buffers, so a second register_module() of it throws. Replacing a parameter's
// value (value_mut() = t) cuts it out of the buffer; flat_parameters() and flat_gradients()
// notice and rebuild (writing into value_mut() in place keeps the view).
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
  virtual ~Module();
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

  // This module's parameters as one 1-D tensor of num_parameters() elements, in
  // named_parameters() order: a view (writes reach the parameters), valid until the tree's
  // structure changes or a parameter's value is replaced.
  Tensor<T> flat_parameters();
  // Their gradients likewise. Every parameter's gradient becomes defined (zeros where none
  // arrived since zero_grad()), so that whatever is written into the buffer (an all-reduce)
  // reaches the optimizer for every parameter, the same on every rank.
  Tensor<T> flat_gradients();

  // A table: one line per parameter (name, shape, count) and the total.
  std::string summary() const;
  // The class name shown by summary(), e.g. "Linear(784 -> 256)".
  virtual std::string describe() const { return "Module"; }

  const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& children() const { return children_; }

 private:
  void attach(const std::string& name, std::shared_ptr<Module<T>> child);
  void check_new_name(const std::string& name, const char* what) const;
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var<T>>>& out) const;
  Module& root();
  // Root only: does every parameter still view its range of flat_values_ / flat_grads_?
  bool is_flat() const;
  // Root only: copy every parameter (and gradient) into new buffers and re-point them.
  void rebuild_flat();
  // Give this subtree its ranges of the root's buffers, starting at `offset`; returns the end.
  int64_t assign_ranges(const Tensor<T>& values, const Tensor<T>& grads, int64_t offset);

  std::vector<std::pair<std::string, Var<T>>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
  Module* parent_ = nullptr;  // cleared by the parent's destructor (a child may outlive it)
  Tensor<T> flat_values_, flat_grads_;  // this subtree's ranges of the root's buffers
};

// A module with one input and one output: layers, activations, MLPs.
template <typename T>
class Layer : public Module<T> {
 public:
  virtual Var<T> forward(const Var<T>& x) = 0;
  Var<T> operator()(const Var<T>& x) { return forward(x); }
};

}  // namespace lz
