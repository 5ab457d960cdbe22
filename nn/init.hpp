// In-place parameter initialisers with PyTorch's names and formulas (torch.nn.init), for models
// that need other than Linear's default (e.g. a flow's last layer initialised to zero so that it
// starts as the identity). Each takes the parameter handle by value: it shares the node.
#pragma once

#include "autodiff/var.hpp"
#include "tensor/rng.hpp"

namespace lz::init {

// PyTorch's fans: fan_in = size(1) * receptive field, fan_out = size(0) * receptive field
// (receptive field = product of dims from 2 on); a 1-D tensor has fan_in = fan_out = size(0).
struct Fans {
  int64_t in, out;
};
Fans fans(const Shape& s);

template <typename T> void zeros(Var<T> p);
template <typename T> void constant(Var<T> p, T value);
template <typename T> void uniform(Var<T> p, T lo, T hi, Rng& rng);
template <typename T> void normal(Var<T> p, T mean, T stddev, Rng& rng);
// U(±gain·sqrt(6/(fan_in+fan_out)))
template <typename T> void xavier_uniform(Var<T> p, Rng& rng, double gain = 1.0);
// U(±sqrt(6/((1+a²)·fan_in))): a = 0 for ReLU; a = √5 gives Linear's default ±1/sqrt(fan_in)
template <typename T> void kaiming_uniform(Var<T> p, Rng& rng, double a = 0.0);

}  // namespace lz::init
