#include "nn/module.hpp"

#include <cstring>
#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace lz {

template <typename T>
Module<T>::~Module() {
  for (auto& [n, c] : children_) c->parent_ = nullptr;  // a child held elsewhere becomes a root
}

template <typename T>
void Module<T>::check_new_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw std::invalid_argument(std::string("Module::") + what + ": name '" + name +
                                "' must be non-empty and contain no '.' (dots separate path components)");
  for (const auto& [n, p] : params_)
    if (n == name)
      throw std::invalid_argument(std::string("Module::") + what + ": '" + name +
                                  "' is already a parameter of this " + describe());
  for (const auto& [n, c] : children_)
    if (n == name)
      throw std::invalid_argument(std::string("Module::") + what + ": '" + name +
                                  "' is already a submodule of this " + describe());
}

template <typename T>
Var<T> Module<T>::register_parameter(const std::string& name, Tensor<T> value) {
  check_new_name(name, "register_parameter");
  if (!value.defined()) throw std::invalid_argument("Module::register_parameter: '" + name + "' has no value");
  Var<T> v(std::move(value), true);
  v.set_name(name);
  params_.emplace_back(name, v);
  root().rebuild_flat();  // v's node now views the root's buffer
  return v;
}

template <typename T>
void Module<T>::attach(const std::string& name, std::shared_ptr<Module<T>> child) {
  if (!child) throw std::invalid_argument("Module::register_module: '" + name + "' is a null module");
  if (child.get() == this) throw std::invalid_argument("Module::register_module: '" + name + "' is the module itself");
  check_new_name(name, "register_module");
  if (child->parent_)
    throw std::invalid_argument("Module::register_module: '" + name + "' (" + child->describe() +
                                ") is already a submodule of " + child->parent_->describe() +
                                "; a module shared by two parents cannot be a contiguous range of both "
                                "parents' parameter buffers (build a second module, or register it once)");
  for (const Module* m = this; m; m = m->parent_)
    if (m == child.get())
      throw std::invalid_argument("Module::register_module: '" + name + "' (" + child->describe() +
                                  ") is an ancestor of this " + describe() + " (a cycle)");
  // The child's Vars take their path from here down; an enclosing attach() later prefixes again.
  for (auto& [n, v] : child->named_parameters()) v.set_name(name + "." + n);
  child->parent_ = this;
  children_.emplace_back(name, std::move(child));
  root().rebuild_flat();
}

template <typename T>
Module<T>& Module<T>::root() {
  Module* m = this;
  while (m->parent_) m = m->parent_;
  return *m;
}

template <typename T>
bool Module<T>::is_flat() const {
  if (!flat_values_.defined() || !flat_grads_.defined()) return false;
  int64_t off = 0;
  for (const auto& [n, v] : named_parameters()) {
    const Node<T>& nd = *v.node();
    const int64_t k = nd.value.numel();
    if (off + k > flat_values_.numel()) return false;
    if (!nd.value.shares_buffer(flat_values_) || nd.value.data() != flat_values_.data() + off) return false;
    if (!nd.grad_home.shares_buffer(flat_grads_) || nd.grad_home.data() != flat_grads_.data() + off ||
        nd.grad_home.shape() != nd.value.shape())
      return false;
    if (nd.grad.defined() && (nd.grad.data() != nd.grad_home.data() || nd.grad.shape() != nd.value.shape()))
      return false;
    off += k;
  }
  return off == flat_values_.numel();
}

template <typename T>
void Module<T>::rebuild_flat() {
  const auto params = named_parameters();
  int64_t total = 0;
  for (const auto& [n, v] : params) total += v.numel();
  const Tensor<T> values = Tensor<T>::empty({total}), grads = Tensor<T>::zeros({total});
  int64_t off = 0;
  for (const auto& [n, v] : params) {
    Node<T>& nd = *v.node();
    const Shape shape = nd.value.shape();
    const size_t bytes = sizeof(T) * static_cast<size_t>(nd.value.numel());
    Tensor<T> value = values.view(off, shape);
    if (bytes) std::memcpy(value.data(), nd.value.data(), bytes);
    nd.value = std::move(value);
    nd.grad_home = grads.view(off, shape);
    // A gradient of another shape stays where it is, for the optimizer to report by name.
    if (nd.grad.defined() && nd.grad.shape() == shape) {
      if (bytes) std::memcpy(nd.grad_home.data(), nd.grad.data(), bytes);
      nd.grad = nd.grad_home;
    }
    off += nd.value.numel();
  }
  assign_ranges(values, grads, 0);
}

