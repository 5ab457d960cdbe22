// Activations as an enum (for MLP builders and flags) and as modules.
#pragma once

#include <string>

#include "nn/module.hpp"

namespace lz {

enum class Activation { Identity, ReLU, Tanh, Sigmoid, LeakyReLU, Softplus };

// LeakyReLU uses PyTorch's default negative slope, 0.01.
template <typename T>
Var<T> apply(Activation act, const Var<T>& x);

// "identity", "relu", "tanh", "sigmoid", "leaky_relu", "softplus" (case-insensitive; "leakyrelu",
// "linear" and "none" accepted too); anything else throws std::invalid_argument listing these.
Activation parse_activation(const std::string& name);
std::string activation_name(Activation act);

// An activation as a Layer (no parameters), for code that composes Layers.
template <typename T>
class ActivationLayer : public Layer<T> {
 public:
  explicit ActivationLayer(Activation act) : act_(act) {}
  Var<T> forward(const Var<T>& x) override { return apply(act_, x); }
  Activation activation() const { return act_; }
  std::string describe() const override { return "Activation(" + activation_name(act_) + ")"; }

 private:
  Activation act_;
};

}  // namespace lz
