// cvae: the conditional VAE (models/vae.hpp given c) under three conditions, the first two on the
// MNIST digits or Fashion-MNIST, the third on a generated action-chunk task:
//   --condition label      c = the class (one-hot); x = the image. Samples per class, and the
//                          conditional log-likelihood log p(x|c) per class (importance sampled).
//   --condition quadrants  c = the observed quadrants (--quadrants 1, 2 or 3); x = the missing
//                          pixels (Pyro's CVAE task). A deterministic MLP baseline c -> Bernoulli
//                          logits of x trains beside the CVAE on the same batches (one module, two
//                          independent parameter sets: Adam is per-parameter, so this is exactly two
//                          separate trainings), and the two are compared on the negative conditional
//                          log-likelihood of the missing pixels, paired image by image.
//   --condition actions    c = an observation (start, goal, obstacles: datasets/actions.hpp); x = the
//                          next H 2-D waypoints, demonstrated passing each obstacle left or right.
//                          The unimodal Gaussian regression and the mixture-density network train
//                          beside the CVAE (the same one-module arrangement), and all three are
//                          scored on held-out observations: collisions, ADE/FDE and their best of
//                          N, the share of each mode, and test NLL (exact for the two regressions,
//                          importance sampled for the CVAE). The CVAE's defaults here: a mixture
//                          prior p(z|c) of 8 Gaussians (a Gaussian prior has no gap between the
//                          modes), Z = 4; its deterministic action decodes the top component's mean.
//
//   build/bin/cvae --data digits --condition quadrants --quadrants 1 --epochs 30 --out runs/cvae-q1
//   build/bin/cvae --condition actions --out runs/cvae-actions
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/flags.hpp"
#include "cli/memory.hpp"
#include "cli/sizes.hpp"
#include "datasets/actions.hpp"
#include "datasets/batch.hpp"
#include "datasets/image_data.hpp"
#include "models/evaluate.hpp"
#include "models/iwae.hpp"
#include "models/mdn.hpp"
#include "models/vae.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "plot/action_chunks.hpp"
#include "plot/cvae_grids.hpp"
#include "train/noise.hpp"
#include "train/page.hpp"
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

json mean_se_json(const std::vector<double>& v) {
  const MeanEstimate s = estimate_mean(v);
  return {{"mean", s.mean}, {"se", s.se}, {"n", s.n}};
}

// ---- the action-chunk task ---------------------------------------------------------------

// The CVAE, the MDN and the unimodal regression (the MDN with M = 1), trained as one module.
class ChunkModels : public Module<float> {
 public:
  ChunkModels(const VaeConfig& cfg, const MdnConfig& mdn_cfg, Rng& rng) {
    cvae = register_module("cvae", std::make_shared<VAE<float>>(cfg, rng));
    mdn = register_module("mdn", std::make_shared<MDN<float>>(mdn_cfg, rng));
    MdnConfig one = mdn_cfg;
    one.components = 1;
    one.rank = 0;  // the classic single diagonal Gaussian: a rank-2 one spans both sides with a factor (docs/mdn.md)
    unimodal = register_module("unimodal", std::make_shared<MDN<float>>(one, rng));
  }
  std::string describe() const override {
    return cvae->describe() + " + " + mdn->describe() + " + " + unimodal->describe();
  }
  std::shared_ptr<VAE<float>> cvae;
  std::shared_ptr<MDN<float>> mdn, unimodal;
};

struct ChunkRun {
  VaeConfig cfg;
  TrainerOptions to;
  ChunkTask task;
  int64_t n_train = 20000, n_test = 500, samples = 20, components = 5, k = 1, eval_k = 100;
  int64_t mdn_warmup = 500, mdn_rank = 0;  // the MDN's labelled warm-up steps, its components' low rank
  int64_t val = 0;         // > 0: hold out the last `val` training observations and score on them, not the test set
  int64_t candidates = 0;  // > 0: also the CVAE's best of this many decoded candidates, scored by the model
  double lr = 1e-3;
};

