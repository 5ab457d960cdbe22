#include "models/vae.hpp"

#include <stdexcept>

#include "nn/mlp.hpp"
#include "tensor/math.hpp"

namespace lz {

void VaeConfig::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("VaeConfig: " + what); };
  if (x_dim < 1) bad("x_dim must be >= 1, got " + std::to_string(x_dim));
  if (z_dim < 1) bad("z_dim (latent size) must be >= 1, got " + std::to_string(z_dim));
  for (int64_t h : hidden)
    if (h < 1) bad("every hidden size must be >= 1, got " + std::to_string(h));
  parse_activation(activation);  // throws listing the accepted names
}

template <typename T>
VAE<T>::VAE(const VaeConfig& cfg, Rng& rng) : cfg_(cfg) {
  cfg_.validate();
  // encoder: D -> hidden... -> 2Z (μ and log σ² from one last Linear); decoder: Z -> reversed hidden -> D
  std::vector<int64_t> enc{cfg.x_dim}, dec{cfg.z_dim};
  enc.insert(enc.end(), cfg.hidden.begin(), cfg.hidden.end());
  enc.push_back(2 * cfg.z_dim);
  dec.insert(dec.end(), cfg.hidden.rbegin(), cfg.hidden.rend());
  dec.push_back(cfg.x_dim);
  encoder_ = this->register_module("encoder", std::make_shared<MLP<T>>(enc, parse_activation(cfg.activation), rng));
  decoder_ = this->register_module("decoder", std::make_shared<MLP<T>>(dec, parse_activation(cfg.activation), rng));
  if (cfg.likelihood == VaeLikelihood::Gaussian) {
    const Tensor<T> lv = Tensor<T>::full({cfg.x_dim}, static_cast<T>(cfg.init_logvar));
    // A fixed variance is a constant leaf, so it stays out of the parameter list and the optimizer.
    dec_logvar_ = cfg.learn_variance ? this->register_parameter("decoder_logvar", lv) : Var<T>(lv);
  }
}

template <typename T>
std::string VAE<T>::describe() const {
  std::string h;
  for (int64_t s : cfg_.hidden) h += std::to_string(s) + "-";
  return std::string(cfg_.likelihood == VaeLikelihood::Bernoulli ? "VAE(Bernoulli, " : "VAE(Gaussian, ") +
         std::to_string(cfg_.x_dim) + "-" + h + std::to_string(cfg_.z_dim) + ", " + cfg_.activation + ")";
}

template <typename T>
DiagGaussian<T> VAE<T>::encode(const Var<T>& x) {
  if (x.dim() != 2 || x.size(1) != cfg_.x_dim)
    throw ShapeError("VAE::encode: expected x:[B," + std::to_string(cfg_.x_dim) + "], got " + shape_str(x.shape()));
  const Var<T> h = encoder_->forward(x);
  return {narrow(h, 1, 0, cfg_.z_dim), narrow(h, 1, cfg_.z_dim, cfg_.z_dim)};
}

template <typename T>
Var<T> VAE<T>::decode(const Var<T>& z) {
  if (z.size(-1) != cfg_.z_dim)
    throw ShapeError("VAE::decode: expected z:[...," + std::to_string(cfg_.z_dim) + "], got " + shape_str(z.shape()));
  if (z.dim() == 2) return decoder_->forward(z);
  // [k, B, Z] -> one [k·B, Z] batch through the decoder -> [k, B, D]
  Shape out_shape = z.shape();
  out_shape.back() = cfg_.x_dim;
  return reshape(decoder_->forward(reshape(z, {-1, cfg_.z_dim})), out_shape);
}

template <typename T>
Var<T> VAE<T>::log_likelihood_of_output(const Var<T>& x, const Var<T>& out) const {
  if (cfg_.likelihood == VaeLikelihood::Bernoulli) return bernoulli_log_prob(out, x);
  return gaussian_log_prob(x, out, dec_logvar_);
}

template <typename T>
Var<T> VAE<T>::log_likelihood(const Var<T>& x, const Var<T>& z) {
  return log_likelihood_of_output(x, decode(z));
}

template <typename T>
ElboTerms<T> VAE<T>::elbo(const Var<T>& x, const Tensor<T>& eps) {
  const DiagGaussian<T> q = encode(x);
  Var<T> rec = log_likelihood(x, q.rsample(eps));       // log p(x|z), [B] or [k, B]
  if (rec.dim() == 2) rec = mean(rec, 0);               // k samples: average them
  const Var<T> kl = q.kl_std_normal();                  // ½ Σ (σ² + μ² − 1 − log σ²)
  return {rec, kl, rec - kl};
}

template <typename T>
Var<T> VAE<T>::loss(const Var<T>& x, const Tensor<T>& eps, T beta) {
  const ElboTerms<T> t = elbo(x, eps);
  return -mean(t.reconstruction - beta * t.kl);
}

template <typename T>
Var<T> VAE<T>::elbo_sampled_kl(const Var<T>& x, const Tensor<T>& eps) {
  const DiagGaussian<T> q = encode(x);
  const Var<T> z = q.rsample(eps);
  return log_likelihood(x, z) + std_normal_log_prob(z) - q.log_prob(z);
}

template <typename T>
Tensor<T> VAE<T>::mean_of_output(const Var<T>& out) const {
  if (cfg_.likelihood == VaeLikelihood::Gaussian) return out.value();
  return lz::map(out.value(), [](auto l) { return math::sigmoid(l); });
}

double kl_weight(int64_t step, int64_t warmup_steps, double beta) {
  if (warmup_steps <= 0 || step >= warmup_steps) return beta;
  return beta * static_cast<double>(step) / static_cast<double>(warmup_steps);
}

template class VAE<float>;
template class VAE<double>;

}  // namespace lz
