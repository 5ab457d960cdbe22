// bench_flow: training steps per second of issue 14's flow recipe on two moons (noise 0.05,
// 20,000 points): 8 couplings, each net a 2-128-128-4 ReLU MLP, alternating masks, no ActNorm,
// Adam 1e-3, batch 256, float32. The flow is models/flow's Flow::build and each step goes through
// the trainer's step (train/trainer.hpp) as apps/flow.cpp trains it: minibatch copy, forward,
// -mean log p, backward, Adam. bench/flow.sh runs this beside bench/flow_torch.py.
//
//   bench_flow [--case affine] [--threads 1,2] [--seconds 2] [--repeats 5] [--profile-steps 300]
//   bench_flow --write-data DIR     the recipe's train/test points as DIR/{train,test}.csv
//   --thread-mode blas              threads the old way: OpenBLAS's own, one engine thread (bench/env.hpp)
//
// --case picks the coupling; cases() is the one list of them (a spline coupling is one more
// entry). Steps per second: the median over `repeats` blocks of seconds/repeats each. Then, with
// --profile-steps N > 0, N more steps under the profiler print where a step's time goes
// (bench/profile_report.hpp); they are separate from the timed blocks.
// --write-data writes the points apps/flow draws for `--data two_moons --noise 0.05 --n 20000
// --n-test 5000` (its default --data-seed 0): the same make_toy calls from the same generator,
// so bench/flow_nll.sh can give PyTorch the data our driver trains and tests on.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/env.hpp"
#include "bench/profile_report.hpp"
#include "datasets/batch.hpp"
#include "datasets/toy.hpp"
#include "models/flow.hpp"
#include "nn/optim.hpp"
#include "train/trainer.hpp"

using namespace lz;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kN = 20000, kNTest = 5000, kBatch = 256;
constexpr double kNoise = 0.05, kLr = 1e-3;

struct Case {
  std::string name, describe;
  std::function<std::shared_ptr<Flow<float>>(Rng&)> build;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"affine", "8 RealNVP affine couplings, 2-128-128-4 ReLU nets, no ActNorm",
       [](Rng& rng) {
         return Flow<float>::build({.dim = 2, .couplings = 8, .hidden = {128, 128}, .actnorm = false}, rng);
       }},
      {"spline", "8 rational-quadratic spline couplings (K = 8 bins on [-3, 3]), 2-128-128-23 ReLU nets, no ActNorm",
       [](Rng& rng) {
         return Flow<float>::build({.dim = 2, .couplings = 8, .hidden = {128, 128}, .actnorm = false,
                                    .coupling = CouplingKind::Spline, .bins = 8, .tail_bound = 3.0},
                                   rng);
       }},
  };
  return c;
}