// The share of each mode (the combination of sides passed, one letter per obstacle: L or R) among
// predicted chunks pred:[S, N, 2H] against the demonstrations', and the largest difference.
json mode_shares(const ChunkTask& task, const ChunkData& data, const TensorF& pred) {
  const int64_t K = task.obstacles, N = data.obs.size(0), S = pred.size(0), C = task.obs_dim(), D = task.chunk_dim();
  const int64_t modes = int64_t(1) << K;
  auto index = [&](const std::vector<int>& sides) {
    int64_t m = 0;
    for (int64_t k = 0; k < K; ++k) m = 2 * m + (sides[k] > 0 ? 0 : 1);
    return m;
  };
  std::vector<double> predicted(modes, 0.0), demonstrated(modes, 0.0);
  for (int64_t i = 0; i < N; ++i) {
    demonstrated[index(data.sides[i])] += 1.0 / static_cast<double>(N);
    for (int64_t s = 0; s < S; ++s)
      predicted[index(passing_sides(task, data.obs.data() + i * C, pred.data() + (s * N + i) * D))] +=
          1.0 / static_cast<double>(N * S);
  }
  json names = json::array();
  double worst = 0;
  for (int64_t m = 0; m < modes; ++m) {
    std::string name;
    for (int64_t k = K - 1; k >= 0; --k) name += ((m >> k) & 1) ? 'R' : 'L';
    names.push_back(name);
    worst = std::max(worst, std::abs(predicted[m] - demonstrated[m]));
  }
  return {{"modes", names}, {"predicted", predicted}, {"demonstrated", demonstrated}, {"max_abs_error", worst}};
}

// Rows [start, start + n) of a chunk data set.
ChunkData chunk_rows(const ChunkData& d, int64_t start, int64_t n) {
  return {narrow(d.obs, 0, start, n), narrow(d.chunk, 0, start, n),
          std::vector<std::vector<int>>(d.sides.begin() + start, d.sides.begin() + start + n)};
}

