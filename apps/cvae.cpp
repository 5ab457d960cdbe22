// cvae: the conditional VAE (models/vae.hpp given c) on the MNIST digits or Fashion-MNIST, under
// two conditions:
//   --condition label      c = the class (one-hot); x = the image. Samples per class, and the
//                          conditional log-likelihood log p(x|c) per class (importance sampled).
//   --condition quadrants  c = the observed quadrants (--quadrants 1, 2 or 3); x = the missing
//                          pixels (Pyro's CVAE task). A deterministic MLP baseline c -> Bernoulli
//                          logits of x trains beside the CVAE on the same batches (one module, two
//                          independent parameter sets: Adam is per-parameter, so this is exactly two
//                          separate trainings), and the two are compared on the negative conditional
//                          log-likelihood of the missing pixels, paired image by image.
//
//   build/bin/cvae --data digits --condition quadrants --quadrants 1 --epochs 30 --out runs/cvae-q1
#include <cmath>
#include <cstdio>

#include "models/evaluate.hpp"
#include "models/iwae.hpp"
#include "models/vae.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "tensor/math.hpp"
#include "train/batch.hpp"
#include "train/flags.hpp"
#include "train/image_data.hpp"
#include "train/png.hpp"
#include "train/sizes.hpp"
#include "train/trainer.hpp"

using namespace lz;
using json = nlohmann::json;

namespace {

constexpr int64_t kMaxLayerSize = int64_t(1) << 16;

// The CVAE and, for the quadrant task, the baseline regression, trained as one module.
class CvaeAndBaseline : public Module<float> {
 public:
  CvaeAndBaseline(const VaeConfig& cfg, const std::vector<int64_t>& baseline_hidden, bool with_baseline, Rng& rng) {
    cvae = register_module("cvae", std::make_shared<VAE<float>>(cfg, rng));
    if (with_baseline) {
      std::vector<int64_t> sizes{cfg.c_dim};
      sizes.insert(sizes.end(), baseline_hidden.begin(), baseline_hidden.end());
      sizes.push_back(cfg.x_dim);
      baseline = register_module("baseline", std::make_shared<MLP<float>>(sizes, parse_activation(cfg.activation), rng));
    }
  }
  std::string describe() const override { return cvae->describe() + (baseline ? " + baseline MLP" : ""); }
  // log p(x|c) of the baseline: independent Bernoulli pixels with logits from c -> [B].
  Var<float> baseline_log_prob(const Var<float>& x, const Var<float>& c) {
    return Bernoulli<float>{baseline->forward(c)}.log_prob(x);
  }

  std::shared_ptr<VAE<float>> cvae;
  std::shared_ptr<MLP<float>> baseline;
};

// What the model sees of a batch of (binary) images: x the target, c the condition.
struct Task {
  std::string condition;
  QuadrantSplit split;
  int64_t classes = 0;

