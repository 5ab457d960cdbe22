// MLP<T>: Linear layers named fc1, fc2, ... with one activation between them.
#pragma once

#include <memory>
#include <vector>

#include "nn/activation.hpp"
#include "nn/linear.hpp"

namespace lz {

template <typename T>
class MLP : public Layer<T> {
 public:
  // sizes = {in, hidden..., out}: sizes.size()-1 layers. The activation follows every layer but
  // the last (and the last too if activate_last).
  MLP(std::vector<int64_t> sizes, Activation act, Rng& rng, bool activate_last = false);

  Var<T> forward(const Var<T>& x) override;

  const std::vector<std::shared_ptr<Linear<T>>>& layers() const { return layers_; }
  const std::vector<int64_t>& sizes() const { return sizes_; }
  Activation activation() const { return act_; }
  std::string describe() const override;

 private:
  std::vector<int64_t> sizes_;
  Activation act_;
  bool activate_last_;
  std::vector<std::shared_ptr<Linear<T>>> layers_;
};

}  // namespace lz
