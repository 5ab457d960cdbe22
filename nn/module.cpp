#include "nn/module.hpp"

#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace lz {

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
  return v;
}

template <typename T>
void Module<T>::attach(const std::string& name, std::shared_ptr<Module<T>> child) {
  if (!child) throw std::invalid_argument("Module::register_module: '" + name + "' is a null module");
  if (child.get() == this) throw std::invalid_argument("Module::register_module: '" + name + "' is the module itself");
  check_new_name(name, "register_module");
  // The child's Vars take their path from here down; an enclosing attach() later prefixes again.
  for (auto& [n, v] : child->named_parameters()) v.set_name(name + "." + n);
  children_.emplace_back(name, std::move(child));
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
