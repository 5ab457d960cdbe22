// The MDN alone on the action-chunk task (datasets/actions.hpp), for the ablation in docs/mdn.md:
// how it starts and trains, and what that does to collisions, mode shares and NLL. The network and
// the training are the cvae driver's defaults (256-256 tanh, M = 5, Adam 1e-3, batch 100), on the
// first 90% of the training observations; the last 10% are the validation split the arms are
// chosen on. The test set is the driver's (500 observations, seed 20160901, 20 samples each).
//
//   build/bin/bench_mdn_chunks --init labels --warmup 500 --rank 0 --obstacles 1 --seed 1
//     --init labels   mode_labels (a GMM on the residuals of a linear fit) and a labelled warm-up
//     --init y-labels the same with the GMM fitted to y itself
//     --init chunks   init_means (component m's mean starts at training chunk m), no warm-up
//     --init none     the network's own initialisation, no warm-up
//   other flags: --n-train (20000), --epochs (20), --components (5), --lr (1e-3), --rank (0),
//   --logit-scale (1), --warmup (500 steps), --verbose 1 (each epoch: mean responsibilities on
//   the test set, sampled collisions, left share).
// Ends with one RESULT line.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>

#include "datasets/actions.hpp"
#include "models/evaluate.hpp"
#include "models/mdn.hpp"
#include "nn/optim.hpp"

using namespace lz;