template <typename T>
int64_t Module<T>::assign_ranges(const Tensor<T>& values, const Tensor<T>& grads, int64_t offset) {
  int64_t end = offset;
  for (const auto& [n, v] : params_) end += v.numel();
  for (const auto& [n, c] : children_) end = c->assign_ranges(values, grads, end);
  flat_values_ = values.view(offset, {end - offset});
  flat_grads_ = grads.view(offset, {end - offset});
  return end;
}

template <typename T>
Tensor<T> Module<T>::flat_parameters() {
  Module& r = root();
  if (!r.is_flat()) r.rebuild_flat();
  return flat_values_;
}

template <typename T>
Tensor<T> Module<T>::flat_gradients() {
  Module& r = root();
  if (!r.is_flat()) r.rebuild_flat();
  for (const auto& [n, v] : named_parameters()) {
    Node<T>& nd = *v.node();
    if (nd.grad.defined()) continue;
    std::fill(nd.grad_home.data(), nd.grad_home.data() + nd.grad_home.numel(), T(0));
    nd.grad = nd.grad_home;
  }
  return flat_grads_;
}

template <typename T>
void Module<T>::collect(const std::string& prefix, std::vector<std::pair<std::string, Var<T>>>& out) const {
  for (const auto& [n, v] : params_) out.emplace_back(prefix + n, v);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", out);
}

template <typename T>
std::vector<std::pair<std::string, Var<T>>> Module<T>::named_parameters() const {
  std::vector<std::pair<std::string, Var<T>>> out;
  collect("", out);
  return out;
}

template <typename T>
std::vector<Var<T>> Module<T>::parameters() const {
  std::vector<Var<T>> out;
  for (auto& [n, v] : named_parameters()) out.push_back(v);
  return out;
}

template <typename T>
Var<T> Module<T>::parameter(const std::string& dotted_name) const {
  std::string names;
  for (auto& [n, v] : named_parameters()) {
    if (n == dotted_name) return v;
    names += (names.empty() ? "" : ", ") + n;
  }
  throw std::out_of_range("Module::parameter: no parameter named '" + dotted_name + "' in " + describe() +
                          " (has: " + (names.empty() ? "none" : names) + ")");
}

template <typename T>
int64_t Module<T>::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, v] : named_parameters()) n += v.numel();
  return n;
}

template <typename T>
void Module<T>::zero_grad() {
  for (auto& [n, v] : named_parameters()) v.zero_grad();
}

template <typename T>
std::string Module<T>::summary() const {
  const auto params = named_parameters();
  size_t wn = 9, ws = 5;
  for (const auto& [n, v] : params) {
    wn = std::max(wn, n.size());
    ws = std::max(ws, shape_str(v.shape()).size());
  }
  std::ostringstream os;
  os << describe() << "\n";
  os << std::left << std::setw(static_cast<int>(wn)) << "parameter" << "  " << std::setw(static_cast<int>(ws))
     << "shape" << "  " << std::right << std::setw(12) << "count" << "\n";
  int64_t total = 0;
  for (const auto& [n, v] : params) {
    os << std::left << std::setw(static_cast<int>(wn)) << n << "  " << std::setw(static_cast<int>(ws))
       << shape_str(v.shape()) << "  " << std::right << std::setw(12) << v.numel() << "\n";
    total += v.numel();
  }
  os << "total: " << total << " parameters in " << params.size() << " tensors ("
     << (sizeof(T) == 4 ? "float32" : "float64") << ")\n";
  return os.str();
}

template class Module<float>;
template class Module<double>;

}  // namespace lz
