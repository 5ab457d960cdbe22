#include "autodiff/var.hpp"

#include <atomic>
#include <cstring>
#include <mutex>

namespace lz {

// Threads. Two graphs may be built and backpropagated at the same time on two threads: every
// node an op records belongs to the thread that built it, NoGrad is per thread, and the
// traversal stamp is unique across threads. What threads may share are leaves: read freely,
// and a leaf that requires a gradient accumulates from both threads under g_leaf_mutex (one
// uncontended lock per leaf per backward). Contributions then add in arrival order, so a shared
// leaf's gradient equals the serial one up to rounding, not bit for bit; give each thread its own
// leaves (a replica) for reproducible sums. Not supported: one non-leaf node (an intermediate
// result) used by graphs on two threads, or one graph walked by two backward() calls at once.
namespace {
thread_local bool g_no_grad = false;
std::mutex g_leaf_mutex;
}

NoGrad::NoGrad() : prev_(g_no_grad) { g_no_grad = true; }
NoGrad::~NoGrad() { g_no_grad = prev_; }
bool NoGrad::active() { return g_no_grad; }

template <typename T>
Node<T>::~Node() {
  std::vector<std::shared_ptr<Node<T>>> pending = std::move(inputs);
  while (!pending.empty()) {
    std::shared_ptr<Node<T>> n = std::move(pending.back());
    pending.pop_back();
    // Only a node we hold the last reference to dies here; take its inputs first so that
    // its own destructor finds nothing left to release.
    if (n && n.use_count() == 1)
      for (auto& in : n->inputs) pending.push_back(std::move(in));
  }
}

template <typename T>
bool GradSink<T>::needs(size_t i) const {
  return node_.inputs[i] && node_.inputs[i]->requires_grad;
}

template <typename T>
const Tensor<T>& GradSink<T>::input_value(size_t i) const {
  return node_.inputs[i]->value;
}

namespace {
// Does `from` broadcast to exactly `to` (NumPy's rules, `to` the larger side)?
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t lead = to.size() - from.size();
  for (size_t d = 0; d < from.size(); ++d)
    if (from[d] != to[lead + d] && from[d] != 1) return false;
  return true;
}

// The first gradient of a node: written into its home (a view of a module's flat gradient
// buffer) if it has one, else its buffer is taken if nobody else holds it (the common case), else
// copied: a gradient buffer shared with another input would be corrupted by a later in-place +=.
template <typename T>
void set_first_grad(Node<T>& n, Tensor<T> g) {
  if (n.grad_home.defined() && n.grad_home.shape() == g.shape()) {
    std::memcpy(n.grad_home.data(), g.data(), sizeof(T) * static_cast<size_t>(g.numel()));
    n.grad = n.grad_home;
  } else {
    n.grad = g.unique() ? std::move(g) : g.clone();
  }
}
}  // namespace

template <typename T>
void GradSink<T>::add(size_t i, Tensor<T> g) {
  if (!needs(i)) return;
  const profile::Scope scope(profile::Cat::Graph);
  Node<T>& in = *node_.inputs[i];
  if (g.shape() != in.value.shape()) {
    // Only a broadcast gradient may differ in shape: it is summed back. A gradient of another
    // shape is a VJP's bug (a transposed one has the right element count, so reshaping would
    // hide it); the check runs only off the common equal-shape path.
    if (!broadcasts_to(in.value.shape(), g.shape()))
      throw AutodiffError(std::string("backward: the VJP of '") + node_.op + "' returned a gradient of shape " +
                          shape_str(g.shape()) + " for its input " + std::to_string(i) + " of shape " +
                          shape_str(in.value.shape()));
    const profile::Scope reduce(profile::Cat::Kernel);
    g = sum_to(g, in.value.shape());
  }
  std::unique_lock<std::mutex> lock;
  if (in.is_leaf) lock = std::unique_lock<std::mutex>(g_leaf_mutex);  // leaves may be shared by threads
  if (!in.grad.defined())
    set_first_grad(in, std::move(g));
  else
    vec::add_into(g.numel(), g.data(), in.grad.data());
}

template <typename T>
void GradSink<T>::add_matmul(size_t i, const Tensor<T>& a, const Tensor<T>& b, bool ta, bool tb) {
  if (!needs(i)) return;
  Node<T>& in = *node_.inputs[i];
  const bool two_d = a.dim() == 2 && b.dim() == 2;
  if (!two_d || in.value.shape() != Shape{ta ? a.size(1) : a.size(0), tb ? b.size(0) : b.size(1)})
    return add(i, lz::matmul(a, b, ta, tb));  // batched, broadcast or wrong: add() sorts it out
  const profile::Scope scope(profile::Cat::Graph);
  std::unique_lock<std::mutex> lock;
  if (in.is_leaf) lock = std::unique_lock<std::mutex>(g_leaf_mutex);
  if (in.grad.defined()) {
    lz::gemm_into(a, b, in.grad, ta, tb, T(1), T(1));  // the buffer is this node's own (set_first_grad)
  } else if (in.grad_home.defined() && in.grad_home.shape() == in.value.shape()) {
    lz::gemm_into(a, b, in.grad_home, ta, tb, T(1), T(0));
    in.grad = in.grad_home;
  } else {
    in.grad = lz::matmul(a, b, ta, tb);
  }
}

