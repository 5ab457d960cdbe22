// One training step of a 784-400-20 ReLU MLP, batch 128, float: forward, log_softmax + nll,
// backward, SGD update (one axpy over the module's flat parameter buffer). Prints steps per
// second at each requested thread count, and the share of the step spent in sgemm (the
// step's five GEMMs timed alone, same shapes, back to back).
// bench/engine.sh runs this beside bench/engine_torch.py (the same step in PyTorch).
//
//   bench_engine [--threads 1,2] [--seconds 2] [--repeats 5] [--profile-steps N] [--thread-mode engine|blas]
// --thread-mode blas runs the threads the old way, OpenBLAS's own with one engine thread
// (bench/env.hpp: use_threads), to show the before and after of the engine's threads.
// --profile-steps N > 0: after each setting's timing, N more steps under the profiler print where
// a step's time goes (bench/profile_report.hpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "bench/env.hpp"
#include "bench/profile_report.hpp"
#include "nn/module.hpp"

using namespace lz;
using Clock = std::chrono::steady_clock;

namespace {
constexpr int64_t kBatch = 128, kIn = 784, kHidden = 400, kOut = 20;
constexpr float kLr = 0.01f;

// The four parameters in one Module, so they live in one buffer (nn/module.hpp) and the SGD
// update is one axpy over all of them, as data-parallel training will all-reduce them.
struct Mlp : Module<float> {
  VarF w1, b1, w2, b2;
  explicit Mlp(Rng& rng) {
    // PyTorch's Linear init: U(-1/sqrt(in), 1/sqrt(in))
    const float a1 = 1.0f / std::sqrt(float(kIn)), a2 = 1.0f / std::sqrt(float(kHidden));
    w1 = register_parameter("w1", TensorF::uniform({kHidden, kIn}, -a1, a1, rng));
    b1 = register_parameter("b1", TensorF::uniform({kHidden}, -a1, a1, rng));
    w2 = register_parameter("w2", TensorF::uniform({kOut, kHidden}, -a2, a2, rng));
    b2 = register_parameter("b2", TensorF::uniform({kOut}, -a2, a2, rng));
  }
};

float step(Mlp& m, const VarF& x, const std::vector<int64_t>& labels) {
  const VarF logits = linear(relu(linear(x, m.w1, m.b1)), m.w2, m.b2);
  const VarF loss = nll(log_softmax(logits, 1), labels);
  loss.backward();
  NoGrad ng;
  TensorF p = m.flat_parameters();
  vec::axpy(p.numel(), -kLr, m.flat_gradients().data(), p.data());
  m.zero_grad();
  return loss.item();
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Blocks of the step alternate with blocks of its GEMMs alone, so both see the same machine
// load (other processes share these 2 cores); the medians over `repeats` pairs are reported.
struct Rates {
  double steps_per_s, gemm_sets_per_s, share;
};
template <typename Step, typename Gemm>
Rates measure(Step step, Gemm gemm, double seconds, int repeats) {
  for (int i = 0; i < 5; ++i) step(), gemm();  // warm-up: allocator, BLAS buffers, caches
  const auto t0 = Clock::now();
  int probe = 0;
  while (seconds_since(t0) < 0.1) step(), ++probe;
  const int per_block = std::max(1, static_cast<int>(probe * seconds / repeats / seconds_since(t0)));
  std::vector<double> s, g, share;
  for (int b = 0; b < repeats; ++b) {
    auto t = Clock::now();
    for (int i = 0; i < per_block; ++i) step();
    const double ts = seconds_since(t);
    t = Clock::now();
    for (int i = 0; i < per_block; ++i) gemm();
    const double tg = seconds_since(t);
    s.push_back(per_block / ts), g.push_back(per_block / tg), share.push_back(tg / ts);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(s), median(g), median(share)};
}

// The step's GEMMs alone: forward x W1^T and h W2^T; backward dW2 = g^T h, dh = g W2, dW1 = g1^T x.
struct Gemms {
  TensorF x, w1, w2, h, g, g1, o1, o2, dw2, dh, dw1;
  explicit Gemms(Rng& rng)
      : x(TensorF::normal({kBatch, kIn}, 0, 1, rng)), w1(TensorF::normal({kHidden, kIn}, 0, 1, rng)),
        w2(TensorF::normal({kOut, kHidden}, 0, 1, rng)), h(TensorF::normal({kBatch, kHidden}, 0, 1, rng)),
        g(TensorF::normal({kBatch, kOut}, 0, 1, rng)), g1(TensorF::normal({kBatch, kHidden}, 0, 1, rng)),
        o1({kBatch, kHidden}), o2({kBatch, kOut}), dw2({kOut, kHidden}), dh({kBatch, kHidden}), dw1({kHidden, kIn}) {}
  void run() {
    gemm_into(x, w1, o1, false, true, 1.0f, 0.0f);
    gemm_into(h, w2, o2, false, true, 1.0f, 0.0f);
    gemm_into(g, h, dw2, true, false, 1.0f, 0.0f);
    gemm_into(g, w2, dh, false, false, 1.0f, 0.0f);
    gemm_into(g1, x, dw1, true, false, 1.0f, 0.0f);
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<int> threads{1, 2};
    double seconds = 2.0;
    int repeats = 5, profile_steps = 0;
    bool blas_threads_mode = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument("flag " + a + " needs a value");
      const std::string v = argv[++i];
      if (a == "--threads")
        threads = bench::parse_threads(v);
      else if (a == "--seconds")
        seconds = std::stod(v);
      else if (a == "--repeats")
        repeats = std::stoi(v);
      else if (a == "--profile-steps")
        profile_steps = std::stoi(v);
      else if (a == "--thread-mode" && (v == "engine" || v == "blas"))
        blas_threads_mode = v == "blas";
      else
        throw std::invalid_argument("unknown flag or value " + a + " " + v +
                                    " (expected --threads, --seconds, --repeats, --profile-steps, --thread-mode engine|blas)");
    }
    bench::print_env();
    Rng rng(1);
    Mlp m(rng);
    const VarF x(TensorF::normal({kBatch, kIn}, 0, 1, rng));
    std::vector<int64_t> labels(kBatch);
    for (auto& l : labels) l = static_cast<int64_t>(rng.below(kOut));
    Gemms gemms(rng);

    const float first = step(m, x, labels);
    for (int t : threads) {
      bench::use_threads(t, blas_threads_mode);
      const Rates r = measure([&] { step(m, x, labels); }, [&] { gemms.run(); }, seconds, repeats);
      std::printf("ours threads=%d mode=%s steps_per_s=%.2f step_ms=%.3f sgemm_ms=%.3f sgemm_share=%.3f\n", t,
                  bench::thread_mode(blas_threads_mode), r.steps_per_s,
                  1e3 / r.steps_per_s, 1e3 / r.gemm_sets_per_s, r.share);
      std::fflush(stdout);
      if (profile_steps > 0) bench::print_time_shares(t, profile_steps, [&] { step(m, x, labels); });
    }
    // Training really happens: the loss on the one fixed batch falls.
    const float last = step(m, x, labels);
    std::printf("ours loss first=%.4f last=%.4f\n", first, last);
    if (!(last < first)) throw std::runtime_error("loss did not fall: the bench is not training");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
