#include "models/iwae.hpp"

namespace lz {

template <typename T>
Var<T> iwae_log_weights(VAE<T>& model, const Var<T>& x, const Tensor<T>& eps) {
  if (eps.dim() != 3 || eps.size(1) != x.size(0))
    throw ShapeError("iwae: expected eps:[k," + std::to_string(x.size(0)) + ",Z] for x " + shape_str(x.shape()) +
                     ", got " + shape_str(eps.shape()));
  const DiagGaussian<T> q = model.encode(x);
  const Var<T> z = q.rsample(eps);  // [k, B, Z]
  return model.log_likelihood(x, z) + std_normal_log_prob(z) - q.log_prob(z);
}

template <typename T>
Var<T> iwae_bound(VAE<T>& model, const Var<T>& x, const Tensor<T>& eps) {
  return log_mean_exp_of(iwae_log_weights(model, x, eps), 0);
}

template <typename T>
Var<T> iwae_loss(VAE<T>& model, const Var<T>& x, const Tensor<T>& eps) {
  return -mean(iwae_bound(model, x, eps));
}

#define LZ_INSTANTIATE(T)                                                        \
  template Var<T> iwae_log_weights(VAE<T>&, const Var<T>&, const Tensor<T>&);    \
  template Var<T> iwae_bound(VAE<T>&, const Var<T>&, const Tensor<T>&);          \
  template Var<T> iwae_loss(VAE<T>&, const Var<T>&, const Tensor<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
