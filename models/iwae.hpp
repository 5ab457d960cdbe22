// The importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016): the VAE's networks with a
// tighter bound. Draw k samples z_i = μ + σ ⊙ ε_i from q(z|x) and weigh each by
//
//   log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x),
//
//   L_k(x) = log (1/k) Σ_i w_i  (log_mean_exp over i),    ELBO = L_1 ≤ L_k ≤ L_{k+1} ≤ log p(x).
//
// The encoder runs once on x:[B, D]; the k·B samples are decoded as one [k·B, Z] batch (one GEMM per
// layer); x broadcasts against the [k, B, D] decoder output, so it is never copied k times.
#pragma once

#include "models/vae.hpp"

namespace lz {

// log w:[k, B] for eps:[k, B, Z].
template <typename T>
Var<T> iwae_log_weights(VAE<T>& model, const Var<T>& x, const Tensor<T>& eps);

// L_k(x):[B] = log_mean_exp over the k samples of eps:[k, B, Z].
template <typename T>
Var<T> iwae_bound(VAE<T>& model, const Var<T>& x, const Tensor<T>& eps);

// The training loss −mean_B L_k(x). With k = 1 this is −mean(elbo_sampled_kl) with the same ε.
template <typename T>
Var<T> iwae_loss(VAE<T>& model, const Var<T>& x, const Tensor<T>& eps);

}  // namespace lz