int run_actions(ChunkRun& a, Flags& flags) {
  a.task.validate();
  Rng data_rng = Rng::stream(flags.seed, 1), test_rng(20160901);  // test observations fixed across runs
  if (a.val >= a.n_train)
    throw std::invalid_argument("cvae: --val (" + std::to_string(a.val) + ") must be below --n-train (" +
                                std::to_string(a.n_train) + ")");
  // With --val the last `val` training observations are held out and scored in place of the test
  // set (settings are chosen there, never on the test set).
  const ChunkData all = make_chunks(a.task, a.n_train, data_rng);
  const ChunkData train = a.val > 0 ? chunk_rows(all, 0, a.n_train - a.val) : all;
  const ChunkData test = a.val > 0 ? chunk_rows(all, a.n_train - a.val, a.val) : make_chunks(a.task, a.n_test, test_rng);
  a.n_train -= a.val;
  a.n_test = test.obs.size(0);
  const Dataset train_obs{train.obs, {}, 0, "observations", 0, 0}, train_chunks{train.chunk, {}, 0, "chunks", 0, 0};
  a.cfg.x_dim = a.task.chunk_dim();
  a.cfg.c_dim = a.task.obs_dim();
  MdnConfig mc;
  mc.condition_dim = a.task.obs_dim();
  mc.target_dim = a.task.chunk_dim();
  mc.components = a.components;
  mc.rank = a.mdn_rank;
  mc.hidden = a.cfg.hidden;
  mc.activation = a.cfg.activation;
  Rng rng(flags.seed);
  ChunkModels model(a.cfg, mc, rng);
  // The MDN's warm-up labels (models/mdn.hpp: a mixture fitted to the residuals of a linear fit),
  // from their own stream so the CVAE's draws are unchanged; drawn again on a resume (deterministic).
  Rng label_rng = Rng::stream(flags.seed, 2);
  const std::vector<int64_t> mdn_labels = model.mdn->mode_labels(train.obs, train.chunk, label_rng);
  VAE<float>& cvae = *model.cvae;
  Adam<float> opt(model, AdamOptions{.lr = a.lr});
  RunDir run(flags.out, flags.resuming() ? RunMode::Resume : RunMode::Create);
  const json config = flags.run_config();
  Trainer<float> trainer(model, opt, rng, a.to, &run, config);
  if (flags.resuming()) trainer.resume(flags.resume_checkpoint, a.n_train);
  run.write_config(config);
  RunPage page(run, "cvae");  // index.html, however the run ends (train/page.hpp)
  std::fprintf(stderr, "action chunks (%lld obstacle(s), H = %lld): %s, %lld parameters, run folder %s\n",
               static_cast<long long>(a.task.obstacles), static_cast<long long>(a.task.horizon), model.describe().c_str(),
               static_cast<long long>(model.num_parameters()), run.path().c_str());
  const VarF tc(test.obs), tx(test.chunk);
  const int64_t Z = a.cfg.z_dim;
  const TrainResult tr = trainer.fit(
      a.n_train,
      [&](const std::vector<int64_t>& rows, const StepContext& ctx) {
        const VarF c(make_batch(train_obs, rows).x), x(make_batch(train_chunks, rows).x);
        const int64_t B = x.size(0);
        const Var<float> cv = a.k == 1 ? elbo_loss(cvae, x, example_normal<float>(ctx, B, Z), static_cast<float>(ctx.weight), c)
                                       : iwae_loss(cvae, x, example_normal<float>(ctx, B, Z, a.k), c);
        std::vector<int64_t> k(rows.size());
        for (size_t i = 0; i < rows.size(); ++i) k[i] = mdn_labels[static_cast<size_t>(rows[i])];
        const Var<float> mdn_loss = ctx.step <= a.mdn_warmup ? model.mdn->labelled_loss(c, x, k) : model.mdn->loss(c, x);
        return cv + mdn_loss + model.unimodal->loss(c, x);
      },
      [&](int64_t) {
        NoGrad ng;
        const ElboTerms<float> t = elbo(cvae, tx, standard_normal<float>({a.n_test, Z}, rng), tc);
        return json{{"test_elbo", lz::mean(t.elbo).item()},
                    {"test_nll_mdn", model.mdn->loss(tc, tx).item()},
                    {"test_nll_unimodal", model.unimodal->loss(tc, tx).item()}};
      });
  if (tr.interrupted()) return tr.exit_code;

  // ---- evaluation on the held-out observations --------------------------------------------
  NoGrad ng;
  const int64_t S = a.samples, N = a.n_test;
  const BoundEstimates e = estimate_bounds(cvae, test.chunk, a.eval_k, {1}, rng, 8192, tc);
  std::vector<double> cvae_nll(N);
  for (int64_t n = 0; n < N; ++n) cvae_nll[n] = -e.log_px[n];
  auto neg = [](std::vector<double> v) {
    for (double& x : v) x = -x;
    return v;
  };
  const TensorF zs = cvae.sample_prior(S, rng, tc);  // [S, N, Z]
  const TensorF cvae_samples = cvae.mean_of_output(cvae.decode(VarF(zs), tc));
  // The deterministic action at a mode of the prior: the mean of the mixture's most probable
  // component, or the Gaussian prior's mean (ACT's choice; 0 for N(0, I)).
  const TensorF z0 = cvae.prior_mode(tc);
  const TensorF cvae_det = cvae.mean_of_output(cvae.decode(VarF(z0), tc)).reshape({1, N, a.task.chunk_dim()});
  struct Row {
    std::string name;
    std::vector<double> nll;
    TensorF samples, deterministic;
  };
  std::vector<Row> rows = {
      {"unimodal", neg(model.unimodal->log_prob_values(test.obs, test.chunk)), model.unimodal->sample(test.obs, S, rng),
       model.unimodal->mean(test.obs).reshape({1, N, a.task.chunk_dim()})},
      {"mdn", neg(model.mdn->log_prob_values(test.obs, test.chunk)), model.mdn->sample(test.obs, S, rng),
       model.mdn->mode_mean(test.obs).reshape({1, N, a.task.chunk_dim()})},
      {"cvae", cvae_nll, cvae_samples, cvae_det}};
  json summary = {{"model", "CVAE, MDN and unimodal regression"}, {"condition", "actions"}, {"steps", tr.steps},
                  {"epochs", tr.epochs_done}, {"describe", model.describe()}, {"parameters", model.num_parameters()},
                  {"train_seconds", tr.train_seconds}, {"test_observations", N}, {"samples", S}, {"eval_k", a.eval_k},
                  {"cvae_elbo", mean_se_json(e.elbo)}};
  // The CVAE's best of several decoded candidates, scored by the model: the prior's mode and draws
  // from p(z|c), each decoded and scored by its importance-sampled log p(x̂|c) (k = 20).
  TensorF cvae_best;
  if (a.candidates > 0) {
    const int64_t K = a.candidates, D = a.task.chunk_dim();
    TensorF zc = z0.reshape({1, N, Z});
    if (K > 1) zc = concat(std::vector<TensorF>{zc, cvae.sample_prior(K - 1, rng, tc)}, 0);
    const TensorF xc = cvae.mean_of_output(cvae.decode(VarF(zc), tc));  // [K, N, D]
    const TensorF ctile = concat(std::vector<TensorF>(K, test.obs), 0);  // [K·N, C]
    const BoundEstimates sc = estimate_bounds(cvae, xc.reshape({K * N, D}), 20, {1}, rng, 8192, VarF(ctile));
    cvae_best = TensorF({1, N, D});
    for (int64_t n = 0; n < N; ++n) {
      int64_t best = 0;
      for (int64_t i = 1; i < K; ++i)
        if (sc.log_px[i * N + n] > sc.log_px[best * N + n]) best = i;
      for (int64_t d = 0; d < D; ++d) cvae_best[n * D + d] = xc[(best * N + n) * D + d];
    }
  }
  std::printf("\n%-9s %16s %10s %8s %8s %8s %8s %11s %9s %14s\n", "model", "test NLL (nats)", "collisions", "ADE",
              "minADE", "FDE", "minFDE", "left share", "mode err", "det. collisions");
  for (const Row& r : rows) {
    const ChunkMetrics ms = chunk_metrics(a.task, test, r.samples), md = chunk_metrics(a.task, test, r.deterministic);
    const MeanEstimate nll = estimate_mean(r.nll);
    const json modes = mode_shares(a.task, test, r.samples);
    std::printf("%-9s %8.2f +- %5.2f %10.3f %8.3f %8.3f %8.3f %8.3f %5.2f (%.2f) %9.3f %14.3f\n", r.name.c_str(), nll.mean,
                nll.se, ms.collision_rate, ms.ade, ms.min_ade, ms.fde, ms.min_fde, ms.left_share, ms.demo_left_share,
                modes.at("max_abs_error").get<double>(), md.collision_rate);
    summary[r.name] = {{"test_nll", mean_se_json(r.nll)}, {"sampled", to_json(ms)}, {"deterministic", to_json(md)},
                       {"mode_shares", modes}};
  }
  if (a.candidates > 0) {
    const ChunkMetrics mb = chunk_metrics(a.task, test, cvae_best);
    summary["cvae"]["deterministic_best_of_candidates"] = to_json(mb);
    summary["cvae"]["candidates"] = a.candidates;
    std::printf("cvae best of %lld candidates scored by log p(x|c): collisions %.3f, left share %.2f\n",
                static_cast<long long>(a.candidates), mb.collision_rate, mb.left_share);
  }
  std::printf("(%lld held-out observations, %lld samples each; left share: predicted (demonstrated); det.: the "
              "unimodal mean, the mean of the MDN's most probable component, the CVAE at z = a mode of its prior)\n",
              static_cast<long long>(N), static_cast<long long>(S));
  // The first held-out observation, every model's samples around its obstacles.
  if (run.writer())  // under MPI rank 0 draws
    plot_chunk_predictions(a.task, test, 0,
                           {{"unimodal Gaussian regression", rows[0].samples},
                            {"mixture-density network (M = " + std::to_string(a.components) + ")", rows[1].samples},
                            {"CVAE, z ~ p(z|c)", rows[2].samples},
                            {a.cfg.mixture_prior() ? "CVAE, z = the top prior component's mean"
                             : a.cfg.flow_prior() ? "CVAE, z = the flow prior's image of 0"
                                                  : "CVAE, z = prior mean (ACT's action)",
                             rows[2].deterministic}},
                           run.file("trajectories.png"), "sampled action chunks on a held-out observation");
  run.write_summary(summary);
  std::printf("%s\n", run.path().c_str());
  return 0;
}

