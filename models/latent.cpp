#include "models/latent.hpp"

namespace lz {

template <typename T>
void LatentModel<T>::check_condition(const Var<T>& c, int64_t rows, const char* who) const {
  const int64_t C = c_dim();
  if (C == 0) {
    if (c.defined())
      throw ShapeError(std::string(who) + ": this model takes no condition, got c:" + shape_str(c.shape()));
    return;
  }
  if (!c.defined())
    throw ShapeError(std::string(who) + ": this model is conditional: expected c:[" + std::to_string(rows) + "," +
                     std::to_string(C) + "], got none");
  if (c.dim() != 2 || c.size(1) != C || (rows >= 0 && c.size(0) != rows))
    throw ShapeError(std::string(who) + ": expected c:[" + (rows >= 0 ? std::to_string(rows) : std::string("B")) + "," +
                     std::to_string(C) + "], got " + shape_str(c.shape()));
}

template <typename T>
Var<T> LatentModel<T>::kl_estimate(const DiagGaussian<T>& q, const Var<T>& z, const Var<T>& c) {
  if (analytic_kl()) return kl_to_prior(q, c);
  const Var<T> d = q.log_prob(z) - prior_log_prob(z, c);  // [B] or [k, B]
  return d.dim() == 2 ? mean(d, 0) : d;
}

template <typename T>
ElboTerms<T> elbo(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c) {
  const DiagGaussian<T> q = model.encode(x, c);
  const Var<T> z = q.rsample(eps);
  Var<T> rec = model.log_likelihood(x, z, c);    // log p(x|z, c), [B] or [k, B]
  if (rec.dim() == 2) rec = mean(rec, 0);        // k samples: average them
  const Var<T> kl = model.kl_estimate(q, z, c);  // closed form, or Monte Carlo at the same z
  return {rec, kl, rec - kl};
}

template <typename T>
Var<T> elbo_loss(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, T beta, const Var<T>& c) {
  const ElboTerms<T> t = elbo(model, x, eps, c);
  return -mean(t.reconstruction - beta * t.kl);
}

#define LZ_INSTANTIATE(T)                                                                            \
  template class LatentModel<T>;                                                                     \
  template ElboTerms<T> elbo(LatentModel<T>&, const Var<T>&, const Tensor<T>&, const Var<T>&);       \
  template Var<T> elbo_loss(LatentModel<T>&, const Var<T>&, const Tensor<T>&, T, const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
