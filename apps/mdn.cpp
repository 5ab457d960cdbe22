// mdn: a mixture-density network against unimodal Gaussian regression on Bishop's inverted sine
// (y ~ U(0,1), x = y + 0.3 sin 2πy + U(−0.1, 0.1); predict y from x, three-valued in the middle).
//
//   mdn                                   M = 5, 64-64 tanh, Adam 3e-3 annealed by a half cosine, 100 epochs
//   mdn --components 3 --hidden 32 --epochs 50
//   mdn --resume runs/x --epochs 200      (continue a run, here for more epochs)
//
// Both models are the same class (models/mdn.hpp) and differ only in M: the MDN with --components,
// the unimodal baseline with M = 1. They are trained side by side as one module (children "mdn"
// and "unimodal") on the same minibatches with the loss NLL_mdn + NLL_unimodal: their parameters
// are disjoint and Adam is per parameter, so each gets exactly the updates it would get alone, and
// the one trainer gives both one checkpoint and one resume.
//
// Writes into --out: config.json, metrics.jsonl (the summed train NLL every --log-every steps,
// both test NLLs after each epoch), checkpoint.safetensors, summary.json (test NLL of each in nats
// per example ± standard error, and their paired difference ± its standard error), test_nll.png,
// and density.png: the MDN's p(y | x) as a heatmap under the training points, with the unimodal
// regression's mean E[y | x] running between the branches.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/flags.hpp"
#include "cli/memory.hpp"
#include "cli/sizes.hpp"
#include "datasets/batch.hpp"
#include "datasets/toy.hpp"
#include "models/evaluate.hpp"
#include "models/mdn.hpp"
#include "nn/optim.hpp"
#include "nn/schedule.hpp"
#include "plot/pictures.hpp"
#include "plot/plot.hpp"
#include "plot/plot2d.hpp"
#include "train/page.hpp"
#include "train/trainer.hpp"

using namespace lz;

namespace {

// Column `col` of the toy's (x, y) rows, for the given rows, as [rows, 1].
TensorF column(const TensorF& xy, int64_t col, const std::vector<int64_t>& rows) {
  TensorF out({static_cast<int64_t>(rows.size()), 1});
  for (size_t i = 0; i < rows.size(); ++i) out[static_cast<int64_t>(i)] = xy[2 * rows[i] + col];
  return out;
}
std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r[static_cast<size_t>(i)] = i;
  return r;
}

