// One optimizer step over the parameters of the bench VAE (784-400-20-400-784: 8 tensors, 0.65 M
// floats) two ways: the module's parameters in one buffer (one fused pass over the whole model,
// nn/module.hpp) and the same values as loose Vars (one pass per tensor, what the flat buffer
// replaced). The gradients are fixed, so only the update is timed. Prints the median time of
// one step for SGD with momentum, Adam and AdamW, both ways (alternating blocks, so both see the
// same load on a shared machine), and checks they agree bit for bit.
//
//   bench_optim [--seconds 1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/mlp.hpp"
#include "nn/optim.hpp"

using namespace lz;
using Clock = std::chrono::steady_clock;

namespace {

struct Vae : Module<float> {
  explicit Vae(Rng& rng) {
    register_module("encoder", std::make_shared<MLP<float>>(std::vector<int64_t>{784, 400, 40}, Activation::ReLU, rng));
    register_module("decoder", std::make_shared<MLP<float>>(std::vector<int64_t>{20, 400, 784}, Activation::ReLU, rng));
  }
};

double median_ms(const std::function<void()>& f, double seconds) {
  for (int i = 0; i < 5; ++i) f();
  std::vector<double> ms;
  const auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds || ms.size() < 11) {
    const auto t = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    double seconds = 1.0;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--seconds" && i + 1 < argc)
        seconds = std::stod(argv[++i]);
      else
        throw std::invalid_argument("unknown flag " + a + " (expected --seconds S)");
    }
    using Make = std::function<std::unique_ptr<Optimizer<float>>(std::vector<VarF>)>;
    const std::vector<std::pair<std::string, Make>> optimizers = {
        {"sgd_momentum", [](auto p) { return std::make_unique<SGD<float>>(p, SGDOptions{.lr = 1e-2, .momentum = 0.9}); }},
        {"adam", [](auto p) { return std::make_unique<Adam<float>>(p, AdamOptions{}); }},
        {"adamw", [](auto p) { return std::make_unique<AdamW<float>>(p, AdamOptions{}); }},
    };
    for (const auto& [name, make] : optimizers) {
      Rng rng(1);
      Vae m(rng);
      std::vector<VarF> flat = m.parameters(), loose;
      for (VarF& p : flat) {
        loose.emplace_back(p.value().clone(), true);
        const TensorF g = TensorF::normal(p.shape(), 0, 1e-2f, rng);
        for (VarF* v : {&loose.back(), &p}) {
          v->zero_grad();
          v->grad_mut() = g.clone();
        }
      }
      m.flat_gradients();  // the gradients into the module's one gradient buffer
      auto a = make(flat), b = make(loose);
      std::vector<double> fa, lo;
      for (int r = 0; r < 5; ++r) {
        fa.push_back(median_ms([&] { a->step(); }, seconds / 5));
        lo.push_back(median_ms([&] { b->step(); }, seconds / 5));
      }
      std::sort(fa.begin(), fa.end());
      std::sort(lo.begin(), lo.end());
      const double flat_ms = fa[2], loose_ms = lo[2];
      // Brought to the same number of steps from the same values and gradients, they agree.
      while (a->steps() < b->steps()) a->step();
      while (b->steps() < a->steps()) b->step();
      bool same = true;
      for (size_t i = 0; i < flat.size(); ++i)
        same = same && std::memcmp(flat[i].value().data(), loose[i].value().data(), sizeof(float) * flat[i].numel()) == 0;
      std::printf("INFO optim_%s_step_ms flat=%.3f per_tensor=%.3f ratio=%.2f (%lld floats in %zu tensors; %lld vs %lld passes; bitwise %s)\n",
                  name.c_str(), flat_ms, loose_ms, loose_ms / flat_ms, static_cast<long long>(m.num_parameters()),
                  flat.size(), static_cast<long long>(a->last_step_passes()),
                  static_cast<long long>(b->last_step_passes()), same ? "equal" : "DIFFERENT");
      if (!same) throw std::runtime_error(name + ": the flat and per-tensor steps differ");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
