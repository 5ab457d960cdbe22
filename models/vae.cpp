#include "models/vae.hpp"

#include <stdexcept>

#include "nn/mlp.hpp"
#include "tensor/math.hpp"

namespace lz {

void VaeConfig::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("VaeConfig: " + what); };
  if (x_dim < 1) bad("x_dim must be >= 1, got " + std::to_string(x_dim));
  if (z_dim < 1) bad("z_dim (latent size) must be >= 1, got " + std::to_string(z_dim));
  if (c_dim < 0) bad("c_dim (condition size) must be >= 0, got " + std::to_string(c_dim));
  for (int64_t h : hidden)
    if (h < 1) bad("every hidden size must be >= 1, got " + std::to_string(h));
  for (int64_t h : prior_hidden)
    if (h < 1) bad("every prior hidden size must be >= 1, got " + std::to_string(h));
  if (prior_components < 0) bad("prior_components must be >= 0, got " + std::to_string(prior_components));
  if (prior_flow_couplings < 0) bad("prior_flow_couplings must be >= 0, got " + std::to_string(prior_flow_couplings));
  if (prior_components > 0 && prior_flow_couplings > 0) bad("choose one prior: a mixture (prior_components) or a flow (prior_flow_couplings)");
  if ((learned_prior || prior_components > 0 || prior_flow_couplings > 0) && c_dim == 0)
    bad(std::string(prior_components > 0 ? "a mixture" : prior_flow_couplings > 0 ? "a flow" : "a learned") +
        " prior p(z|c) needs a condition (c_dim > 0)");
  if (prior_flow_couplings > 0 && prior_hidden.empty()) bad("a flow prior needs at least one prior hidden size");
  parse_activation(activation);  // throws listing the accepted names
}

template <typename T>
VAE<T>::VAE(const VaeConfig& cfg, Rng& rng) : cfg_(cfg) {
  cfg_.validate();
  // encoder: D + C -> hidden... -> 2Z (μ and log σ² from one last Linear); decoder: Z + C -> reversed hidden -> D
  const Activation act = parse_activation(cfg.activation);
  std::vector<int64_t> enc{cfg.x_dim + cfg.c_dim}, dec{cfg.z_dim + cfg.c_dim};
  enc.insert(enc.end(), cfg.hidden.begin(), cfg.hidden.end());
  enc.push_back(2 * cfg.z_dim);
  dec.insert(dec.end(), cfg.hidden.rbegin(), cfg.hidden.rend());
  dec.push_back(cfg.x_dim);
  encoder_ = this->register_module("encoder", std::make_shared<MLP<T>>(enc, act, rng));
  decoder_ = this->register_module("decoder", std::make_shared<MLP<T>>(dec, act, rng));
  if (cfg.flow_prior()) {
    FlowSpec fs;
    fs.dim = cfg.z_dim;
    fs.condition_dim = cfg.c_dim;
    fs.couplings = cfg.prior_flow_couplings;
    fs.hidden = cfg.prior_hidden;
    fs.activation = act;
    flow_ = Flow<T>::build(fs, rng);
    this->register_module("prior_flow", flow_);
  } else if (cfg.learned_prior || cfg.mixture_prior()) {
    const int64_t M = cfg.prior_components, Z = cfg.z_dim;
    std::vector<int64_t> pri{cfg.c_dim};
    pri.insert(pri.end(), cfg.prior_hidden.begin(), cfg.prior_hidden.end());
    pri.push_back(cfg.mixture_prior() ? mixture_output_size(M, Z) : 2 * Z);
    auto net = std::make_shared<MLP<T>>(pri, act, rng);
    if (cfg.mixture_prior()) {
      // Components that start at one mean stay together (their gradients are equal): each
      // component's mean starts at its own N(0, I) draw (the last layer's bias), the logits and
      // log scales at the network's small initial outputs (π ≈ 1/M, σ ≈ 1).
      Tensor<T>& b = net->layers().back()->bias().value_mut();
      for (int64_t i = 0; i < M * Z; ++i) b[M + i] = static_cast<T>(rng.normal());
    }
    prior_ = this->register_module("prior", net);
  }
  if (cfg.likelihood != VaeLikelihood::Bernoulli) {
    const Tensor<T> lv = Tensor<T>::full({cfg.x_dim}, static_cast<T>(cfg.init_logvar));
    // A fixed variance is a constant leaf, so it stays out of the parameter list and the optimizer.
    const char* name = cfg.likelihood == VaeLikelihood::Gaussian ? "decoder_logvar" : "decoder_log_scale";
    dec_logvar_ = cfg.learn_variance ? this->register_parameter(name, lv) : Var<T>(lv);
  }
}