int run(int argc, char** argv) {
  std::string data = "digits", data_dir, condition = "label", arch = "256,256", prior_arch = "256", act = "tanh",
              prior = "auto";
  int64_t latent = 0, quadrants = 1, k = 1, batch = 100, warmup = 0, eval_k = 100, eval_n = 1000;
  double lr = 1e-3, beta = 1.0;
  TrainerOptions to{.label = "cvae", .epochs = 20, .batch = 100, .log_every = 100};
  Flags flags("cvae: a conditional VAE given a label, observed quadrants or an observation (action chunks)", "cvae");
  flags.add("--data", data, "data set").check(OneOf({"fashion", "digits"}));
  flags.add("--data-dir", data_dir, "folder of the data (default: the data set's own)");
  flags.add("--condition", condition,
            "label: c = the class; quadrants: c = the observed quadrants; actions: c = an observation, x = an action chunk")
      .check(OneOf({"label", "quadrants", "actions"}));
  ChunkRun ch;
  flags.add("--obstacles", ch.task.obstacles, "actions: obstacles between start and goal").check(Range(1, 8));
  flags.add("--p-left", ch.task.p_left, "actions: probability that a demonstration passes an obstacle on its left")
      .check(Range(0.0, 1.0));
  flags.add("--horizon", ch.task.horizon, "actions: waypoints per chunk (H)").check(Range(2, 1000));
  flags.add("--noise", ch.task.noise, "actions: waypoint noise (standard deviation)").check(Range(0.0, 0.5));
  flags.add("--n-train", ch.n_train, "actions: training observations").check(Range(1, 10000000));
  flags.add("--n-test", ch.n_test, "actions: held-out observations").check(Range(1, 1000000));
  flags.add("--samples", ch.samples, "actions: predicted chunks per held-out observation").check(Range(1, 10000));
  flags.add("--components", ch.components, "actions: the MDN's mixture components").check(Range(1, 1000));
  flags.add("--mdn-warmup", ch.mdn_warmup,
            "actions: first steps of the MDN trained on its mode labels (models/mdn.hpp), then by likelihood")
      .check(Range(0, 100000000));
  flags.add("--mdn-rank", ch.mdn_rank, "actions: low-rank factors of each MDN component's covariance (0: diagonal; the unimodal regression stays diagonal)")
      .check(Range(0, 2));
  std::string recon = "gaussian";
  flags.add("--recon", recon, "CVAE reconstruction: gaussian, or l1 (a Laplace likelihood, ACT's L1 loss); images are Bernoulli")
      .check(OneOf({"gaussian", "l1"}));
  flags.add("--quadrants", quadrants, "observed quadrants (bottom-left, then bottom-right, then top-right)")
      .check(Range(1, 3));
  flags.add("--arch", arch, "hidden sizes of the encoder (the decoder mirrors them; the baseline uses them too)");
  flags.add("--prior", prior,
            "learned: p(z|c) a Gaussian from a network of c; mixture: a mixture of --prior-components Gaussians "
            "from a network of c; flow: a conditional RealNVP flow over N(0, I) (--prior-couplings); standard: "
            "N(0, I); auto: mixture for --condition actions, else learned")
      .check(OneOf({"auto", "learned", "mixture", "flow", "standard"}));
  int64_t prior_couplings = 4;
  flags.add("--prior-couplings", prior_couplings, "affine couplings of the flow prior (--prior flow)").check(Range(1, 100));
  int64_t prior_components = 8;
  flags.add("--prior-components", prior_components, "components of the mixture prior (--prior mixture)")
      .check(Range(1, 1000));
  flags.add("--val", ch.val,
            "actions: hold out this many of the --n-train observations and score on them instead of the test set "
            "(for choosing settings)")
      .check(Range(0, 10000000));
  flags.add("--candidates", ch.candidates,
            "actions: also report the CVAE's best of this many decoded candidates (the prior's component means "
            "and draws), scored by its importance-sampled log p(x|c) (0: not)")
      .check(Range(0, 10000));
  flags.add("--prior-arch", prior_arch, "hidden sizes of the prior network");
  flags.add("--latent", latent, "latent dimensions Z (0: the condition's default, 4 for actions, 16 otherwise)")
      .check(Range(0, 4096));
  flags.add("--act", act, "activation").check(OneOf({"tanh", "relu"}));
  flags.add("--k", k, "importance samples per example in training (1 = ELBO, >1 = IWAE bound)").check(Range(1, 100000));
  flags.add("--epochs", to.epochs, "passes over the training set").check(Range(int64_t(1), int64_t(100000)));
  flags.add("--batch", batch, "minibatch size").check(Range(1, 100000));
  flags.add("--lr", lr, "Adam learning rate").check(LearningRateRange());
  flags.add("--beta", beta, "KL weight").check(Range(0.0, 1e6));
  flags.add("--warmup", warmup, "KL warm-up steps (beta ramps from 0)").check(Range(0, 100000000));
  flags.add("--eval-k", eval_k, "importance samples for test log p(x|c)").check(Range(1, 1000000));
  flags.add("--eval-n", eval_n, "test points for log p(x|c) (0 = all)").check(Range(0, 1000000));
  flags.add("--log-every", to.log_every, "steps between metrics.jsonl records").check(Range(int64_t(1), int64_t(1000000)));
  flags.add("--checkpoint-every", to.checkpoint_every, "steps between checkpoints inside an epoch (0: epoch ends only)")
      .check(Range(int64_t(0), int64_t(1) << 40));
  flags.enable_resume({"epochs", "checkpoint-every", "eval-k", "eval-n"});
  if (auto rc = flags.parse(argc, argv)) return *rc;
  to.batch = batch;
  if (warmup > 0 || beta != 1.0) to.weight_at = [&](int64_t step) { return kl_weight(step, warmup, beta); };
  VaeConfig cfg;
  cfg.hidden = parse_size_list("--arch", arch, kMaxLayerSize);
  cfg.prior_hidden = parse_size_list("--prior-arch", prior_arch, kMaxLayerSize);
  if (latent == 0) latent = condition == "actions" ? 4 : 16;
  {  // encoder, decoder and prior network, before anything is loaded (an overestimate for every condition: x and c 784 wide)
    NetworkSize nets = mlp_size(2 * 784, cfg.hidden, 2 * latent);
    nets += mlp_size(latent + 784, std::vector<int64_t>(cfg.hidden.rbegin(), cfg.hidden.rend()), 2 * 784);
    nets += mlp_size(784, cfg.prior_hidden, 2 * latent);
    check_fits_in_memory("--arch", arch + " --prior-arch " + prior_arch, nets, int64_t(batch) * k);
  }
  cfg.z_dim = latent;
  cfg.activation = act;
  if (prior == "auto") prior = condition == "actions" ? "mixture" : "learned";
  cfg.learned_prior = prior == "learned";
  if (prior == "mixture") cfg.prior_components = prior_components;
  if (prior == "flow") cfg.prior_flow_couplings = prior_couplings;
  if (condition == "actions") {
    cfg.likelihood = recon == "l1" ? VaeLikelihood::Laplace : VaeLikelihood::Gaussian;
    cfg.init_logvar = recon == "l1" ? std::log(0.05) : 2 * std::log(0.05);  // the waypoints' scale
    ch.cfg = cfg;
    ch.to = to;
    ch.k = k;
    ch.eval_k = eval_k;
    ch.lr = lr;
    return run_actions(ch, flags);
  }

  auto [train, test] = load_image_data(data, data_dir);
  if (train.image_h * train.image_w != train.dim())
    throw std::invalid_argument("cvae: " + data + " is not an image data set (no height and width)");
  Task task{condition, {}, train.num_classes};
  if (condition == "label" && !train.labelled()) throw std::invalid_argument("cvae: --condition label needs labels");
  if (condition == "quadrants") task.split = quadrant_split(train.image_h, train.image_w, quadrants);
  // The test set is binarised once, independently of --seed, so runs are scored on the same images.
  Rng test_rng(20160901);
  const TensorF test_bin = binarize(test.x, test_rng);

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
  RunPage page(run, "cvae");  // index.html, however the run ends (train/page.hpp)
  std::fprintf(stderr, "CVAE (%s): %s, %lld parameters, %lld train / %lld test, run folder %s\n", condition.c_str(),
               model.describe().c_str(), static_cast<long long>(model.num_parameters()),
               static_cast<long long>(train.size()), static_cast<long long>(test.size()), run.path().c_str());

  const TensorF xe_all = narrow(test_bin, 0, 0, std::min<int64_t>(1000, test.size()));
  const std::vector<int64_t> ye_all(test.y.begin(), test.y.begin() + xe_all.size(0));
  const TrainResult tr = trainer.fit(
      train.size(),
      [&](const std::vector<int64_t>& rows, const StepContext& ctx) {
        const Batch b = make_batch(train, rows);
        const auto [x, c] = task.xc(example_binarize(b.x, ctx), b.y);  // noise per example: train/noise.hpp
        const int64_t B = x.size(0);
        Var<float> loss = k == 1 ? elbo_loss(cvae, VarF(x), example_normal<float>(ctx, B, latent),
                                             static_cast<float>(ctx.weight), VarF(c))
                                 : iwae_loss(cvae, VarF(x), example_normal<float>(ctx, B, latent, k), VarF(c));
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
      const MeanEstimate s = estimate_mean(lp), b = estimate_mean(el);
      std::printf("%5lld  %8.2f +- %5.2f  %8.2f\n", static_cast<long long>(cl), s.mean, s.se, b.mean);
      per_class.push_back({{"class", cl}, {"log_px_given_c", mean_se_json(lp)}, {"elbo", mean_se_json(el)}});
    }
    summary["per_class"] = per_class;
    if (run.writer()) write_class_samples(cvae, train.num_classes, train.image_h, train.image_w, run.file("samples.png"), rng);
  } else {
    NoGrad ng;
    const Tensor<float> bl = model.baseline_log_prob(VarF(x), VarF(c)).value();
    std::vector<double> cvae_nll(n_eval), base_nll(n_eval), diff(n_eval);
    for (int64_t n = 0; n < n_eval; ++n) {
      cvae_nll[n] = -e.log_px[n];
      base_nll[n] = -static_cast<double>(bl[n]);
      diff[n] = base_nll[n] - cvae_nll[n];
    }
    const MeanEstimate d = estimate_mean(diff), cv = estimate_mean(cvae_nll), bs = estimate_mean(base_nll);
    summary["quadrants"] = quadrants;
    summary["cvae_nll"] = mean_se_json(cvae_nll);
    summary["baseline_nll"] = mean_se_json(base_nll);
    summary["baseline_minus_cvae"] = mean_se_json(diff);
    summary["cvae_beats_baseline"] = d.mean > 2 * d.se;
    std::printf("missing pixels given %lld quadrant(s): baseline %.2f +- %.2f, CVAE %.2f +- %.2f nats; "
                "baseline - CVAE %.2f +- %.2f (paired)\n",
                static_cast<long long>(quadrants), bs.mean, bs.se, cv.mean, cv.se, d.mean, d.se);
    if (run.writer()) write_completions(cvae, *model.baseline, task.split, xt, 8, 5, run.file("completions.png"), rng);
  }
  run.write_summary(summary);
  const MeanEstimate lp = estimate_mean(e.log_px);
  std::printf("test log p(x|c) (k=%lld, %lld points): %.2f +- %.2f nats; %s\n", static_cast<long long>(eval_k),
              static_cast<long long>(n_eval), lp.mean, lp.se, run.path().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return guarded_main([&] { return run(argc, argv); });
}
