// The importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016): the VAE's networks with a
// tighter bound. Draw k samples z_i = μ + σ ⊙ ε_i from q(z|x) and weigh each by
//
//   log w_i = log p(x|z_i, c) + log p(z_i|c) − log q(z_i|x, c),
//
//   L_k(x) = log (1/k) Σ_i w_i  (log_mean_exp over i),    ELBO = L_1 ≤ L_k ≤ L_{k+1} ≤ log p(x).
//
// The encoder runs once on x:[B, D]; the k·B samples are decoded as one [k·B, Z] batch (one GEMM per
// layer); x broadcasts against the [k, B, D] decoder output, so it is never copied k times.
// Written on the latent-model interface: the same bound trains a VAE and a CVAE (c given).
#pragma once

#include "models/latent.hpp"

namespace lz {

// The importance weights, written once: log w = log p(x|z, c) + log p(z|c) − log q(z|x, c) for z
// drawn from q = encode(x, c). `log_lik`, when given, is log p(x|z, c) computed already (the
// evaluator also reports it as the reconstruction term).
template <typename T>
Var<T> log_importance_weights(LatentModel<T>& model, const DiagGaussian<T>& q, const Var<T>& x, const Var<T>& z,
                              const Var<T>& c = {}, const Var<T>& log_lik = {});

// log w:[k, B] for eps:[k, B, Z]. At k = 1 its mean is the ELBO estimated entirely by sampling
// (unbiased, noisier than the analytic KL of models/latent.hpp's elbo).
template <typename T>
Var<T> iwae_log_weights(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c = {});

// L_k(x):[B] = log_mean_exp over the k samples of eps:[k, B, Z].
template <typename T>
Var<T> iwae_bound(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c = {});

// The training loss −mean_B L_k(x). With k = 1 this is −mean(iwae_log_weights) with the same ε.
template <typename T>
Var<T> iwae_loss(LatentModel<T>& model, const Var<T>& x, const Tensor<T>& eps, const Var<T>& c = {});

}  // namespace lz
