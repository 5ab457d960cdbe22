#define BOOST_TEST_MODULE vae_torch
#include <boost/test/unit_test.hpp>

// The VAE and IWAE losses and every parameter gradient against PyTorch: same initial weights, same
// data, same ε (handed over in a temporary JSON file), in float (1e-4 relative) and double (1e-10).
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "models/iwae.hpp"
#include "models/vae.hpp"
#include "peer.hpp"

using namespace lz;
using json = nlohmann::json;

namespace {


template <typename T>
json tensor_json(const Tensor<T>& t) {
  return {{"shape", t.shape()}, {"data", std::vector<double>(t.data(), t.data() + t.numel())}};
}

// ‖a − b‖∞ / ‖b‖∞ over one gradient tensor: elementwise relative error is meaningless for the
// entries that are ~0, while a scale-relative one still catches any wrong entry.
double rel_inf(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale == 0 ? diff : diff / scale;
}

// Writes one case's input file and returns the check to run once torch has written `out_path`.
// (All cases go to one python3 process: importing torch costs seconds each time.)
template <typename T>
std::function<void()> prepare_case(VaeLikelihood lik, const std::string& act, bool learn_var, double tol,
                                   const std::string& in_path, const std::string& out_path) {
  const std::string what = std::string(sizeof(T) == 8 ? "double" : "float") + ", " +
                           (lik == VaeLikelihood::Bernoulli ? "Bernoulli" : learn_var ? "Gaussian(learned var)" : "Gaussian(fixed var)") +
                           ", " + act;
  VaeConfig c;
  c.x_dim = 12;
  c.hidden = {7, 5};
  c.z_dim = 3;
  c.activation = act;
  c.likelihood = lik;
  c.learn_variance = learn_var;
  c.init_logvar = -0.4;
  Rng rng(11);
  auto m = std::make_shared<VAE<T>>(c, rng);
  const int64_t B = 5, k = 6;
  Tensor<T> x = Tensor<T>::uniform({B, c.x_dim}, 0, 1, rng);
  if (lik == VaeLikelihood::Bernoulli)
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = x[i] < T(0.5) ? T(0) : T(1);
  const Tensor<T> eps1 = standard_normal<T>({B, c.z_dim}, rng), epsk = standard_normal<T>({k, B, c.z_dim}, rng);
  const T beta = T(0.8);

  json in = {{"dtype", sizeof(T) == 8 ? "F64" : "F32"},
             {"activation", act},
             {"z_dim", c.z_dim},
             {"likelihood", lik == VaeLikelihood::Bernoulli ? "bernoulli" : "gaussian"},
             {"fixed_logvar", c.init_logvar},
             {"beta", static_cast<double>(beta)},
             {"x", tensor_json(x)},
             {"eps_vae", tensor_json(eps1)},
             {"eps_iwae", tensor_json(epsk)}};
  for (auto& [name, p] : m->named_parameters()) in["params"][name] = tensor_json(p.value());
  std::ofstream(in_path) << in.dump();

  return [=] {
    const json out = json::parse(std::ifstream(out_path));
    auto compare = [&](const std::string& loss_name, double ours_loss) {
      const double theirs = out[loss_name + "_loss"].get<double>();
      BOOST_TEST(std::abs(ours_loss - theirs) <= tol * std::abs(theirs),
                 what << " " << loss_name << " loss: ours " << ours_loss << " torch " << theirs);
      double worst = 0;
      for (auto& [name, p] : m->named_parameters()) {
        BOOST_REQUIRE_MESSAGE(p.grad().defined(), what << ": " << name << " got no gradient");
        const std::vector<double> ours(p.grad().data(), p.grad().data() + p.numel());
        const std::vector<double> theirs_g = out[loss_name + "_grads"][name].template get<std::vector<double>>();
        BOOST_REQUIRE(ours.size() == theirs_g.size());
        const double r = rel_inf(ours, theirs_g);
        worst = std::max(worst, r);
        BOOST_TEST(r <= tol, what << " " << loss_name << " d/d" << name << ": relative difference " << r);
      }
      BOOST_TEST_MESSAGE(what << " " << loss_name << ": loss " << ours_loss << " vs " << theirs
                              << ", worst gradient relative difference " << worst);
    };
    m->zero_grad();
    const Var<T> lv = elbo_loss(*m, Var<T>(x), eps1, beta);
    lv.backward();
    compare("vae", static_cast<double>(lv.item()));
    m->zero_grad();
    const Var<T> li = iwae_loss(*m, Var<T>(x), epsk);
    li.backward();
    compare("iwae", static_cast<double>(li.item()));
  };
}

}  // namespace

LZ_SKIPPABLE_CASE(vae_and_iwae_match_pytorch) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string stem = (dir / ("lz_vae_torch_" + std::to_string(::getpid()) + "_")).string();
  std::vector<std::string> files;
  std::vector<std::function<void()>> checks;
  auto add = [&](auto prepare) {
    const std::string n = std::to_string(checks.size());
    files.push_back(stem + n + "_in.json");
    files.push_back(stem + n + "_out.json");
    checks.push_back(prepare(files[files.size() - 2], files.back()));
  };
  using L = VaeLikelihood;
  add([](auto i, auto o) { return prepare_case<double>(L::Bernoulli, "tanh", true, 1e-10, i, o); });
  add([](auto i, auto o) { return prepare_case<double>(L::Gaussian, "relu", true, 1e-10, i, o); });
  add([](auto i, auto o) { return prepare_case<double>(L::Gaussian, "tanh", false, 1e-10, i, o); });
  add([](auto i, auto o) { return prepare_case<float>(L::Bernoulli, "tanh", true, 1e-4, i, o); });
  add([](auto i, auto o) { return prepare_case<float>(L::Bernoulli, "relu", true, 1e-4, i, o); });
  add([](auto i, auto o) { return prepare_case<float>(L::Gaussian, "tanh", true, 1e-4, i, o); });
  std::string args;
  for (const auto& f : files) args += " " + f;
  if (test::run_peer("python3-torch", "torch_vae_check.py", args))
    for (auto& check : checks) check();
  for (const auto& f : files) std::filesystem::remove(f);
}