template <typename T>
std::string VAE<T>::describe() const {
  std::string h;
  for (int64_t s : cfg_.hidden) h += std::to_string(s) + "-";
  std::string cond;
  if (cfg_.c_dim > 0)
    cond = ", condition " + std::to_string(cfg_.c_dim) +
           (cfg_.flow_prior() ? ", flow prior (" + std::to_string(cfg_.prior_flow_couplings) + " couplings)"
            : cfg_.mixture_prior()  ? ", mixture prior (M = " + std::to_string(cfg_.prior_components) + ")"
            : cfg_.learned_prior ? std::string(", learned prior")
                                 : std::string(", prior N(0, I)"));
  const char* lik = cfg_.likelihood == VaeLikelihood::Bernoulli  ? "VAE(Bernoulli, "
                    : cfg_.likelihood == VaeLikelihood::Gaussian ? "VAE(Gaussian, "
                                                                 : "VAE(Laplace, ";
  return std::string(lik) +
         std::to_string(cfg_.x_dim) + "-" + h + std::to_string(cfg_.z_dim) + ", " + cfg_.activation + cond + ")";
}

namespace {
// [a, c] along the last axis, c broadcast over a's leading sample axis (a:[k, B, ·] with c:[B, C]).
template <typename T>
Var<T> with_condition(const Var<T>& a, const Var<T>& c) {
  if (!c.defined()) return a;
  if (a.dim() == 2) return concat<T>({a, c}, 1);
  Shape s = a.shape();
  s.back() = c.size(1);
  return concat<T>({a, expand(c, s)}, a.dim() - 1);
}
}  // namespace

template <typename T>
DiagGaussian<T> VAE<T>::encode(const Var<T>& x, const Var<T>& c) {
  if (x.dim() != 2 || x.size(1) != cfg_.x_dim)
    throw ShapeError("VAE::encode: expected x:[B," + std::to_string(cfg_.x_dim) + "], got " + shape_str(x.shape()));
  this->check_condition(c, x.size(0), "VAE::encode");
  return diag_gaussian_from_output(encoder_->forward(with_condition(x, c)));
}

template <typename T>
Var<T> VAE<T>::decode(const Var<T>& z, const Var<T>& c) {
  if (z.size(-1) != cfg_.z_dim)
    throw ShapeError("VAE::decode: expected z:[...," + std::to_string(cfg_.z_dim) + "], got " + shape_str(z.shape()));
  this->check_condition(c, z.size(-2), "VAE::decode");
  const Var<T> in = with_condition(z, c);
  if (z.dim() == 2) return decoder_->forward(in);
  // [k, B, Z + C] -> one [k·B, Z + C] batch through the decoder -> [k, B, D]
  Shape out_shape = z.shape();
  out_shape.back() = cfg_.x_dim;
  return reshape(decoder_->forward(reshape(in, {-1, in.size(-1)})), out_shape);
}

template <typename T>
Var<T> VAE<T>::log_likelihood_of_output(const Var<T>& x, const Var<T>& out) const {
  if (cfg_.likelihood == VaeLikelihood::Bernoulli) return bernoulli_log_prob(out, x);
  if (cfg_.likelihood == VaeLikelihood::Laplace) return laplace_log_prob(x, out, dec_logvar_);
  return gaussian_log_prob(x, out, dec_logvar_);
}

template <typename T>
Var<T> VAE<T>::log_likelihood(const Var<T>& x, const Var<T>& z, const Var<T>& c) {
  return log_likelihood_of_output(x, decode(z, c));
}

template <typename T>
DiagGaussian<T> VAE<T>::prior(const Var<T>& c) {
  if (!prior_) throw std::logic_error("VAE::prior: this model's prior is N(0, I), not a network of c");
  if (cfg_.mixture_prior())
    throw std::logic_error("VAE::prior: this model's prior is a mixture (M = " + std::to_string(cfg_.prior_components) +
                           "): use mixture_prior");
  this->check_condition(c, c.dim() == 2 ? c.size(0) : -1, "VAE::prior");
  return diag_gaussian_from_output(prior_->forward(c));
}

template <typename T>
MixtureOfDiagGaussians<T> VAE<T>::mixture_prior(const Var<T>& c) {
  if (!cfg_.mixture_prior()) throw std::logic_error("VAE::mixture_prior: this model's prior is not a mixture");
  this->check_condition(c, c.dim() == 2 ? c.size(0) : -1, "VAE::mixture_prior");
  return mixture_from_output(prior_->forward(c), cfg_.prior_components, cfg_.z_dim);
}

template <typename T>
Flow<T>& VAE<T>::flow_prior() const {
  if (!flow_) throw std::logic_error("VAE::flow_prior: this model's prior is not a flow");
  return *flow_;
}

