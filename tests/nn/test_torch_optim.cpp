#define BOOST_TEST_MODULE nn_torch_optim
#include <boost/test/unit_test.hpp>

// Cross-check with PyTorch: a 4-6-3 tanh MLP in double, same initial weights (passed through a
// JSON file), 20 steps of each optimizer on the mean squared error to fixed targets; the final
// parameters must agree within 1e-10 (relative to max(1, |value|)). One run also clips the
// gradient norm and follows a cosine schedule, so the norms and learning rates are compared too.

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "nn/schedule.hpp"
#include "peer.hpp"

using namespace lz;
using nlohmann::json;

namespace {

struct RunSpec {
  std::string name, opt;
  double lr, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  double clip = 0;       // 0: no clipping
  int64_t cosine_tmax = 0;  // 0: constant lr
  double eta_min = 0;
};

json to_json(const TensorD& t) {
  if (t.dim() == 1) return t.to_vector();
  json rows = json::array();
  for (int64_t i = 0; i < t.size(0); ++i) {
    std::vector<double> r(t.data() + i * t.size(1), t.data() + (i + 1) * t.size(1));
    rows.push_back(r);
  }
  return rows;
}

struct Result {
  std::map<std::string, std::vector<double>> params;
  std::vector<double> losses, norms, lrs;
};

Result train_ours(const RunSpec& r, const std::vector<int64_t>& sizes, uint64_t seed, const TensorD& X, const TensorD& Y) {
  Rng rng(seed);
  MLP<double> mlp(sizes, Activation::Tanh, rng);
  std::unique_ptr<Optimizer<double>> opt;
  if (r.opt == "sgd")
    opt = std::make_unique<SGD<double>>(mlp, SGDOptions{.lr = r.lr, .momentum = r.momentum, .dampening = r.dampening,
                                                        .weight_decay = r.weight_decay, .nesterov = r.nesterov});
  else if (r.opt == "adam")
    opt = std::make_unique<Adam<double>>(mlp, AdamOptions{.lr = r.lr, .weight_decay = r.weight_decay});
  else
    opt = std::make_unique<AdamW<double>>(mlp, AdamOptions{.lr = r.lr, .weight_decay = r.weight_decay});
  std::unique_ptr<CosineAnnealingLR> sched;
  if (r.cosine_tmax) sched = std::make_unique<CosineAnnealingLR>(r.lr, r.cosine_tmax, r.eta_min);
  Result res;
  for (int64_t t = 0; t < 20; ++t) {
    if (sched) opt->set_lr((*sched)(t));
    opt->zero_grad();
    VarD loss = mean(square(sub(mlp(VarD(X)), VarD(Y))));
    loss.backward();
    if (r.clip > 0) res.norms.push_back(clip_grad_norm(mlp.parameters(), r.clip));
    res.lrs.push_back(opt->lr());
    opt->step();
    res.losses.push_back(loss.item());
  }
  for (auto& [n, v] : mlp.named_parameters()) res.params[n] = v.value().to_vector();
  return res;
}

// max over i of |a-b| / max(1, |b|)
double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  BOOST_TEST_REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
  return m;
}

}  // namespace

