#include "models/iwae.hpp"

namespace lz {

template <typename T>
Var<T> log_importance_weights(LatentModel<T>& model, const DiagGaussian<T>& q, const Var<T>& x, const Var<T>& z,
                              const Var<T>& c, const Var<T>& log_lik) {
  const Var<T> ll = log_lik.defined() ? log_lik : model.log_likelihood(x, z, c);
  return ll + model.prior_log_prob(z, c) - q.log_prob(z);
}

template <typename T>
Var<T> iwae_log_weights(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c) {
  if (eps.dim() != 3 || eps.size(1) != x.size(0))
    throw ShapeError("iwae: expected eps:[k," + std::to_string(x.size(0)) + ",Z] for x " + shape_str(x.shape()) +
                     ", got " + shape_str(eps.shape()));
  const DiagGaussian<T> q = model.encode(x, c);
  const Var<T> z = q.rsample(eps);  // [k, B, Z]
  return log_importance_weights(model, q, x, z, c);
}

template <typename T>
Var<T> iwae_bound(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c) {
  return log_mean_exp(iwae_log_weights(model, x, eps, c), 0);
}

template <typename T>
Var<T> iwae_loss(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c) {
  return -mean(iwae_bound(model, x, eps, c));
}

#define LZ_INSTANTIATE(T)                                                                                  \
  template Var<T> log_importance_weights(LatentModel<T>&, const DiagGaussian<T>&, const Var<T>&, const Var<T>&, \
                                         const Var<T>&, const Var<T>&);                                    \
  template Var<T> iwae_log_weights(LatentModel<T>&, const Var<T>&, const Tensor<T>&, const Var<T>&);       \
  template Var<T> iwae_bound(LatentModel<T>&, const Var<T>&, const Tensor<T>&, const Var<T>&);             \
  template Var<T> iwae_loss(LatentModel<T>&, const Var<T>&, const Tensor<T>&, const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
