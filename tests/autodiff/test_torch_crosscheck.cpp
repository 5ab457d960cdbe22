// Cross-check with PyTorch: the same 5-8-6 tanh MLP, the same weights and a loss built from
// several of our stable ops, in double; loss and every gradient element must agree within
// 1e-10 relative. tests/python/torch_engine_check.py is the reference (run with /usr/bin/python3).
#define BOOST_TEST_MODULE torch_crosscheck
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "peer.hpp"

using namespace lz;
using nlohmann::json;

namespace {
constexpr int64_t N = 7, IN = 5, HID = 8, OUT = 6;

json to_json(const TensorD& t) { return {{"shape", t.shape()}, {"data", t.to_vector()}}; }

// Must match the loss in torch_engine_check.py term for term.
VarD loss_of(const VarD& x, const VarD& W1, const VarD& b1, const VarD& W2, const VarD& b2, const TensorD& y,
             const TensorD& t, const std::vector<int64_t>& labels) {
  const VarD h = tanh(linear(x, W1, b1));
  const VarD out = linear(h, W2, b2);
  const auto p = split(out, {2, 2, 2}, 1);  // mean | logvar | logits
  const VarD &mu = p[0], &logvar = p[1], &logits = p[2];
  return mean(logsumexp(out, 1)) - mean(gaussian_log_density(VarD(y), mu, logvar)) +
         mean(sum(kl_std_normal(mu, logvar), 1)) + mean(bce_with_logits(logits, VarD(t))) +
         nll(log_softmax(out, 1), labels) + sum(log_mean_exp(out, 0)) + mean(softplus(out)) * 0.1;
}
}  // namespace

LZ_SKIPPABLE_CASE(mlp_loss_and_gradients_match_pytorch) {
  Rng rng(2024);
  const TensorD x = TensorD::normal({N, IN}, 0, 1, rng), W1 = TensorD::normal({HID, IN}, 0, 0.6, rng),
                b1 = TensorD::normal({HID}, 0, 0.2, rng), W2 = TensorD::normal({OUT, HID}, 0, 0.5, rng),
                b2 = TensorD::normal({OUT}, 0, 0.2, rng), y = TensorD::normal({N, 2}, 0, 1, rng),
                t = TensorD::uniform({N, 2}, 0, 1, rng);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < N; ++i) labels.push_back(static_cast<int64_t>(rng.below(OUT)));

  VarD vx(x, true), vW1(W1, true), vb1(b1, true), vW2(W2, true), vb2(b2, true);
  VarD loss = loss_of(vx, vW1, vb1, vW2, vb2, y, t, labels);
  loss.backward();

  const json in = {{"x", to_json(x)},   {"W1", to_json(W1)}, {"b1", to_json(b1)}, {"W2", to_json(W2)},
                   {"b2", to_json(b2)}, {"y", to_json(y)},   {"t", to_json(t)},   {"labels", labels}};
  const auto path = std::filesystem::temp_directory_path() / ("lz_torch_check_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << in.dump();
  test::Run pr;
  const bool ran = test::run_peer("python3-torch", "torch_engine_check.py", path.string(), &pr);
  std::filesystem::remove(path);
  if (!ran) return;
  const json ref = json::parse(pr.output);
  BOOST_TEST_MESSAGE("PyTorch " << ref["torch"].get<std::string>() << ": loss " << ref["loss"].get<double>());

  auto rel = [](double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); };
  const double want = ref["loss"];
  BOOST_TEST(rel(loss.item(), want) <= 1e-10, "loss " << loss.item() << " vs torch " << want);
  double worst = 0;
  int64_t compared = 0;
  for (const auto& [name, v] : std::vector<std::pair<std::string, VarD>>{{"x", vx}, {"W1", vW1}, {"b1", vb1}, {"W2", vW2}, {"b2", vb2}}) {
    const std::vector<double> g = ref["grads"][name];
    BOOST_REQUIRE(static_cast<int64_t>(g.size()) == v.numel());
    for (int64_t i = 0; i < v.numel(); ++i) {
      BOOST_TEST(rel(v.grad()[i], g[i]) <= 1e-10, name << "[" << i << "]: ours " << v.grad()[i] << " vs torch " << g[i]);
      worst = std::max(worst, rel(v.grad()[i], g[i]));
      ++compared;
    }
  }
  BOOST_TEST(compared == N * IN + HID * IN + HID + OUT * HID + OUT);
  BOOST_TEST_MESSAGE(compared << " gradient elements compared; worst relative difference " << worst);
}
