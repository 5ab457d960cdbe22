// bench_vae: training throughput of the pytorch/examples VAE (784-400-20-400-784, ReLU, Bernoulli
// logits, Adam 1e-3, batch 128) on Fashion-MNIST, and the GEMM-only bound: the same eleven matrix
// products of one step (4 forward, 7 backward) run back to back with nothing else.
//
//   bench_vae [--threads N] [--seconds S] [--windows W] [--k K] [--cache-mb M] [--profile-steps P]
// --k K > 1 trains the IWAE-K bound instead (same model, K samples per image); --cache-mb sets
// the tensor storage cache's per-thread cap (tensor/storage.hpp; 0 turns reuse off). --profile-steps
// P > 0: after the timed windows, P more steps under the profiler print where a step's time goes
// (bench/profile_report.hpp). --thread-mode blas runs N threads the old way, OpenBLAS's own
// threads with one engine thread (bench/env.hpp: use_threads), to show the before and after.
// Training and GEMM-only windows alternate (W of each, S/W seconds each), so both see the same
// background load on a shared machine; each figure is its best window (the one least disturbed by
// other processes; vae_torch.py uses the same rule). The two kinds of window are equally long: the
// best of shorter windows is a higher draw from the same noise, so GEMM-only windows a third as
// long (as before 2026-12-04) biased the bound up and our share of it down (docs/benchmarks.md).
// Prints "images_per_s=<x> gemm_images_per_s=<g> peak_rss_mb=<y> cache_hits=.. cache_misses=.." (bench/vae.sh
// parses it; the cache counts are the timed windows' large-buffer requests, tensor/storage.hpp).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "bench/env.hpp"
#include "bench/profile_report.hpp"
#include "datasets/batch.hpp"
#include "datasets/idx.hpp"
#include "models/iwae.hpp"
#include "models/vae.hpp"
#include "nn/optim.hpp"
#include "train/trainer.hpp"

using namespace lz;
using Clock = std::chrono::steady_clock;

namespace {

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int64_t kBatch = 128, kD = 784, kH = 400, kZ = 20;

// Images per second of `step` (kBatch images each) over `seconds`.
double rate(const std::function<void()>& step, double seconds) {
  int64_t steps = 0;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < seconds) {
    step();
    ++steps;
  }
  return static_cast<double>(steps * kBatch) / seconds_since(t0);
}

// The eleven products of one step, with the transpose flags the engine's linear op uses.
struct GemmOnly {
  Rng rng{1};
  TensorF r(int64_t a, int64_t b) { return TensorF::normal({a, b}, 0, 0.1f, rng); }
  TensorF x = r(kBatch, kD), w1 = r(kH, kD), w2 = r(2 * kZ, kH), w3 = r(kH, kZ), w4 = r(kD, kH);
  TensorF h1 = r(kBatch, kH), z = r(kBatch, kZ), h3 = r(kBatch, kH);
  TensorF g4 = r(kBatch, kD), g3 = r(kBatch, kH), g2 = r(kBatch, 2 * kZ), g1 = r(kBatch, kH);
  TensorF o1{{kBatch, kH}}, o2{{kBatch, 2 * kZ}}, o3{{kBatch, kH}}, o4{{kBatch, kD}};
  TensorF dw4{{kD, kH}}, dh3{{kBatch, kH}}, dw3{{kH, kZ}}, dz{{kBatch, kZ}}, dw2{{2 * kZ, kH}}, dh1{{kBatch, kH}},
      dw1{{kH, kD}};
  void step() {
    gemm_into(x, w1, o1, false, true, 1.f, 0.f);  // forward: x W^T
    gemm_into(h1, w2, o2, false, true, 1.f, 0.f);
    gemm_into(z, w3, o3, false, true, 1.f, 0.f);
    gemm_into(h3, w4, o4, false, true, 1.f, 0.f);
    gemm_into(g4, h3, dw4, true, false, 1.f, 0.f);  // backward: dW = g^T X, dX = g W
    gemm_into(g4, w4, dh3, false, false, 1.f, 0.f);
    gemm_into(g3, z, dw3, true, false, 1.f, 0.f);
    gemm_into(g3, w3, dz, false, false, 1.f, 0.f);
    gemm_into(g2, h1, dw2, true, false, 1.f, 0.f);
    gemm_into(g2, w2, dh1, false, false, 1.f, 0.f);
    gemm_into(g1, x, dw1, true, false, 1.f, 0.f);
  }
};