namespace {

TensorF rows_of(const TensorF& a, const std::vector<int64_t>& r) {
  const int64_t d = a.size(1);
  TensorF o({static_cast<int64_t>(r.size()), d});
  for (size_t i = 0; i < r.size(); ++i) std::copy(a.data() + r[i] * d, a.data() + (r[i] + 1) * d, o.data() + i * d);
  return o;
}

// The largest |predicted − demonstrated| share over the 2^n side combinations.
double worst_mode_share(const ChunkTask& task, const ChunkData& test, const TensorF& pred) {
  const int64_t K = task.obstacles, S = pred.size(0), N = pred.size(1), D = pred.size(2), C = task.obs_dim();
  std::vector<double> p(size_t(1) << K), d(size_t(1) << K);
  auto code = [&](const std::vector<int>& s) {
    size_t c = 0;
    for (int64_t k = 0; k < K; ++k) c |= size_t(s[k] > 0) << k;
    return c;
  };
  for (int64_t n = 0; n < N; ++n) {
    d[code(test.sides[n])] += 1.0 / static_cast<double>(N);
    for (int64_t s = 0; s < S; ++s)
      p[code(passing_sides(task, test.obs.data() + n * C, pred.data() + (s * N + n) * D))] += 1.0 / static_cast<double>(N * S);
  }
  double worst = 0;
  for (size_t m = 0; m < p.size(); ++m) worst = std::max(worst, std::fabs(p[m] - d[m]));
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> kv;
  for (int i = 1; i + 1 < argc; i += 2) kv[argv[i]] = argv[i + 1];
  auto get = [&](const char* k, const char* d) { return kv.count(k) ? kv[k] : std::string(d); };
  ChunkTask task;
  task.obstacles = std::stoi(get("--obstacles", "1"));
  const int64_t n_train = std::stol(get("--n-train", "20000")), epochs = std::stol(get("--epochs", "20"));
  const int64_t M = std::stol(get("--components", "5")), batch = 100, S = 20, W = std::stol(get("--warmup", "500"));
  const uint64_t seed = std::stoul(get("--seed", "1"));
  const double lr = std::stod(get("--lr", "1e-3"));
  const std::string init = get("--init", "labels");
  const bool verbose = get("--verbose", "0") != "0";
  if (init != "labels" && init != "y-labels" && init != "chunks" && init != "none")
    throw std::invalid_argument("bench_mdn_chunks: --init must be labels, y-labels, chunks or none, got " + init);
  Rng data_rng = Rng::stream(seed, 1), test_rng(20160901);  // the driver's streams
  const ChunkData all = make_chunks(task, n_train, data_rng), test = make_chunks(task, 500, test_rng);
  const int64_t n_val = n_train / 10, n_fit = n_train - n_val, N = test.obs.size(0);
  std::vector<int64_t> fit_rows(n_fit), val_rows(n_val);
  std::iota(fit_rows.begin(), fit_rows.end(), 0);
  std::iota(val_rows.begin(), val_rows.end(), n_fit);
  const TensorF obs = rows_of(all.obs, fit_rows), chunk = rows_of(all.chunk, fit_rows);
  const TensorF val_obs = rows_of(all.obs, val_rows), val_chunk = rows_of(all.chunk, val_rows);
  MdnConfig mc{.condition_dim = task.obs_dim(), .target_dim = task.chunk_dim(), .components = M, .hidden = {256, 256},
               .activation = "tanh"};
  mc.rank = std::stol(get("--rank", "0"));
  mc.logit_scale = std::stod(get("--logit-scale", "1"));
  Rng rng(seed);
  MDN<float> mdn(mc, rng);
  std::vector<int64_t> labels;
  if (init == "chunks") mdn.init_means(chunk);
  if (init == "labels" || init == "y-labels") {
    Rng label_rng = Rng::stream(seed, 2);
    labels = mdn.mode_labels(obs, chunk, label_rng, {.residuals = init == "labels"});
  }
  Adam<float> opt(mdn, AdamOptions{.lr = lr});
  std::vector<int64_t> perm(n_fit);
  std::iota(perm.begin(), perm.end(), 0);
  for (int64_t e = 0; e < epochs; ++e) {
    for (int64_t i = n_fit - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(static_cast<uint64_t>(i + 1))]);
    for (int64_t s = 0; s + batch <= n_fit; s += batch) {
      const std::vector<int64_t> r(perm.begin() + s, perm.begin() + s + batch);
      opt.zero_grad();
      const VarF c(rows_of(obs, r)), y(rows_of(chunk, r));
      VarF l;
      if (!labels.empty() && opt.steps() < W) {
        std::vector<int64_t> k(r.size());
        for (size_t i = 0; i < r.size(); ++i) k[i] = labels[r[i]];
        l = mdn.labelled_loss(c, y, k);
      } else {
        l = mdn.loss(c, y);
      }
      l.backward();
      opt.step();
    }
    if (verbose) {
      NoGrad ng;
      const TensorF resp = softmax(mdn.component_log_prob(VarF(test.obs), VarF(test.chunk)), 1).value();
      std::printf("epoch %ld test NLL %.2f responsibilities:", static_cast<long>(e + 1),
                  mdn.loss(VarF(test.obs), VarF(test.chunk)).item());
      for (int64_t m = 0; m < M; ++m) {
        double a = 0;
        for (int64_t n = 0; n < N; ++n) a += resp[n * M + m] / static_cast<double>(N);
        std::printf(" %.3f", a);
      }
      const ChunkMetrics ms = chunk_metrics(task, test, mdn.sample(test.obs, S, rng));
      std::printf("  collisions %.3f left %.3f\n", ms.collision_rate, ms.left_share);
      std::fflush(stdout);
    }
  }
  NoGrad ng;
  auto nll = [&](const TensorF& c, const TensorF& y) {
    std::vector<double> v = mdn.log_prob_values(c, y);
    for (double& x : v) x = -x;
    return estimate_mean(v);
  };
  const MeanEstimate t = nll(test.obs, test.chunk), v = nll(val_obs, val_chunk);
  const TensorF samples = mdn.sample(test.obs, S, rng);
  const ChunkMetrics ms = chunk_metrics(task, test, samples);
  const ChunkMetrics md = chunk_metrics(task, test, mdn.mode_mean(test.obs).reshape({1, N, task.chunk_dim()}));
  std::printf("RESULT init=%s warmup=%ld rank=%ld obstacles=%ld seed=%lu collisions=%.3f det_collisions=%.3f "
              "left=%.3f demo_left=%.3f worst_mode_share=%.3f val_nll=%.2f test_nll=%.2f test_se=%.2f\n",
              init.c_str(), static_cast<long>(W), static_cast<long>(mc.rank), static_cast<long>(task.obstacles),
              static_cast<unsigned long>(seed), ms.collision_rate, md.collision_rate, ms.left_share, ms.demo_left_share,
              worst_mode_share(task, test, samples), v.mean, t.mean, t.se);
  return 0;
}