const Case& find_case(const std::string& name) {
  std::string names;
  for (const Case& c : cases()) {
    if (c.name == name) return c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  throw std::invalid_argument("--case: unknown case '" + name + "' (expected one of: " + names + ")");
}

// apps/flow.cpp's data: one generator seeded with --data-seed (0), train then test.
struct Data {
  Dataset train, test;
  Data() {
    Rng data_rng(0);
    train = make_toy("two_moons", kN, data_rng, kNoise);
    test = make_toy("two_moons", kNTest, data_rng, kNoise);
  }
};

TensorF rows_of(const TensorF& x, const std::vector<int64_t>& rows) {  // as apps/flow.cpp
  const int64_t d = x.size(1);
  TensorF b({static_cast<int64_t>(rows.size()), d});
  for (size_t i = 0; i < rows.size(); ++i) std::copy(x.data() + rows[i] * d, x.data() + (rows[i] + 1) * d, b.data() + i * d);
  return b;
}

struct Training {
  const Dataset& data;
  Rng rng{0};
  std::shared_ptr<Flow<float>> flow;
  Adam<float> opt;
  Trainer<float> trainer;
  Trainer<float>::LossFn loss;
  std::vector<std::vector<int64_t>> batches;
  size_t next = 0;
  int64_t steps = 0;
  Training(const Case& c, const Dataset& d)
      : data(d), flow(c.build(rng)), opt(*flow, AdamOptions{.lr = kLr}),
        trainer(*flow, opt, rng, TrainerOptions{.label = "bench_flow", .batch = kBatch}) {
    flow->initialise(data.x);  // as the driver does (a no-op without ActNorm)
    loss = [this](const std::vector<int64_t>& rows, const StepContext&) {
      return neg(mean(flow->log_prob(VarF(rows_of(data.x, rows)))));
    };
  }
  double step() {
    if (next == batches.size()) {
      batches = epoch_batches(data.size(), kBatch, rng);
      next = 0;
    }
    return trainer.step(batches[next++], loss, StepContext{.step = ++steps, .rng = &rng});
  }
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Median steps/s over `repeats` blocks, each sized by a 0.1 s probe (bench/engine.cpp's rule).
template <typename Step>
double steps_per_s(Step step, double seconds, int repeats) {
  for (int i = 0; i < 20; ++i) step();  // warm-up: storage cache, BLAS buffers, page faults
  const auto t0 = Clock::now();
  int probe = 0;
  while (seconds_since(t0) < 0.1) step(), ++probe;
  const int per_block = std::max(1, static_cast<int>(probe * seconds / repeats / seconds_since(t0)));
  std::vector<double> r;
  for (int b = 0; b < repeats; ++b) {
    const auto t = Clock::now();
    for (int i = 0; i < per_block; ++i) step();
    r.push_back(per_block / seconds_since(t));
  }
  std::sort(r.begin(), r.end());
  return r[r.size() / 2];
}


void write_csv(const TensorF& x, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("--write-data: cannot write " + path);
  std::fprintf(f, "x0,x1\n");
  for (int64_t i = 0; i < x.size(0); ++i) std::fprintf(f, "%.9g,%.9g\n", x[2 * i], x[2 * i + 1]);  // 9 digits: exact floats
  if (std::fclose(f) != 0) throw std::runtime_error("--write-data: error writing " + path);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<int> threads{1, 2};
    double seconds = 2.0;
    int repeats = 5, profile_steps = 0;
    std::string case_name = "affine", write_dir;
    bool blas_threads_mode = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument("flag " + a + " needs a value");
      const std::string v = argv[++i];
      if (a == "--threads") threads = bench::parse_threads(v);
      else if (a == "--seconds") seconds = std::stod(v);
      else if (a == "--repeats") repeats = std::stoi(v);
      else if (a == "--profile-steps") profile_steps = std::stoi(v);
      else if (a == "--case") case_name = v;
      else if (a == "--write-data") write_dir = v;
      else if (a == "--thread-mode" && (v == "engine" || v == "blas")) blas_threads_mode = v == "blas";
      else
        throw std::invalid_argument("unknown flag or value " + a + " " + v +
                                    " (expected --case, --threads, --seconds, --repeats, --profile-steps, --write-data,"
                                    " --thread-mode engine|blas)");
    }
    if (!(seconds > 0) || repeats < 1 || profile_steps < 0)
      throw std::invalid_argument("--seconds must be > 0, --repeats >= 1, --profile-steps >= 0");
    const Data data;
    if (!write_dir.empty()) {
      write_csv(data.train.x, write_dir + "/train.csv");
      write_csv(data.test.x, write_dir + "/test.csv");
      std::printf("wrote %s/train.csv (%ld rows), %s/test.csv (%ld rows)\n", write_dir.c_str(), long(data.train.size()),
                  write_dir.c_str(), long(data.test.size()));
      return 0;
    }
    const Case& c = find_case(case_name);
    bench::print_env();
    std::printf("ours case=%s: %s\n", c.name.c_str(), c.describe.c_str());
    for (int t : threads) {
      bench::use_threads(t, blas_threads_mode);
      Training tr(c, data.train);  // a fresh flow per setting: every setting times the same steps
      const double first = tr.step();
      const double r = steps_per_s([&] { tr.step(); }, seconds, repeats);
      std::printf("ours case=%s threads=%d mode=%s steps_per_s=%.2f step_ms=%.4f\n", c.name.c_str(), t,
                  bench::thread_mode(blas_threads_mode), r, 1e3 / r);
      std::fflush(stdout);
      if (profile_steps > 0) bench::print_time_shares(t, profile_steps, [&] { tr.step(); });
      // Training really happens: the NLL after these steps is below the first step's.
      const double last = tr.step();
      std::printf("ours case=%s threads=%d loss first=%.4f last=%.4f steps=%ld\n", c.name.c_str(), t, first, last,
                  long(tr.steps));
      if (!(last < first)) throw std::runtime_error("loss did not fall: the bench is not training");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
