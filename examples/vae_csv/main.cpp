// vae_csv: train a VAE with a Gaussian decoder on the numeric columns of a CSV and print its test
// ELBO, using latentzoo as an installed CMake package (find_package(latentzoo), latentzoo::models).
//   vae_csv TRAIN.csv TEST.csv [EPOCHS]
// The columns are standardised with the training set's means and deviations. Exits 1 (with the
// reader's message, which names the file and line) on a bad file, and 1 unless the trained model's
// test ELBO beats the exact test log-likelihood of N(0, I) on the standardised data (the best a
// model that ignores its latent can reach) by 0.1 nats per example.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "datasets/csv.hpp"
#include "datasets/dataset.hpp"
#include "models/distributions.hpp"
#include "models/latent.hpp"
#include "models/vae.hpp"
#include "nn/optim.hpp"

using namespace lz;

// The test ELBO in nats per example (one reparameterised sample per example, fixed seed).
static double test_elbo(VAE<float>& vae, const TensorF& x) {
  NoGrad ng;
  Rng rng(7);
  return mean(elbo(vae, VarF(x), standard_normal<float>({x.size(0), vae.z_dim()}, rng)).elbo).item();
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s TRAIN.csv TEST.csv [EPOCHS]\n", argv[0]);
    return 2;
  }
  try {
    const Dataset train = load_csv(argv[1]), test = load_csv(argv[2]);
    if (test.dim() != train.dim()) {
      std::fprintf(stderr, "vae_csv: %s has %lld columns, expected %lld as in %s\n", argv[2],
                   static_cast<long long>(test.dim()), static_cast<long long>(train.dim()), argv[1]);
      return 1;
    }
    const int epochs = argc == 4 ? std::atoi(argv[3]) : 30;
    const Standardiser st = Standardiser::fit(train.x);
    const TensorF xtr = st.apply(train.x), xte = st.apply(test.x);

    Rng rng(1);
    VaeConfig cfg;
    cfg.x_dim = train.dim(), cfg.hidden = {64, 64}, cfg.z_dim = 2, cfg.activation = "tanh";
    cfg.likelihood = VaeLikelihood::Gaussian;
    // The decoder's variance starts small (σ² = e⁻²): started at 1, it explains the standardised data
    // as noise alone and the encoder is never used (the ELBO stays at N(0, I)'s log-likelihood).
    cfg.init_logvar = -2.0;
    VAE<float> vae(cfg, rng);
    const double before = test_elbo(vae, xte);

    Adam<float> opt(vae, AdamOptions{.lr = 3e-3});
    const int64_t n = train.size(), d = train.dim(), batch = 100;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      const std::vector<int64_t> order = permutation(n, rng);
      for (int64_t start = 0; start + batch <= n; start += batch) {
        std::vector<float> rows;
        for (int64_t i = start; i < start + batch; ++i)
          for (int64_t j = 0; j < d; ++j) rows.push_back(xtr[order[i] * d + j]);
        const VarF xb(TensorF::from(rows, {batch, d}));
        const VarF loss = -mean(elbo(vae, xb, standard_normal<float>({batch, cfg.z_dim}, rng)).elbo);
        vae.zero_grad();
        loss.backward();
        opt.step();
      }
    }
    const double after = test_elbo(vae, xte);
    double gauss = 0;  // mean over test rows of log N(x; 0, I)
    for (int64_t i = 0; i < xte.numel(); ++i) gauss -= 0.5 * (std::log(2 * M_PI) + xte[i] * xte[i]);
    gauss /= static_cast<double>(test.size());
    std::printf("vae_csv: %s, %lld test rows: test ELBO %.3f nats per example (untrained %.3f, N(0, I) %.3f)\n",
                vae.describe().c_str(), static_cast<long long>(test.size()), after, before, gauss);
    return after > gauss + 0.1 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vae_csv: %s\n", e.what());
    return 1;
  }
}
