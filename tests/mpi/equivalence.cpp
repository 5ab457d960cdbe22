// lz_mpi_equivalence: train a small VAE, IWAE or MLP classifier for a fixed number of steps through
// the trainer, in float or double, and (rank 0) write the final flat parameter buffer as raw
// numbers to --params. tests/apps/test_mpi.cpp runs it as one process and under mpirun -np 2 and
// compares the buffers: the data-parallel loop must train the model one process trains.
//
//   lz_mpi_equivalence --model vae|iwae|mlp --dtype float|double --batch B --steps S --params FILE
//
// Synthetic data (seeded, no files): 20 "pixels" in [0,1] and a 3-class label per row; the VAE
// and IWAE binarise them dynamically, so both kinds of per-example noise (train/noise.hpp) count.
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "autodiff/ops.hpp"
#include "cli/flags.hpp"
#include "models/iwae.hpp"
#include "models/vae.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "train/distributed.hpp"
#include "train/noise.hpp"
#include "train/trainer.hpp"

using namespace lz;

namespace {

template <typename T>
int train(const std::string& model_name, int64_t batch, int64_t steps, const std::string& out) {
  constexpr int64_t D = 20, classes = 3;
  const int64_t n = 10 * batch;  // 10 batches an epoch: `steps` crosses an epoch's end (a fresh order)
  Rng data(11);
  Tensor<T> x = Tensor<T>::empty({n, D});
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    y[size_t(i)] = int64_t(data.below(classes));
    for (int64_t j = 0; j < D; ++j) x[i * D + j] = static_cast<T>((data.uniform() + double(j % (y[size_t(i)] + 2))) / 4);
  }
  auto rows_of = [&](const std::vector<int64_t>& rows) {
    Tensor<T> b = Tensor<T>::empty({int64_t(rows.size()), D});
    for (size_t r = 0; r < rows.size(); ++r)
      for (int64_t j = 0; j < D; ++j) b[int64_t(r) * D + j] = x[rows[r] * D + j];
    return b;
  };

  Rng rng(3);
  TrainerOptions to{.label = "equivalence", .epochs = steps / 10, .batch = batch, .log_every = 1000};
  Tensor<T> params;
  auto run = [&](Module<T>& model, const typename Trainer<T>::LossFn& loss) {
    Adam<T> opt(model, AdamOptions{.lr = 3e-3});
    Trainer<T> trainer(model, opt, rng, to);
    trainer.fit(n, loss);
    params = model.flat_parameters();
  };
  if (model_name == "mlp") {
    MLP<T> mlp({D, 16, classes}, Activation::Tanh, rng);
    run(mlp, [&](const std::vector<int64_t>& rows, const StepContext&) {
      std::vector<int64_t> labels;
      for (int64_t r : rows) labels.push_back(y[size_t(r)]);
      return nll(log_softmax(mlp(Var<T>(rows_of(rows))), 1), labels);
    });
  } else {
    VaeConfig cfg;
    cfg.x_dim = D, cfg.hidden = {16}, cfg.z_dim = 3;
    VAE<T> vae(cfg, rng);
    const int64_t k = model_name == "iwae" ? 5 : 0;
    run(vae, [&](const std::vector<int64_t>& rows, const StepContext& ctx) {
      const Var<T> xb(example_binarize(rows_of(rows), ctx));
      const int64_t B = int64_t(rows.size());
      return k == 0 ? elbo_loss(vae, xb, example_normal<T>(ctx, B, cfg.z_dim))
                    : iwae_loss(vae, xb, example_normal<T>(ctx, B, cfg.z_dim, k));
    });
  }
  if (dist::is_root()) {
    std::ofstream f(out, std::ios::binary);
    f.write(reinterpret_cast<const char*>(params.data()), std::streamsize(sizeof(T) * size_t(params.numel())));
    if (!f) throw std::runtime_error("cannot write " + out);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags("lz_mpi_equivalence: a few trainer steps of a small model, final parameters to --params", "equivalence");
  std::string model = "vae", dtype = "double";
  int64_t batch = 15, steps = 20;
  std::string params;
  flags.add("--model", model, "vae, iwae or mlp").check(OneOf({"vae", "iwae", "mlp"}));
  flags.add("--dtype", dtype, "float or double").check(OneOf({"float", "double"}));
  flags.add("--batch", batch, "global batch size").check(Range(int64_t(1), int64_t(4096)));
  flags.add("--steps", steps, "optimizer steps (a multiple of 10)").check(Range(int64_t(10), int64_t(10000)));
  flags.add("--params", params, "file for the final parameters (raw float or double)");
  if (auto rc = flags.parse(argc, argv)) return *rc;
  return guarded_main([&] {
    if (params.empty() || steps % 10 != 0) throw std::invalid_argument("--params FILE is needed, and --steps a multiple of 10");
    return dtype == "double" ? train<double>(model, batch, steps, params) : train<float>(model, batch, steps, params);
  });
}