template <typename T>
Var<T> VAE<T>::prior_log_prob(const Var<T>& z, const Var<T>& c) {
  if (flow_) {
    this->check_condition(c, z.size(-2), "VAE::prior_log_prob");
    if (z.dim() == 2) return flow_->log_prob(z, c);
    // [k, B, Z] -> one [k·B, Z] batch, c repeated for each of the k draws -> [k, B]
    const int64_t k = z.size(0), B = z.size(1);
    const Var<T> ck = reshape(expand(c, {k, B, c.size(1)}), {k * B, c.size(1)});
    return reshape(flow_->log_prob(reshape(z, {k * B, cfg_.z_dim}), ck), {k, B});
  }
  if (!prior_) return std_normal_log_prob(z);
  if (cfg_.mixture_prior()) return mixture_prior(c).log_prob(z);  // z:[k, B, Z] against the mixture's B rows
  return prior(c).log_prob(z);  // z:[k, B, Z] broadcasts against the prior's [B, Z]
}

template <typename T>
Var<T> VAE<T>::kl_to_prior(const DiagGaussian<T>& q, const Var<T>& c) {
  if (!analytic_kl())
    throw std::logic_error(std::string("VAE::kl_to_prior: the KL to a ") + (flow_ ? "flow" : "mixture") +
                           " prior has no closed form; estimate it at the reparameterised draws (LatentModel::kl_estimate)");
  if (!prior_) return q.kl_std_normal();
  return q.kl_to(prior(c));
}

template <typename T>
Tensor<T> VAE<T>::prior_mode(const Var<T>& c) {
  NoGrad ng;
  if (flow_) {
    this->check_condition(c, c.defined() ? c.size(0) : -1, "VAE::prior_mode");
    return flow_->inverse(Var<T>(Tensor<T>({c.size(0), cfg_.z_dim})), c).out.value();
  }
  if (cfg_.mixture_prior()) return mixture_prior(c).top_component_mean();
  if (prior_) return prior(c).mean.value();
  this->check_condition(c, c.defined() ? c.size(0) : -1, "VAE::prior_mode");
  return Tensor<T>({c.defined() ? c.size(0) : 1, cfg_.z_dim});
}

template <typename T>
Tensor<T> VAE<T>::sample_prior(int64_t n, Rng& rng, const Var<T>& c) {
  NoGrad ng;
  if (flow_) {
    this->check_condition(c, c.defined() ? c.size(0) : -1, "VAE::sample_prior");
    const int64_t B = c.size(0);
    const Tensor<T> ct = concat(std::vector<Tensor<T>>(static_cast<size_t>(n), c.value()), 0);  // [n·B, C]
    return flow_->sample(n * B, rng, ct).reshape({n, B, cfg_.z_dim});
  }
  if (cfg_.mixture_prior()) return mixture_prior(c).sample(n, rng);  // [n, B, Z]
  if (prior_) return prior(c).sample(n, rng);  // [n, B, Z]
  if (c.defined()) {
    this->check_condition(c, c.size(0), "VAE::sample_prior");
    return standard_normal<T>({n, c.size(0), cfg_.z_dim}, rng);
  }
  return standard_normal<T>({n, cfg_.z_dim}, rng);
}

template <typename T>
Tensor<T> VAE<T>::log_likelihood_all_pairs(const Tensor<T>& x, const Tensor<T>& z) {
  if (cfg_.c_dim > 0)
    throw std::logic_error("VAE::log_likelihood_all_pairs: a conditional model scores z against its own row's c");
  NoGrad ng;
  const int64_t N = x.size(0), K = z.size(0), D = cfg_.x_dim;
  const Var<T> out = decode(Var<T>(z));  // [K, D]
  if (cfg_.likelihood == VaeLikelihood::Bernoulli) {
    // log p(x|z) = Σ_j x_j l_j − softplus(l_j): one GEMM x·Lᵀ for all rows and samples.
    const Tensor<T>& L = out.value();
    const Tensor<T> sp = sum(lz::map(L, [](auto l) { return math::softplus(l); }), 1);  // [K]
    Tensor<T> r = matmul(L, x, false, true);                                          // [K, N]
    for (int64_t i = 0; i < K; ++i)
      for (int64_t n = 0; n < N; ++n) r[i * N + n] -= sp[i];
    return r;
  }
  Tensor<T> r({K, N});
  for (int64_t n = 0; n < N; ++n) {
    const Tensor<T> ll = log_likelihood_of_output(Var<T>(narrow(x, 0, n, 1).reshape({1, D})), out).value();  // [K]
    for (int64_t i = 0; i < K; ++i) r[i * N + n] = ll[i];
  }
  return r;
}

template <typename T>
Tensor<T> VAE<T>::mean_of_output(const Var<T>& out) const {
  if (cfg_.likelihood != VaeLikelihood::Bernoulli) return out.value();
  return lz::map(out.value(), [](auto l) { return math::sigmoid(l); });
}

double kl_weight(int64_t step, int64_t warmup_steps, double beta) {
  if (warmup_steps <= 0 || step >= warmup_steps) return beta;
  return beta * static_cast<double>(step) / static_cast<double>(warmup_steps);
}

template class VAE<float>;
template class VAE<double>;

}  // namespace lz
