#include "nn/linear.hpp"

#include <cmath>
#include <stdexcept>

#include "autodiff/ops.hpp"

namespace lz {

template <typename T>
Linear<T>::Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias)
    : in_(in_features), out_(out_features) {
  if (in_features <= 0 || out_features <= 0)
    throw std::invalid_argument("Linear: features must be positive, got in=" + std::to_string(in_features) +
                                " out=" + std::to_string(out_features));
  const T bound = T(1) / std::sqrt(static_cast<T>(in_features));
  // Weight first, then bias, from the same stream: a fixed seed gives a fixed layer.
  weight_ = this->register_parameter("weight", Tensor<T>::uniform({out_, in_}, -bound, bound, rng));
  if (bias)
    bias_ = this->register_parameter("bias", Tensor<T>::uniform({out_}, -bound, bound, rng));
  else
    zero_bias_ = Var<T>(Tensor<T>::zeros({out_}), false);
}

namespace {
template <typename T>
void check_features(const Var<T>& x, int64_t in, int64_t out, const Var<T>& weight) {
  if (x.dim() < 1 || x.size(-1) != in)
    throw ShapeError("Linear(" + std::to_string(in) + " -> " + std::to_string(out) + "): input of shape " +
                     shape_str(x.shape()) + " does not end in " + std::to_string(in) + " features" +
                     (weight.name().empty() ? "" : " (weight '" + weight.name() + "')"));
}
}  // namespace

template <typename T>
Var<T> Linear<T>::forward(const Var<T>& x) {
  const Var<T>& b = bias_.defined() ? bias_ : zero_bias_;
  check_features(x, in_, out_, weight_);
  if (x.dim() == 2) return linear(x, weight_, b);
  Shape out_shape = x.shape();
  out_shape.back() = out_;
  return reshape(linear(reshape(x, {-1, in_}), weight_, b), out_shape);
}

template <typename T>
Var<T> Linear<T>::forward_relu(const Var<T>& x) {
  const Var<T>& b = bias_.defined() ? bias_ : zero_bias_;
  check_features(x, in_, out_, weight_);
  if (x.dim() == 2) return linear_relu(x, weight_, b);
  Shape out_shape = x.shape();
  out_shape.back() = out_;
  return reshape(linear_relu(reshape(x, {-1, in_}), weight_, b), out_shape);
}

template <typename T>
std::string Linear<T>::describe() const {
  return "Linear(" + std::to_string(in_) + " -> " + std::to_string(out_) + (bias_.defined() ? "" : ", no bias") + ")";
}

template class Linear<float>;
template class Linear<double>;

}  // namespace lz
