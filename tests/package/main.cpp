// Uses the installed package as a user would: a gradient check of an op, and a small VAE whose ELBO
// is finite and below its IWAE bound. Prints "consumer: ok" and exits 0 only if every check holds.
#include <cmath>
#include <cstdio>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "models/iwae.hpp"
#include "models/latent.hpp"
#include "models/vae.hpp"
#include "tensor/rng.hpp"

int main() {
  using namespace lz;
  Rng rng(1);
  // gradcheck of softplus(x) * x in double: the engine's derivative against central differences.
  TensorD x0 = TensorD::empty({5});
  for (int64_t i = 0; i < 5; ++i) x0[i] = rng.normal();
  const auto r = gradcheck([](const std::vector<VarD>& v) { return sum(softplus(v[0]) * v[0]); }, {x0});
  if (!r.ok) {
    std::printf("consumer: gradcheck failed: %s\n", r.message.c_str());
    return 1;
  }
  // A 6-4-2 VAE on 8 binary rows: the ELBO (k = 1) must not exceed the IWAE bound at k = 50 on
  // average (Jensen), and both must be finite.
  VaeConfig cfg;
  cfg.x_dim = 6, cfg.hidden = {4}, cfg.z_dim = 2;
  VAE<double> vae(cfg, rng);
  TensorD x = TensorD::empty({8, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform() < 0.5 ? 0.0 : 1.0;
  NoGrad ng;
  const double e1 = mean(elbo(vae, VarD(x), standard_normal<double>({8, 2}, rng)).elbo).value()[0];
  const double l50 = mean(iwae_bound(vae, VarD(x), standard_normal<double>({50, 8, 2}, rng))).value()[0];
  if (!std::isfinite(e1) || !std::isfinite(l50) || !(e1 <= l50)) {
    std::printf("consumer: expected a finite ELBO <= L_50, got %g and %g\n", e1, l50);
    return 1;
  }
  std::printf("consumer: ok (ELBO %.3f <= L_50 %.3f)\n", e1, l50);
  return 0;
}