  std::pair<TensorF, TensorF> xc(const TensorF& images, const std::vector<int64_t>& labels) const {
    if (condition == "label") return {images, one_hot(labels, classes)};
    return {select_columns(images, split.missing), select_columns(images, split.seen)};
  }
};

TensorF decode_mean(VAE<float>& m, const TensorF& z, const TensorF& c) {
  NoGrad ng;
  return m.mean_of_output(m.decode(VarF(z), VarF(c)));
}

// One row per class, `per` samples each: z ~ p(z|c), decoder means.
void write_class_samples(VAE<float>& m, int64_t classes, int64_t h, int64_t w, const std::string& path, Rng& rng) {
  const int64_t per = 10;
  std::vector<int64_t> labels;
  for (int64_t k = 0; k < classes; ++k)
    for (int64_t i = 0; i < per; ++i) labels.push_back(k);
  const TensorF c = one_hot(labels, classes);
  const TensorF z = m.sample_prior(1, rng, VarF(c)).reshape({classes * per, m.z_dim()});
  write_png(path, image_grid(decode_mean(m, z, c), h, w, per, 2, 2));
}

// For each of `n` test images, one row: the observed part (missing pixels dark grey, unlike the padding), the truth, the
// baseline's mean, then `samples` CVAE completions with z ~ p(z|c) (decoder means).
void write_completions(CvaeAndBaseline& m, const Task& t, const TensorF& images, int64_t n, int64_t samples,
                       const std::string& path, Rng& rng) {
  NoGrad ng;
  const int64_t D = images.size(1), cols = 3 + samples;
  const TensorF x = narrow(images, 0, 0, n);
  const auto [target, c] = t.xc(x, {});
  const TensorF grey = scatter_columns(x, TensorF::full({n, static_cast<int64_t>(t.split.missing.size())}, 0.3f), t.split.missing);
  const TensorF base = scatter_columns(x, lz::map(m.baseline->forward(VarF(c)).value(), [](auto l) { return math::sigmoid(l); }), t.split.missing);
  std::vector<TensorF> draws;
  for (int64_t s = 0; s < samples; ++s) {
    const TensorF z = m.cvae->sample_prior(1, rng, VarF(c)).reshape({n, m.cvae->z_dim()});
    draws.push_back(scatter_columns(x, decode_mean(*m.cvae, z, c), t.split.missing));
  }
  TensorF grid({n * cols, D});
  for (int64_t i = 0; i < n; ++i) {
    const TensorF* row[3] = {&grey, &x, &base};
    for (int64_t j = 0; j < cols; ++j) {
      const TensorF& src = j < 3 ? *row[j] : draws[j - 3];
      for (int64_t d = 0; d < D; ++d) grid[(i * cols + j) * D + d] = src[i * D + d];
    }
  }
  write_png(path, image_grid(grid, t.split.h, t.split.w, cols, 2, 2));
}

json mean_se_json(const std::vector<double>& v) {
  const MeanSe s = mean_se(v);
  return {{"mean", s.mean}, {"se", s.se}, {"n", s.n}};
}

int run(int argc, char** argv) {
  std::string data = "digits", data_dir, condition = "label", arch = "256,256", prior_arch = "256", act = "tanh",
              prior = "learned";
  int64_t latent = 16, quadrants = 1, k = 1, batch = 100, warmup = 0, eval_k = 100, eval_n = 1000;
  double lr = 1e-3, beta = 1.0;
  TrainerOptions to{.label = "cvae", .epochs = 20, .batch = 100, .log_every = 100};
  Flags flags("cvae: a conditional VAE on images given a label or observed quadrants", "cvae");
  flags.add("--data", data, "data set")->check(CLI::IsMember({"fashion", "digits"}));
  flags.add("--data-dir", data_dir, "folder of the data (default: the data set's own)");
  flags.add("--condition", condition, "label: c = the class; quadrants: c = the observed quadrants")
      ->check(CLI::IsMember({"label", "quadrants"}));
  flags.add("--quadrants", quadrants, "observed quadrants (bottom-left, then bottom-right, then top-right)")
      ->check(CLI::Range(1, 3));
  flags.add("--arch", arch, "hidden sizes of the encoder (the decoder mirrors them; the baseline uses them too)");
  flags.add("--prior", prior, "learned: p(z|c) a network of c; standard: N(0, I)")
      ->check(CLI::IsMember({"learned", "standard"}));
  flags.add("--prior-arch", prior_arch, "hidden sizes of the prior network");
  flags.add("--latent", latent, "latent dimensions Z")->check(CLI::Range(1, 4096));
  flags.add("--act", act, "activation")->check(CLI::IsMember({"tanh", "relu"}));
  flags.add("--k", k, "importance samples per example in training (1 = ELBO, >1 = IWAE bound)")->check(CLI::Range(1, 100000));
  flags.add("--epochs", to.epochs, "passes over the training set")->check(CLI::Range(int64_t(1), int64_t(100000)));
  flags.add("--batch", batch, "minibatch size")->check(CLI::Range(1, 100000));
  flags.add("--lr", lr, "Adam learning rate")->check(CLI::Range(1e-8, 10.0));
  flags.add("--beta", beta, "KL weight")->check(CLI::Range(0.0, 1e6));
  flags.add("--warmup", warmup, "KL warm-up steps (beta ramps from 0)")->check(CLI::Range(0, 100000000));
  flags.add("--eval-k", eval_k, "importance samples for test log p(x|c)")->check(CLI::Range(1, 1000000));
  flags.add("--eval-n", eval_n, "test points for log p(x|c) (0 = all)")->check(CLI::Range(0, 1000000));
  flags.add("--log-every", to.log_every, "steps between metrics.jsonl records")->check(CLI::Range(int64_t(1), int64_t(1000000)));
  flags.add("--checkpoint-every", to.checkpoint_every, "steps between checkpoints inside an epoch (0: epoch ends only)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  flags.enable_resume({"epochs", "checkpoint-every", "eval-k", "eval-n"});
  if (auto rc = flags.parse(argc, argv)) return *rc;
  to.batch = batch;
  if (warmup > 0 || beta != 1.0) to.weight_at = [&](int64_t step) { return kl_weight(step, warmup, beta); };

  auto [train, test] = load_image_data(data, data_dir);
  if (train.image_h * train.image_w != train.dim())
    throw std::invalid_argument("cvae: " + data + " is not an image data set (no height and width)");
  Task task{condition, {}, train.num_classes};
  if (condition == "label" && !train.labelled()) throw std::invalid_argument("cvae: --condition label needs labels");
  if (condition == "quadrants") task.split = quadrant_split(train.image_h, train.image_w, quadrants);
  // The test set is binarised once, independently of --seed, so runs are scored on the same images.
  Rng test_rng(20160901);
  const TensorF test_bin = binarize(test.x, test_rng);

  VaeConfig cfg;
  cfg.hidden = parse_size_list("--arch", arch, kMaxLayerSize);
  cfg.prior_hidden = parse_size_list("--prior-arch", prior_arch, kMaxLayerSize);
  cfg.z_dim = latent;
  cfg.activation = act;
  cfg.learned_prior = prior == "learned";
  cfg.x_dim = condition == "label" ? train.dim() : static_cast<int64_t>(task.split.missing.size());
  cfg.c_dim = condition == "label" ? train.num_classes : static_cast<int64_t>(task.split.seen.size());
  Rng rng(flags.seed);
  const bool with_baseline = condition == "quadrants";
  CvaeAndBaseline model(cfg, cfg.hidden, with_baseline, rng);
  VAE<float>& cvae = *model.cvae;
  Adam<float> opt(model, AdamOptions{.lr = lr});
  RunDir run(flags.out, flags.resuming() ? RunMode::Resume : RunMode::Create);
  const json config = flags.run_config();
  Trainer<float> trainer(model, opt, rng, to, &run, config);
  if (flags.resuming()) trainer.resume(flags.resume_checkpoint, train.size());
  run.write_config(config);
  std::fprintf(stderr, "CVAE (%s): %s, %lld parameters, %lld train / %lld test, run folder %s\n", condition.c_str(),
               model.describe().c_str(), static_cast<long long>(model.num_parameters()),
               static_cast<long long>(train.size()), static_cast<long long>(test.size()), run.path().c_str());

  const TensorF xe_all = narrow(test_bin, 0, 0, std::min<int64_t>(1000, test.size()));
  const std::vector<int64_t> ye_all(test.y.begin(), test.y.begin() + xe_all.size(0));
  const TrainResult tr = trainer.fit(
      train.size(),
      [&](const std::vector<int64_t>& rows, const StepContext& ctx) {
        const Batch b = make_batch(train, rows);
        const auto [x, c] = task.xc(binarize(b.x, rng), b.y);
        const int64_t B = x.size(0);
        Var<float> loss = k == 1 ? elbo_loss(cvae, VarF(x), standard_normal<float>({B, latent}, rng),
                                             static_cast<float>(ctx.weight), VarF(c))
                                 : iwae_loss(cvae, VarF(x), standard_normal<float>({k, B, latent}, rng), VarF(c));
        if (with_baseline) loss = loss - mean(model.baseline_log_prob(VarF(x), VarF(c)));
        return loss;
      },
      [&](int64_t) {
        NoGrad ng;
        const auto [x, c] = task.xc(xe_all, ye_all);
        const ElboTerms<float> t = elbo(cvae, VarF(x), standard_normal<float>({x.size(0), latent}, rng), VarF(c));
        json r{{"test_elbo", lz::mean(t.elbo).item()}};
        if (with_baseline) r["test_baseline_log_prob"] = lz::mean(model.baseline_log_prob(VarF(x), VarF(c))).item();
        return r;
      });
  if (tr.interrupted()) return tr.exit_code;

  // ---- evaluation: log p(x|c) by importance sampling (k = --eval-k), with standard errors ----
  const int64_t n_eval = eval_n == 0 ? test.size() : std::min(eval_n, test.size());
  const TensorF xt = narrow(test_bin, 0, 0, n_eval);
  const std::vector<int64_t> yt(test.y.begin(), test.y.begin() + n_eval);
  const auto [x, c] = task.xc(xt, yt);
  std::fprintf(stderr, "estimating log p(x|c) on %lld test points with k = %lld...\n", static_cast<long long>(n_eval),
               static_cast<long long>(eval_k));
  const BoundEstimates e = estimate_bounds(cvae, x, eval_k, {1}, rng, 8192, VarF(c));
  json summary = {{"model", "CVAE"}, {"condition", condition}, {"data", data}, {"steps", tr.steps},
                  {"epochs", tr.epochs_done}, {"describe", model.describe()}, {"parameters", model.num_parameters()},
                  {"train_seconds", tr.train_seconds}, {"eval_points", n_eval}, {"eval_k", eval_k},
                  {"log_px_given_c", mean_se_json(e.log_px)}, {"elbo", mean_se_json(e.elbo)},
                  {"kl", mean_se_json(e.kl)}};
  if (condition == "label") {
    json per_class = json::array();
    std::printf("class  log p(x|c)          ELBO\n");
    for (int64_t cl = 0; cl < train.num_classes; ++cl) {
      std::vector<double> lp, el;
      for (int64_t n = 0; n < n_eval; ++n)
        if (yt[n] == cl) lp.push_back(e.log_px[n]), el.push_back(e.elbo[n]);
      const MeanSe s = mean_se(lp), b = mean_se(el);
      std::printf("%5lld  %8.2f +- %5.2f  %8.2f\n", static_cast<long long>(cl), s.mean, s.se, b.mean);
      per_class.push_back({{"class", cl}, {"log_px_given_c", mean_se_json(lp)}, {"elbo", mean_se_json(el)}});
    }
    summary["per_class"] = per_class;
    write_class_samples(cvae, train.num_classes, train.image_h, train.image_w, run.file("samples.png"), rng);
  } else {
    NoGrad ng;
    const Tensor<float> bl = model.baseline_log_prob(VarF(x), VarF(c)).value();
    std::vector<double> cvae_nll(n_eval), base_nll(n_eval), diff(n_eval);
    for (int64_t n = 0; n < n_eval; ++n) {
      cvae_nll[n] = -e.log_px[n];
      base_nll[n] = -static_cast<double>(bl[n]);
      diff[n] = base_nll[n] - cvae_nll[n];
    }
    const MeanSe d = mean_se(diff), cv = mean_se(cvae_nll), bs = mean_se(base_nll);
    summary["quadrants"] = quadrants;
    summary["cvae_nll"] = mean_se_json(cvae_nll);
    summary["baseline_nll"] = mean_se_json(base_nll);
    summary["baseline_minus_cvae"] = mean_se_json(diff);
    summary["cvae_beats_baseline"] = d.mean > 2 * d.se;
    std::printf("missing pixels given %lld quadrant(s): baseline %.2f +- %.2f, CVAE %.2f +- %.2f nats; "
                "baseline - CVAE %.2f +- %.2f (paired)\n",
                static_cast<long long>(quadrants), bs.mean, bs.se, cv.mean, cv.se, d.mean, d.se);
    write_completions(model, task, xt, 8, 5, run.file("completions.png"), rng);
  }
  run.write_summary(summary);
  const MeanSe lp = mean_se(e.log_px);
  std::printf("test log p(x|c) (k=%lld, %lld points): %.2f +- %.2f nats; %s\n", static_cast<long long>(eval_k),
              static_cast<long long>(n_eval), lp.mean, lp.se, run.path().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return guarded_main([&] { return run(argc, argv); });
}
