#include "nn/activation.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "autodiff/ops.hpp"

namespace lz {

template <typename T>
Var<T> apply(Activation act, const Var<T>& x) {
  switch (act) {
    case Activation::Identity: return x;
    case Activation::ReLU: return relu(x);
    case Activation::Tanh: return tanh(x);
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::LeakyReLU: return leaky_relu(x, T(0.01));
    case Activation::Softplus: return softplus(x);
  }
  throw std::invalid_argument("apply: unknown activation value " + std::to_string(static_cast<int>(act)));
}

Activation parse_activation(const std::string& name) {
  std::string s = name;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "identity" || s == "linear" || s == "none") return Activation::Identity;
  if (s == "relu") return Activation::ReLU;
  if (s == "tanh") return Activation::Tanh;
  if (s == "sigmoid") return Activation::Sigmoid;
  if (s == "leaky_relu" || s == "leakyrelu") return Activation::LeakyReLU;
  if (s == "softplus") return Activation::Softplus;
  throw std::invalid_argument("unknown activation '" + name +
                              "'; expected one of: identity, relu, tanh, sigmoid, leaky_relu, softplus");
}

std::string activation_name(Activation act) {
  switch (act) {
    case Activation::Identity: return "identity";
    case Activation::ReLU: return "relu";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::LeakyReLU: return "leaky_relu";
    case Activation::Softplus: return "softplus";
  }
  return "?";
}

template Var<float> apply(Activation, const Var<float>&);
template Var<double> apply(Activation, const Var<double>&);

}  // namespace lz