template <typename T>
Var<T>::Var(Tensor<T> value, bool requires_grad) : n_(std::make_shared<Node<T>>()) {
  n_->value = std::move(value);
  n_->requires_grad = requires_grad;
}

// Both overloads of record() share this body: an initializer_list and a vector are both ranges.
template <typename T>
template <typename Range>
Var<T> Var<T>::record_range(Tensor<T> out, const Range& inputs, const char* op, Vjp<T> vjp) {
  const profile::Scope scope(profile::Cat::Graph);
  bool any = false;
  if (!g_no_grad)
    for (const Var& v : inputs) any = any || v.requires_grad();
  Var r(std::move(out), false);
  r.n_->op = op;
  if (!any) return r;
  r.n_->requires_grad = true;
  r.n_->is_leaf = false;
  r.n_->inputs.reserve(inputs.size());
  for (const Var& v : inputs) r.n_->inputs.push_back(v.requires_grad() ? v.n_ : nullptr);
  r.n_->vjp = std::move(vjp);
  return r;
}

template <typename T>
Var<T> Var<T>::record(Tensor<T> out, std::initializer_list<Var> inputs, const char* op, Vjp<T> vjp) {
  return record_range(std::move(out), inputs, op, std::move(vjp));
}

template <typename T>
Var<T> Var<T>::record(Tensor<T> out, const std::vector<Var>& inputs, const char* op, Vjp<T> vjp) {
  return record_range(std::move(out), inputs, op, std::move(vjp));
}

template <typename T>
void Var<T>::backward() const {
  if (n_->value.numel() != 1)
    throw AutodiffError(std::string("backward: output of '") + n_->op + "' has shape " +
                        shape_str(n_->value.shape()) +
                        ", not a scalar; pass a seed gradient of that shape: backward(seed)");
  backward(Tensor<T>::ones(n_->value.shape()));
}

template <typename T>
void Var<T>::backward(const Tensor<T>& seed) const {
  if (seed.shape() != n_->value.shape())
    throw AutodiffError("backward: seed gradient of shape " + shape_str(seed.shape()) + " for output of shape " +
                        shape_str(n_->value.shape()));
  if (n_->freed)
    throw AutodiffError(std::string("backward: the graph behind '") + n_->op +
                        "' was already freed by an earlier backward(); recompute the forward pass");
  if (!n_->requires_grad)
    throw AutodiffError(std::string("backward: output of '") + n_->op +
                        "' does not require a gradient (no input requires one, or it was computed under NoGrad)");

  const profile::Scope scope(profile::Cat::Graph);  // the sort, accumulation and freeing
  if (n_->is_leaf) {  // backward from a leaf: its gradient is the seed; there is no graph to walk
    std::lock_guard<std::mutex> lock(g_leaf_mutex);
    if (n_->grad.defined())
      vec::add_into(seed.numel(), seed.data(), n_->grad.data());
    else
      set_first_grad(*n_, seed.clone());
    return;
  }

  // Iterative post-order DFS: a node is emitted after all of its inputs.
  // `order` owns its nodes: freeing a node's edges below must not destroy nodes not yet visited.
  std::vector<std::shared_ptr<Node<T>>> order;
  std::vector<std::pair<std::shared_ptr<Node<T>>, size_t>> stack;
  static std::atomic<uint64_t> stamps{0};
  const uint64_t stamp = ++stamps;  // unique per traversal: a node is seen iff it carries it
  stack.emplace_back(n_, 0);
  n_->visit = stamp;
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (node->freed)
      throw AutodiffError(std::string("backward: the graph through '") + node->op +
                          "' was already freed by an earlier backward(); recompute the forward pass");
    if (next < node->inputs.size()) {
      const std::shared_ptr<Node<T>>& in = node->inputs[next++];
      if (in && !in->is_leaf && in->visit != stamp) {
        in->visit = stamp;
        stack.emplace_back(in, 0);
      }
      continue;
    }
    order.push_back(node);
    stack.pop_back();
  }

  Tensor<T> g = seed.clone();
  if (n_->grad.defined())
    vec::add_into(g.numel(), g.data(), n_->grad.data());
  else
    n_->grad = std::move(g);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node<T>* node = it->get();
    if (node->grad.defined()) {
      GradSink<T> sink(*node);
      const profile::Scope vjp(profile::Cat::Kernel);  // GradSink::add switches back to Graph
      node->vjp(node->grad, sink);
    }
    // Free as we go: intermediate gradients, the VJP's captures and the edges.
    node->vjp = nullptr;
    node->inputs.clear();
    node->freed = true;
    if (node != n_.get()) node->grad = Tensor<T>();
  }
}

template struct Node<float>;
template struct Node<double>;
template class GradSink<float>;
template class GradSink<double>;
template class Var<float>;
template class Var<double>;

}  // namespace lz
