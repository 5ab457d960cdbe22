// Var<T>: a value in a define-by-run graph.
//
// Every op on Vars computes its output with a tensor kernel, then records a Node holding its
// inputs and a vector-Jacobian product (VJP): a lambda mapping the output gradient to one
// gradient per input. backward() sorts the graph iteratively (no recursion), runs the VJPs in
// reverse topological order, accumulates gradients (+=) and frees the graph it walked.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/ops.hpp"
#include "tensor/profile.hpp"
#include "tensor/tensor.hpp"

namespace lz {

template <typename T>
struct Node;

// What a VJP receives: the output gradient, and where to send each input's gradient.
template <typename T>
class GradSink {
 public:
  GradSink(Node<T>& node) : node_(node) {}
  // Does input i need a gradient? (PyTorch's should_compute_output: skip the rest.)
  bool needs(size_t i) const;
  // Add `g` to input i's gradient; a broadcast gradient is summed back to the input's shape.
  void add(size_t i, Tensor<T> g);
  // Add op(a) op(b) (2-D, ta/tb as lz::matmul) to input i's gradient, the product written by the
  // GEMM straight into the gradient's buffer: the input's home in its module's flat gradient
  // buffer for the first gradient, with beta = 1 into the gradient already there for a later one.
  // Saves the temporary and the copy (or add) that add(i, matmul(a, b)) costs a weight gradient.
  void add_matmul(size_t i, const Tensor<T>& a, const Tensor<T>& b, bool ta, bool tb);
  // The input's value (for VJPs that need their inputs' shapes).
  const Tensor<T>& input_value(size_t i) const;

 private:
  Node<T>& node_;
};

template <typename T>
using Vjp = std::function<void(const Tensor<T>& gout, GradSink<T>& sink)>;

template <typename T>
struct Node {
  Tensor<T> value;
  Tensor<T> grad;  // undefined until a gradient arrives
  // Where the first gradient to arrive is written, if defined: a leaf of a Module views its slot
  // of the module's flat gradient buffer here (nn/module.hpp), so that `grad` becomes that view
  // and the buffer holds every parameter's gradient without a gather.
  Tensor<T> grad_home;
  bool requires_grad = false;
  bool is_leaf = true;
  bool freed = false;  // the VJP and inputs were released by a backward()
  const char* op = "leaf";
  std::string name;  // parameters carry their name for error messages
  std::vector<std::shared_ptr<Node<T>>> inputs;
  Vjp<T> vjp;
  uint64_t visit = 0;  // backward()'s traversal stamp (instead of a hash set of visited nodes)

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Releases a long chain of inputs iteratively: the default destructor would recurse once per
  // node, and a graph dropped without backward() (a 100,000-op chain) would overflow the stack.
  ~Node();
};

template <typename T>
class Var {
 public:
  using value_type = T;
  Var() = default;
  // A leaf. requires_grad = true makes it a parameter/input whose gradient backward() fills.
  explicit Var(Tensor<T> value, bool requires_grad = false);

  bool defined() const { return n_ != nullptr; }
  const Tensor<T>& value() const { return n_->value; }
  Tensor<T>& value_mut() { return n_->value; }  // in-place updates (optimizers, under NoGrad)
  const Tensor<T>& grad() const { return n_->grad; }
  Tensor<T>& grad_mut() { return n_->grad; }
  bool requires_grad() const { return n_ && n_->requires_grad; }
  bool is_leaf() const { return n_->is_leaf; }
  const Shape& shape() const { return n_->value.shape(); }
  int64_t dim() const { return n_->value.dim(); }
  int64_t size(int64_t axis) const { return n_->value.size(axis); }
  int64_t numel() const { return n_->value.numel(); }
  T item() const { return n_->value.item(); }
  const char* op() const { return n_->op; }
  const std::string& name() const { return n_->name; }
  void set_name(std::string name) { n_->name = std::move(name); }

  // Backpropagate from this scalar (seed 1), or from a non-scalar with an explicit seed.
  void backward() const;
  void backward(const Tensor<T>& seed) const;
  void zero_grad() { n_->grad = Tensor<T>(); }
  // The same value, cut from the graph.
  Var detach() const { return Var(n_->value, false); }

  Node<T>* node() const { return n_.get(); }
  const std::shared_ptr<Node<T>>& node_ptr() const { return n_; }

  // Record an op: the output value, its inputs and its VJP. Under NoGrad, or when no input
  // requires a gradient, this returns a plain constant and records nothing.
  static Var record(Tensor<T> out, std::initializer_list<Var> inputs, const char* op, Vjp<T> vjp);
  static Var record(Tensor<T> out, const std::vector<Var>& inputs, const char* op, Vjp<T> vjp);

 private:
  template <typename Range>
  static Var record_range(Tensor<T> out, const Range& inputs, const char* op, Vjp<T> vjp);
  std::shared_ptr<Node<T>> n_;
};

// While one is alive, ops record nothing (evaluation, optimizer updates). Nests; thread-local.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
  static bool active();

 private:
  bool prev_;
};

// Thrown by backward() for misuse (non-scalar without a seed, a graph already freed).
struct AutodiffError : std::logic_error {
  using std::logic_error::logic_error;
};

using VarF = Var<float>;
using VarD = Var<double>;

}  // namespace lz