void draw_density(MDN<float>& mdn, MDN<float>& unimodal, const Dataset& train, const RunDir& run) {
  if (!have_gnuplot()) return;  // plot_metrics has said so
  const Box2 box = bounding_box(train.x, 0.04);
  const int64_t nx = 300, ny = 240;
  const double dx = (box.xmax - box.xmin) / nx, dy = (box.ymax - box.ymin) / ny;
  // p(y_r | x_k) at every cell centre, row 0 at the top: the network once on the nx column
  // centres, its mixtures scoring the grid as a leading axis of ny values, y:[ny, nx, 1] -> [ny, nx].
  TensorF xs({nx, 1}), y({ny, nx, 1});
  for (int64_t k = 0; k < nx; ++k) xs[k] = static_cast<float>(box.xmin + (static_cast<double>(k) + 0.5) * dx);
  for (int64_t r = 0; r < ny; ++r)
    for (int64_t k = 0; k < nx; ++k) y[r * nx + k] = static_cast<float>(box.ymax - (static_cast<double>(r) + 0.5) * dy);
  TensorF density = [&] {
    NoGrad ng;
    return mdn.distribution(VarF(xs)).log_prob(VarF(y)).value();
  }();
  for (int64_t i = 0; i < density.numel(); ++i) density[i] = std::exp(density[i]);
  // The true p(y | x) is about 14 on the outer branches (steep in x) against 2 on each of the three
  // middle ones: clip the colour scale at the 80th percentile of the cells holding mass, so the
  // middle stays visible.
  std::vector<float> held;
  for (int64_t i = 0; i < density.numel(); ++i)
    if (density[i] > 0.5f) held.push_back(density[i]);
  double cb_max = 0;  // 0: the plot's own maximum
  if (!held.empty()) {
    std::nth_element(held.begin(), held.begin() + held.size() * 80 / 100, held.end());
    cb_max = held[held.size() * 80 / 100];
  }

  const TensorF m = unimodal.mean(xs);
  Curve mean_line{.title = "unimodal regression (M = 1): mean E[y | x]", .x = {}, .y = {}, .colour = "#00e5ff"};
  for (int64_t k = 0; k < nx; ++k) mean_line.x.push_back(xs[k]), mean_line.y.push_back(m[k]);

  const int64_t shown = std::min<int64_t>(train.size(), 800);
  TensorF pts({shown, 2});
  std::copy(train.x.data(), train.x.data() + 2 * shown, pts.data());
  plot_heatmap_with_overlays(density, box, pts, {mean_line}, run.file("density.png"),
                             "inverted sine: the MDN's p(y | x) (M = " + std::to_string(mdn.components()) +
                                 ") keeps the three branches; the unimodal mean jumps between them",
                             "x (input)", "y (target)", "MDN density p(y | x)",
                             std::to_string(shown) + " training points", cb_max);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags("mdn: a mixture-density network and unimodal Gaussian regression on Bishop's inverted sine", "mdn");
  std::string hidden_text = "64,64", act = "tanh";
  int64_t components = 5, n_train = 4000, n_test = 2000, batch = 100;
  uint64_t data_seed = 0;
  double lr = 3e-3, noise = 0.1, min_scale = MixtureOfDiagGaussians<double>::kDefaultMinScale, minutes = 0;
  bool cosine = true;
  TrainerOptions to{.label = "mdn", .epochs = 100, .batch = 100, .log_every = 100};
  flags.add("--components", components, "mixture components M of the MDN (1: the unimodal regression itself)")
      .check(Range(int64_t(1), int64_t(1000)));
  flags.add("--hidden", hidden_text, "hidden widths of both networks' MLPs, comma-separated");
  flags.add("--act", act, "activation between the layers")
      .check(OneOf({"tanh", "relu", "sigmoid", "softplus", "leaky_relu", "identity"}));
  flags.add("--min-scale", min_scale, "the scale floor of every component, in y's units").check(Range(0.0, 1.0));
  flags.add("--n-train", n_train, "training points").check(Range(int64_t(2), int64_t(1) << 26));
  flags.add("--n-test", n_test, "test points").check(Range(int64_t(2), int64_t(1) << 26));
  flags.add("--noise", noise, "half-width of the uniform noise on x").check(Range(0.0, 10.0));
  flags.add("--data-seed", data_seed, "seed of the data (fixed, so test sets are comparable across runs)");
  flags.add("--epochs", to.epochs, "passes over the training set").check(Range(int64_t(1), int64_t(1000000)));
  flags.add("--batch", batch, "minibatch size").check(Range(int64_t(1), int64_t(1) << 20));
  flags.add("--lr", lr, "Adam learning rate").check(LearningRateRange());
  flags.flag("--cosine", cosine, "anneal the learning rate to 0 over the run by a half cosine (else constant)");
  flags.add("--log-every", to.log_every, "steps between metrics.jsonl records").check(Range(int64_t(1), int64_t(1) << 30));
  flags.add("--checkpoint-every", to.checkpoint_every, "steps between checkpoints inside an epoch (0: epoch ends only)")
      .check(Range(int64_t(0), int64_t(1) << 40));
  flags.add("--time-budget", minutes, "stop training after this many minutes, with a checkpoint (0 = no limit)")
      .check(Range(0.0, 1e6));
  flags.enable_resume({"epochs", "time-budget", "checkpoint-every"});
  if (auto rc = flags.parse(argc, argv)) return *rc;
  to.batch = batch;
  to.time_budget_seconds = 60 * minutes;
  // The schedule's length is the run's (a resume with more --epochs stretches what is left of it).
  const CosineAnnealingLR schedule(lr, std::max<int64_t>(1, to.epochs * batches_per_epoch(n_train, batch)));
  if (cosine) to.lr_at = [&schedule](int64_t step) { return schedule(step - 1); };

  return guarded_main([&] {
    MdnConfig cfg{.condition_dim = 1,
                  .target_dim = 1,
                  .components = components,
                  .hidden = parse_size_list("--hidden", hidden_text, 1 << 16),
                  .activation = act,
                  .min_scale = min_scale};
    // Both networks (M components, and the unimodal M = 1), before either is allocated; the test
    // set is scored in one pass.
    NetworkSize nets = mlp_size(1, cfg.hidden, 3 * components);
    nets += mlp_size(1, cfg.hidden, 3);
    check_fits_in_memory("--hidden", hidden_text, nets, batch, std::max<int64_t>(n_test, 300));
    Rng data_rng(data_seed);
    const Dataset train = inverted_sine(n_train, data_rng, noise), test = inverted_sine(n_test, data_rng, noise);
    const std::vector<int64_t> test_rows = all_rows(test.size());
    const TensorF test_x = column(test.x, 0, test_rows), test_y = column(test.x, 1, test_rows);

    Rng rng(flags.seed);
    Module<float> both;
    auto mdn = both.register_module("mdn", std::make_shared<MDN<float>>(cfg, rng));
    cfg.components = 1;
    auto unimodal = both.register_module("unimodal", std::make_shared<MDN<float>>(cfg, rng));
    Adam<float> opt(both, AdamOptions{.lr = lr});

    RunDir run(flags.out, flags.resuming() ? RunMode::Resume : RunMode::Create);
    const nlohmann::json config = flags.run_config();
    Trainer<float> trainer(both, opt, rng, to, &run, config);
    if (flags.resuming()) trainer.resume(flags.resume_checkpoint, train.size());
    run.write_config(config);
    RunPage page(run, "mdn");  // index.html, however the run ends (train/page.hpp)
    std::fprintf(stderr, "mdn: inverted sine, %ld train / %ld test, %s (%ld parameters) and %s (%ld) -> %s\n",
                 long(train.size()), long(test.size()), mdn->describe().c_str(), long(mdn->num_parameters()),
                 unimodal->describe().c_str(), long(unimodal->num_parameters()), run.path().c_str());

    // Per-example test NLLs of both models, then their means, the standard errors and the paired
    // difference (one test set: the paired standard error is the one that says whether M matters).
    struct TestNll {
      MeanEstimate mdn, unimodal, difference;
    };
    auto test_nll = [&] {
      std::vector<double> a = mdn->log_prob_values(test_x, test_y), b = unimodal->log_prob_values(test_x, test_y), d(a.size());
      for (size_t i = 0; i < a.size(); ++i) a[i] = -a[i], b[i] = -b[i], d[i] = b[i] - a[i];
      return TestNll{estimate_mean(a), estimate_mean(b), estimate_mean(d)};
    };
    const TrainResult r = trainer.fit(
        train.size(),
        [&](const std::vector<int64_t>& rows, const StepContext&) {
          const VarF c(column(train.x, 0, rows)), y(column(train.x, 1, rows));
          return add(mdn->loss(c, y), unimodal->loss(c, y));
        },
        [&](int64_t) {
          const TestNll e = test_nll();
          return nlohmann::json{{"test_nll_mdn", e.mdn.mean}, {"test_nll_unimodal", e.unimodal.mean}};
        });
    if (r.interrupted()) return r.exit_code;

    const TestNll e = test_nll();
    run.write_summary({{"data", "inverted_sine"},
                       {"components", components},
                       {"test_nll_mdn", e.mdn.mean},
                       {"test_nll_mdn_se", e.mdn.se},
                       {"test_nll_unimodal", e.unimodal.mean},
                       {"test_nll_unimodal_se", e.unimodal.se},
                       {"test_nll_difference", e.difference.mean},
                       {"test_nll_difference_se", e.difference.se},
                       {"difference", "unimodal minus mdn, per test example (paired)"},
                       {"units", "nats per example (density of y given x)"},
                       {"train_loss_last_epoch", r.last_epoch_loss},
                       {"epochs", r.epochs_done},
                       {"steps", r.steps},
                       {"stopped_by", r.stopped},
                       {"parameters_mdn", mdn->num_parameters()},
                       {"parameters_unimodal", unimodal->num_parameters()},
                       {"train_size", train.size()},
                       {"test_size", test.size()},
                       {"train_seconds", r.train_seconds},
                       {"checkpoint", "checkpoint.safetensors"}});
    // Each picture on its own: one that fails stops none of the others, and makes the exit code 1
    // once the rest is written (plot/pictures.hpp). Under MPI rank 0 draws.
    Pictures pictures;
    if (run.writer()) {
      pictures.draw("test_nll.png", [&] {
        PlotOptions po;
        po.x_key = "epoch";
        po.title = "inverted sine: test negative log-likelihood of y given x (nats per example)";
        plot_metrics(run.file("metrics.jsonl"), {"test_nll_mdn", "test_nll_unimodal"}, run.file("test_nll.png"), po);
      });
      pictures.draw("density.png", [&] { draw_density(*mdn, *unimodal, train, run); });
    }
    std::printf("test NLL: MDN (M = %ld) %.4f ± %.4f, unimodal %.4f ± %.4f nats; unimodal − MDN %.4f ± %.4f (%ld epochs, %.1f s)\n",
                long(components), e.mdn.mean, e.mdn.se, e.unimodal.mean, e.unimodal.se, e.difference.mean, e.difference.se,
                long(r.epochs_done), r.train_seconds);
    return pictures.exit_code();
  });
}
