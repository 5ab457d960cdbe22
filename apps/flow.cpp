// flow: a normalizing flow (RealNVP affine couplings, optional ActNorm and LU linear maps) fitted
// by exact maximum likelihood on a 2-D toy, a CSV file, or images: Fashion-MNIST or the digits
// projected on their leading principal components (--pca D), or all 784 pixels dequantised and
// logit-transformed, reported in bits per dimension (datasets/flow_data.hpp).
//
//   flow --data two_moons --couplings 8 --hidden 128,128 --epochs 20 --batch 256 --lr 1e-3
//   flow --data csv --csv points.csv --no-actnorm --lu
//   flow --data csv --csv train.csv --test-csv test.csv   (the user's own split; else a random fifth)
//   flow --data fashion --pca 16 --epochs 20
//   flow --data digits --couplings 6 --hidden 512 --epochs 10
//   flow --resume runs/x --epochs 40   (continue a run, here for more epochs)
//
// Writes into --out: config.json, metrics.jsonl (train NLL every --log-every steps, test mean
// log-likelihood after each epoch), checkpoint.safetensors (train/trainer.hpp), summary.json
// (test mean log-likelihood ± standard error in nats, and the base N(0, I)'s for comparison),
// loss.png, and for 2-D data density.png (the learned density beside the test data),
// samples.png and z.png (the test data pushed into z-space); for images samples.png, a grid of
// 64 samples (decoded from the principal components, or mapped back from logit space).
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <optional>

#include "cli/flags.hpp"
#include "cli/memory.hpp"
#include "cli/sizes.hpp"
#include "datasets/csv.hpp"
#include "datasets/flow_data.hpp"
#include "datasets/image_data.hpp"
#include "datasets/toy.hpp"
#include "models/evaluate.hpp"
#include "models/flow.hpp"
#include "nn/optim.hpp"
#include "plot/caption.hpp"
#include "plot/pictures.hpp"
#include "plot/plot.hpp"
#include "plot/plot2d.hpp"
#include "plot/png.hpp"
#include "train/noise.hpp"
#include "train/page.hpp"
#include "train/trainer.hpp"

using namespace lz;

