// Linear<T>: y = x W^T + b with PyTorch's conventions, so weights compare line by line:
// weight [out, in], bias [out], both initialised uniform in ±1/sqrt(in) (what PyTorch's
// kaiming_uniform_(a=√5) default amounts to for the weight, and its bias rule).
#pragma once

#include <cstdint>

#include "nn/module.hpp"
#include "tensor/rng.hpp"

namespace lz {

template <typename T>
class Linear : public Layer<T> {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true);

  // x:[N,in] -> [N,out] in one `linear` node. x:[...,in] of any other rank is flattened to
  // [-1,in] and the result reshaped back to [...,out].
  Var<T> forward(const Var<T>& x) override;
  // relu(forward(x)), the same numbers, in one `linear_relu` node (MLP's ReLU hidden layers).
  Var<T> forward_relu(const Var<T>& x);

  Var<T>& weight() { return weight_; }
  Var<T>& bias() { return bias_; }  // undefined when built with bias = false
  const Var<T>& weight() const { return weight_; }
  const Var<T>& bias() const { return bias_; }
  bool has_bias() const { return bias_.defined(); }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  std::string describe() const override;

 private:
  int64_t in_, out_;
  Var<T> weight_, bias_;
  Var<T> zero_bias_;  // a constant stand-in so the bias-free layer still takes the one-node path
};

}  // namespace lz
