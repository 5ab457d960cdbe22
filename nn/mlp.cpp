#include "nn/mlp.hpp"

#include <stdexcept>

namespace lz {

template <typename T>
MLP<T>::MLP(std::vector<int64_t> sizes, Activation act, Rng& rng, bool activate_last)
    : sizes_(std::move(sizes)), act_(act), activate_last_(activate_last) {
  if (sizes_.size() < 2)
    throw std::invalid_argument("MLP: need at least an input and an output size, got " +
                                std::to_string(sizes_.size()) + " sizes");
  for (size_t i = 0; i + 1 < sizes_.size(); ++i)
    layers_.push_back(this->register_module("fc" + std::to_string(i + 1),
                                            std::make_shared<Linear<T>>(sizes_[i], sizes_[i + 1], rng)));
}

template <typename T>
Var<T> MLP<T>::forward(const Var<T>& x) {
  Var<T> h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool activate = i + 1 < layers_.size() || activate_last_;
    if (activate && act_ == Activation::ReLU)
      h = layers_[i]->forward_relu(h);  // one node and one activation buffer instead of two
    else
      h = layers_[i]->forward(h);
    if (activate && act_ != Activation::ReLU) h = apply(act_, h);
  }
  return h;
}

template <typename T>
std::string MLP<T>::describe() const {
  std::string s = "MLP(";
  for (size_t i = 0; i < sizes_.size(); ++i) {
    if (i) s += '-';
    s += std::to_string(sizes_[i]);
  }
  return s + ", " + activation_name(act_) + (activate_last_ ? ", activate_last" : "") + ")";
}

template class MLP<float>;
template class MLP<double>;

}  // namespace lz