namespace {

// Rows of x as a tensor (a minibatch).
TensorF rows_of(const TensorF& x, const std::vector<int64_t>& rows) {
  const int64_t d = x.size(1);
  TensorF b({static_cast<int64_t>(rows.size()), d});
  for (size_t i = 0; i < rows.size(); ++i) std::copy(x.data() + rows[i] * d, x.data() + (rows[i] + 1) * d, b.data() + i * d);
  return b;
}

void draw_pictures(Flow<float>& flow, const Dataset& train, const Dataset& test, const std::string& name,
                   const RunDir& run, uint64_t seed, Pictures& pictures) {
  const Box2 box = bounding_box(train.x, 0.15);
  pictures.draw("density.png", [&] {
    TensorF density = log_prob_grid(flow, box.xmin, box.xmax, box.ymin, box.ymax, 200, 200);
    for (int64_t i = 0; i < density.numel(); ++i) density[i] = std::exp(density[i]);
    plot_density_beside_points(density, box, test.x, run.file("density.png"), "flow on " + name,
                               "learned density p(x)", "test data");
  });
  pictures.draw("samples.png", [&] {
    Rng rng(seed ^ 0x5a5a5a5aULL);
    plot_points(flow.sample(2000, rng), box, run.file("samples.png"), "flow on " + name + ": samples x = f^-1(z)",
                "2000 samples");
  });
  pictures.draw("z.png", [&] {
    plot_points(flow.push_forward(test.x), Box2{-4, 4, -4, 4}, run.file("z.png"),
                "flow on " + name + ": test data pushed into z-space, z = f(x)", "f(test data), ideally N(0, I)");
  });
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags("flow: a normalizing flow (affine couplings, ActNorm, LU) by maximum likelihood on 2-D toys or a CSV",
              "flow");
  std::string data = "two_moons", csv_path, test_csv, data_dir, hidden_text = "128,128";
  int64_t n = 10000, n_test = 2000, couplings = 8, batch = 256, pca = 0;
  uint64_t data_seed = 0;
  double lr = 1e-3, noise = -1, minutes = 0, lambda = 1e-6;
  bool actnorm = true, lu = false;
  TrainerOptions to{.label = "flow", .epochs = 20, .batch = 256, .log_every = 50};
  std::vector<std::string> datasets = toy_names();
  for (const char* d : {"csv", "digits", "fashion"}) datasets.push_back(d);
  flags.add("--data", data,
            "a 2-D toy (two_moons circles eight_gaussians pinwheel checkerboard two_spirals), csv, or images: "
            "digits, fashion")
      .check(OneOf(datasets));
  flags.add("--data-dir", data_dir, "with --data digits|fashion: the data set's folder (default: its own)");
  flags.add("--pca", pca, "with --data digits|fashion: fit the flow to the leading D principal components "
                          "(0: to all pixels, dequantised and logit-transformed, in bits per dimension)")
      .check(Range(int64_t(0), int64_t(784)));
  flags.add("--lambda", lambda, "pixels: the logit transform's squeeze, logit(lambda + (1 - 2 lambda) u)")
      .check(Range(0.0, 0.4999));
  flags.add("--csv", csv_path, "with --data csv: the file (numeric columns; a header row is detected)").check(ExistingFile);
  flags.add("--test-csv", test_csv, "with --data csv: the test set, a file of the same columns (else a random fifth "
                                    "of --csv, drawn with --data-seed)").check(ExistingFile);
  flags.add("--n", n, "toy training points").check(Range(int64_t(2), int64_t(1) << 26));
  flags.add("--n-test", n_test, "toy test points (for csv: a fifth of the rows)").check(Range(int64_t(1), int64_t(1) << 26));
  flags.add("--noise", noise, "toy noise (negative: the toy's default)");
  flags.add("--data-seed", data_seed, "seed of the toy data / the csv split (fixed, so test sets are comparable)");
  flags.add("--couplings", couplings, "couplings (each optionally after an ActNorm and an LU map)")
      .check(Range(int64_t(1), int64_t(1000)));
  flags.add("--hidden", hidden_text, "hidden widths of each coupling's MLP, comma-separated");
  std::string coupling = "affine";
  int64_t bins = 8;
  double tail_bound = 3;
  flags.add("--coupling", coupling, "affine (RealNVP) or spline (rational-quadratic, Durkan et al.)")
      .check(OneOf({"affine", "spline"}));
  flags.add("--bins", bins, "spline couplings: K bins").check(Range(int64_t(1), int64_t(1000)));
  flags.add("--tail-bound", tail_bound, "spline couplings: the splines live on [-B, B], identity outside")
      .check(Range(1e-6, 1e6));
  flags.flag("--actnorm", actnorm, "an ActNorm (data-initialised) before each coupling");
  flags.flag("--lu", lu, "an LU-parameterised invertible linear map before each coupling");
  flags.add("--epochs", to.epochs, "passes over the training set").check(Range(int64_t(1), int64_t(1000000)));
  flags.add("--batch", batch, "minibatch size").check(Range(int64_t(1), int64_t(1) << 20));
  flags.add("--lr", lr, "Adam learning rate").check(LearningRateRange());
  flags.add("--log-every", to.log_every, "steps between metrics.jsonl records").check(Range(int64_t(1), int64_t(1) << 30));
  flags.add("--checkpoint-every", to.checkpoint_every, "steps between checkpoints inside an epoch (0: epoch ends only)")
      .check(Range(int64_t(0), int64_t(1) << 40));
  flags.add("--time-budget", minutes, "stop training after this many minutes, with a checkpoint (0 = no limit)")
      .check(Range(0.0, 1e6));
  flags.enable_resume({"epochs", "time-budget", "checkpoint-every"});
  if (auto rc = flags.parse(argc, argv)) return *rc;
  to.batch = batch;
  to.time_budget_seconds = 60 * minutes;

  return guarded_main([&] {
    const std::vector<int64_t> hidden = parse_size_list("--hidden", hidden_text, 1 << 16);
    Dataset train, test;
    Rng data_rng(data_seed);
    const bool images = data == "digits" || data == "fashion";
    if (!images && (pca > 0 || !data_dir.empty()))
      throw FlagError(std::string(pca > 0 ? "--pca" : "--data-dir") + " is for --data digits|fashion, not --data " + data);
    if (data != "csv" && !csv_path.empty()) throw FlagError("--csv is for --data csv, not --data " + data);
    if (data != "csv" && !test_csv.empty()) throw FlagError("--test-csv is for --data csv, not --data " + data);
    if (data == "csv" && !test_csv.empty()) {
      if (csv_path.empty()) throw FlagError("--data csv needs --csv PATH (the training data)");
      std::tie(train, test) = load_csv_train_test(csv_path, test_csv);
      if (train.size() < 2) throw std::invalid_argument(csv_path + ": needs at least 2 rows, found " + std::to_string(train.size()));
    } else if (data == "csv") {
      if (csv_path.empty()) throw FlagError("--data csv needs --csv PATH");
      const Dataset all = load_csv(csv_path);
      if (all.size() < 10) throw std::invalid_argument(csv_path + ": needs at least 10 rows, found " + std::to_string(all.size()));
      std::tie(train, test) = train_test_split(all, all.size() / 5, data_rng);
    } else if (images) {
      std::tie(train, test) = load_image_data(data, data_dir);
    } else {
      train = make_toy(data, n, data_rng, noise);
      test = make_toy(data, n_test, data_rng, noise);
    }
    const int64_t image_h = train.image_h, image_w = train.image_w;
    // Images: the flow sees principal components, or logit-space pixels with the test set's
    // dequantisation noise drawn once (a fixed test set, so epochs compare).
    std::optional<PcaProjection> proj;
    std::optional<PixelPreprocess> pixels;
    PixelPreprocess::Batch test_pixels;
    if (images && pca > 0) {
      proj.emplace(train.x, pca);
      train.x = proj->project(train.x);
      test.x = proj->project(test.x);
    } else if (images) {
      pixels.emplace(train.dim(), lambda);
      Rng test_noise(data_seed ^ 0x7e57ULL);
      test_pixels = (*pixels)(test.x, test_noise);
    }
    const int64_t D = train.dim();
    if (D < 2) throw std::invalid_argument(data + ": a coupling flow needs at least 2 columns, found " + std::to_string(D));

    {  // each coupling's network, before any is allocated (an overestimate: input D, output 2D or D(3K - 1))
      NetworkSize nets;
      for (int64_t i = 0; i < couplings; ++i) nets += mlp_size(D, hidden, coupling == "spline" ? D * (3 * bins - 1) : 2 * D);
      check_fits_in_memory("--hidden", hidden_text, nets, batch, std::max<int64_t>(test.size(), D == 2 ? 200 * 200 : 64));
    }
    Rng rng(flags.seed);
    auto flow = Flow<float>::build({.dim = D, .couplings = couplings, .hidden = hidden, .actnorm = actnorm, .lu = lu,
                                    .coupling = coupling == "spline" ? CouplingKind::Spline : CouplingKind::Affine,
                                    .bins = bins, .tail_bound = tail_bound},
                                   rng);
    // ActNorm's data init from the training set (5000 images: enough for a mean and a scale per
    // pixel); a resumed run's checkpoint then overwrites the parameters (they are the init's whole state).
    if (pixels) {
      std::vector<int64_t> first(static_cast<size_t>(std::min<int64_t>(5000, train.size())));
      std::iota(first.begin(), first.end(), int64_t(0));
      Rng init_noise(data_seed ^ 0x1417ULL);
      flow->initialise((*pixels)(rows_of(train.x, first), init_noise).y);
    } else {
      flow->initialise(train.x);
    }
    Adam<float> opt(*flow, AdamOptions{.lr = lr});

    RunDir run(flags.out, flags.resuming() ? RunMode::Resume : RunMode::Create);
    const nlohmann::json config = flags.run_config();
    Trainer<float> trainer(*flow, opt, rng, to, &run, config);
    if (flags.resuming()) trainer.resume(flags.resume_checkpoint, train.size());
    run.write_config(config);
    RunPage page(run, "flow");  // index.html, however the run ends (train/page.hpp)
    std::fprintf(stderr, "flow: %s, %ld train / %ld test, D=%ld, %s, %ld parameters -> %s\n", data.c_str(),
                 long(train.size()), long(test.size()), long(D), flow->describe().c_str(), long(flow->num_parameters()),
                 run.path().c_str());

    // The test figure: mean log-likelihood in nats per example, or for pixels bits per dimension.
    auto test_metrics = [&] {
      const std::vector<double> ll = flow->log_prob_values(pixels ? test_pixels.y : test.x);
      if (pixels) {
        const MeanEstimate b = pixels->bits_per_dim(ll, test_pixels.log_det);
        return nlohmann::json{{"test_bits_per_dim", b.mean}, {"test_bits_per_dim_se", b.se}};
      }
      const MeanEstimate e = estimate_mean(ll);
      return nlohmann::json{{"test_log_likelihood", e.mean}, {"test_log_likelihood_se", e.se}};
    };
    const TrainResult r = trainer.fit(
        train.size(),
        [&](const std::vector<int64_t>& rows, const StepContext& ctx) {
          // pixels: fresh dequantisation noise every batch, per example (train/noise.hpp: the same
          // noise whether one process or several ranks take the batch, restored by a checkpoint)
          const TensorF x = pixels ? (*pixels)(rows_of(train.x, rows), [&](int64_t i) {
                                       return example_rng(ctx, i, kNoiseDequantize);
                                     }).y
                                   : rows_of(train.x, rows);
          return neg(mean(flow->log_prob(VarF(x))));
        },
        [&](int64_t) { return test_metrics(); });
    if (r.interrupted()) return r.exit_code;

    const std::vector<double> test_ll = flow->log_prob_values(pixels ? test_pixels.y : test.x);
    const MeanEstimate ll = estimate_mean(test_ll);
    std::vector<double> base_v;
    {
      NoGrad ng;
      const TensorF b = flow->base().log_prob(VarF(pixels ? test_pixels.y : test.x)).value();
      base_v.assign(b.data(), b.data() + b.numel());
    }
    const MeanEstimate base = estimate_mean(base_v);
    nlohmann::json summary = {{"data", data},
                              {"dim", D},
                              {"test_log_likelihood", ll.mean},
                              {"test_log_likelihood_se", ll.se},
                              {"test_nll", -ll.mean},
                              {"base_test_log_likelihood", base.mean},
                              {"units", pixels ? "nats per image in logit space" : "nats per example"},
                              {"train_nll_last_epoch", r.last_epoch_loss},
                              {"epochs", r.epochs_done},
                              {"steps", r.steps},
                              {"stopped_by", r.stopped},
                              {"parameters", flow->num_parameters()},
                              {"train_size", train.size()},
                              {"test_size", test.size()},
                              {"train_seconds", r.train_seconds},
                              {"checkpoint", "checkpoint.safetensors"}};
    std::string headline;
    char line[256];
    if (pixels) {
      const MeanEstimate b = pixels->bits_per_dim(test_ll, test_pixels.log_det);
      summary["test_bits_per_dim"] = b.mean;
      summary["test_bits_per_dim_se"] = b.se;
      summary["logit_lambda"] = lambda;
      std::snprintf(line, sizeof line, "test %.4f ± %.4f bits per dimension", b.mean, b.se);
      headline = line;
    } else if (proj) {
      const MeanEstimate g = estimate_mean(proj->gaussian_log_prob(test.x));
      summary["gaussian_test_log_likelihood"] = g.mean;
      summary["gaussian_test_log_likelihood_se"] = g.se;
      summary["pca_explained_variance_ratio"] = proj->explained_variance_ratio();
      std::snprintf(line, sizeof line, "test log-likelihood %.3f ± %.3f nats on %ld principal components (best Gaussian: %.3f ± %.3f)",
                    ll.mean, ll.se, long(D), g.mean, g.se);
      headline = line;
    } else {
      std::snprintf(line, sizeof line, "test log-likelihood %.4f ± %.4f nats (base N(0,I): %.4f)", ll.mean, ll.se, base.mean);
      headline = line;
    }
    if (!test_csv.empty()) summary["test_csv"] = test_csv;  // the user's own test set
    run.write_summary(summary);
    // Each picture on its own: one that fails stops none of the others, and makes the exit code 1
    // once the rest is written (plot/pictures.hpp). Under MPI rank 0 draws.
    Pictures pictures;
    if (run.writer()) {
      pictures.draw("loss.png", [&] {
        PlotOptions po;
        po.title = "flow on " + data + ": negative log-likelihood (nats)";
        plot_metrics(run.file("metrics.jsonl"), {"loss"}, run.file("loss.png"), po);
      });
      if (D == 2 && !images) draw_pictures(*flow, train, test, data, run, flags.seed, pictures);
      if (images) pictures.draw("samples.png", [&] {
        Rng rng_s(flags.seed ^ 0x5a5a5a5aULL);
        const TensorF z = flow->sample(64, rng_s);
        write_png(run.file("samples.png"),
                  with_caption(image_grid(pixels ? pixels->to_images(z) : proj->reconstruct(z), image_h, image_w, 8, 2, 2),
                               "flow on " + data + (pixels ? "" : " (" + std::to_string(pca) + " principal components)") +
                                   ": 64 exact samples, x = f⁻¹(z) for z ~ N(0, I)"));
      });
    }
    std::printf("%s (%s, %ld epochs, %.1f s)\n", headline.c_str(), data.c_str(), long(r.epochs_done), r.train_seconds);
    return pictures.exit_code();
  });
}