// A training step exactly as the drivers take it: through the trainer's step (train/trainer.hpp).
struct Training {
  Dataset data = load_fashion_mnist("train");
  Rng rng{1};
  VAE<float> model{VaeConfig{.x_dim = kD, .hidden = {kH}, .z_dim = kZ, .activation = "relu"}, rng};
  Adam<float> opt{model, AdamOptions{.lr = 1e-3}};
  Trainer<float> trainer{model, opt, rng, TrainerOptions{.label = "bench_vae", .batch = kBatch}};
  int64_t k = 1;
  Trainer<float>::LossFn loss = [this](const std::vector<int64_t>& rows, const StepContext&) {
    const Batch b = make_batch(data, rows);
    if (k > 1) return iwae_loss(model, VarF(b.x), standard_normal<float>({k, b.x.size(0), kZ}, rng));
    return elbo_loss(model, VarF(b.x), standard_normal<float>({b.x.size(0), kZ}, rng));
  };
  std::vector<std::vector<int64_t>> batches;
  size_t next = 0;
  int64_t steps = 0;
  void step() {
    if (next == batches.size()) {
      batches = epoch_batches(data.size(), kBatch, rng);
      next = 0;
    }
    trainer.step(batches[next++], loss, StepContext{.step = ++steps, .rng = &rng});
  }
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, windows = 3, k = 1, profile_steps = 0;
  long cache_mb = -1;
  double seconds = 10;
  bool blas_threads_mode = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (a == "--windows" && i + 1 < argc) windows = std::atoi(argv[++i]);
    else if (a == "--k" && i + 1 < argc) k = std::atoi(argv[++i]);
    else if (a == "--cache-mb" && i + 1 < argc) cache_mb = std::atol(argv[++i]);
    else if (a == "--profile-steps" && i + 1 < argc) profile_steps = std::atoi(argv[++i]);
    else if (a == "--thread-mode" && i + 1 < argc && (argv[i + 1] == std::string("engine") || argv[i + 1] == std::string("blas")))
      blas_threads_mode = argv[++i] == std::string("blas");
    else {
      std::fprintf(stderr, "error: unknown argument '%s' (expected --threads N, --seconds S, --windows W, --k K, --cache-mb M, --profile-steps P, --thread-mode engine|blas)\n", a.c_str());
      return 1;
    }
  }
  if (threads < 1 || seconds <= 0 || windows < 1 || k < 1 || profile_steps < 0) {
    std::fprintf(stderr, "error: --threads, --windows and --k must be >= 1, --seconds > 0, --profile-steps >= 0\n");
    return 1;
  }
  if (cache_mb >= 0) storage::set_cache_cap(static_cast<size_t>(cache_mb) << 20);
  bench::use_threads(threads, blas_threads_mode);
  bench::print_env();
  try {
    Training t;
    t.k = k;
    GemmOnly g;
    for (int i = 0; i < 20; ++i) t.step(), g.step();  // warm-up: allocator, BLAS buffers, page faults
    const storage::CacheStats c0 = storage::thread_stats();
    double best = 0, best_gemm = 0;
    for (int w = 0; w < windows; ++w) {
      best = std::max(best, rate([&] { t.step(); }, seconds / windows));
      best_gemm = std::max(best_gemm, rate([&] { g.step(); }, seconds / windows));
    }
    const storage::CacheStats c1 = storage::thread_stats();
    // After the warm-up every large buffer should come from the cache: misses here mean the cap is
    // too small for the step (or a size pattern that changes step to step).
    std::printf("images_per_s=%.1f gemm_images_per_s=%.1f peak_rss_mb=%.1f cache_hits=%llu cache_misses=%llu thread_mode=%s\n",
                best,
                best_gemm, peak_rss_mb(), static_cast<unsigned long long>(c1.hits - c0.hits),
                static_cast<unsigned long long>(c1.misses - c0.misses), bench::thread_mode(blas_threads_mode));
    std::fflush(stdout);
    if (profile_steps > 0) bench::print_time_shares(threads, profile_steps, [&] { t.step(); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