LZ_SKIPPABLE_CASE(twenty_steps_match_pytorch) {
  const std::vector<int64_t> sizes = {4, 6, 3};
  const uint64_t seed = 2024;
  Rng data_rng(7);
  const TensorD X = TensorD::normal({8, 4}, 0, 1.5, data_rng), Y = TensorD::normal({8, 3}, 0, 1, data_rng);
  const std::vector<RunSpec> runs = {
      {.name = "sgd_nesterov_wd", .opt = "sgd", .lr = 0.1, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true},
      {.name = "sgd_dampening", .opt = "sgd", .lr = 0.05, .momentum = 0.8, .dampening = 0.3},
      {.name = "adam_l2", .opt = "adam", .lr = 1e-2, .weight_decay = 1e-3},
      {.name = "adamw_clip_cosine", .opt = "adamw", .lr = 2e-2, .weight_decay = 0.1, .clip = 0.5, .cosine_tmax = 20,
       .eta_min = 1e-3},
  };

  json job;
  job["sizes"] = sizes;
  job["X"] = to_json(X);
  job["Y"] = to_json(Y);
  std::map<std::string, std::vector<double>> init_flat;
  {
    Rng rng(seed);
    MLP<double> init(sizes, Activation::Tanh, rng);
    for (auto& [n, v] : init.named_parameters()) {
      job["init"][n] = to_json(v.value());
      init_flat[n] = v.value().to_vector();
    }
  }
  for (const auto& r : runs) {
    json j = {{"name", r.name}, {"opt", r.opt}, {"lr", r.lr}, {"momentum", r.momentum}, {"dampening", r.dampening},
              {"nesterov", r.nesterov}, {"weight_decay", r.weight_decay}, {"beta1", 0.9}, {"beta2", 0.999},
              {"eps", 1e-8}, {"steps", 20}, {"clip", r.clip > 0 ? json(r.clip) : json(nullptr)}};
    j["cosine"] = r.cosine_tmax ? json{{"T_max", r.cosine_tmax}, {"eta_min", r.eta_min}} : json(nullptr);
    job["runs"].push_back(j);
  }
  const auto dir = test::temp_dir("torch_optim");
  const auto job_path = dir / "job.json", out_path = dir / "torch.json";
  std::ofstream(job_path) << job.dump();
  if (!test::run_peer("python3-torch", "torch_optim_check.py", job_path.string() + " " + out_path.string())) {
    std::filesystem::remove_all(dir);
    return;
  }
  std::ifstream in(out_path);
  const json torch_out = json::parse(in);
  BOOST_TEST_MESSAGE("PyTorch " << torch_out["torch"].get<std::string>());

  double worst = 0;
  for (size_t k = 0; k < runs.size(); ++k) {
    const Result ours = train_ours(runs[k], sizes, seed, X, Y);
    const json& th = torch_out["runs"][k];
    BOOST_TEST_REQUIRE(th["name"].get<std::string>() == runs[k].name);
    double run_max = 0, moved = 0;
    for (const auto& [n, v] : ours.params) {
      const auto ref = th["params"][n].get<std::vector<double>>();
      const double d = max_rel_diff(v, ref);
      BOOST_TEST(d <= 1e-10, runs[k].name << " " << n << ": max relative difference " << d);
      run_max = std::max(run_max, d);
      // The runs must actually move the weights, else agreement would prove nothing.
      const auto& init = init_flat.at(n);
      for (size_t i = 0; i < ref.size(); ++i) moved = std::max(moved, std::abs(ref[i] - init[i]));
    }
    BOOST_TEST(moved > 1e-2, runs[k].name << " barely moved the parameters (" << moved << ")");
    const double dl = max_rel_diff(ours.losses, th["losses"].get<std::vector<double>>());
    BOOST_TEST(dl <= 1e-10, runs[k].name << " losses differ by " << dl);
    BOOST_TEST(ours.losses.back() < ours.losses.front(), runs[k].name << " did not reduce the loss");
    if (runs[k].clip > 0) {
      const auto tn = th["norms"].get<std::vector<double>>();
      BOOST_TEST(max_rel_diff(ours.norms, tn) <= 1e-10, runs[k].name << " clip norms differ");
      BOOST_TEST(*std::max_element(tn.begin(), tn.end()) > runs[k].clip, "clipping never engaged");
    }
    BOOST_TEST(max_rel_diff(ours.lrs, th["lrs"].get<std::vector<double>>()) <= 1e-12, runs[k].name << " lrs differ");
    BOOST_TEST_MESSAGE(runs[k].name << ": max relative parameter difference vs PyTorch " << run_max
                                    << ", loss " << ours.losses.front() << " -> " << ours.losses.back());
    worst = std::max(worst, run_max);
  }
  BOOST_TEST_MESSAGE("worst parameter difference over all runs: " << worst);
  std::filesystem::remove_all(dir);
}
