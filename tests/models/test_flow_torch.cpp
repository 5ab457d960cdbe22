#define BOOST_TEST_MODULE flow_torch
#include <boost/test/unit_test.hpp>

// log p(x) of a flow and the gradient of its batch mean with respect to every parameter and to x,
// against PyTorch (tests/python/torch_flow_check.py, written from the RealNVP, Glow and
// neural-spline-flow formulas, not from nflows): the same weights, the same x and c (handed over in
// a temporary JSON file, doubles printed to round trip), in double, within 1e-10 relative. Four
// flows: affine and spline couplings, each plain and with ActNorm + LU and a condition. The spline
// flows' x puts transformed coordinates of the first layer in both tails and exactly at ±B.
// Sampling too: Flow::sample's draws against the peer's inverse of every layer applied to the
// same base noise (drawn from a copy of the generator sample() is given), within 1e-10.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "models/flow.hpp"
#include "peer.hpp"

using namespace lz;
using json = nlohmann::json;

namespace {

json tensor_json(const TensorD& t) {
  return {{"shape", t.shape()}, {"data", std::vector<double>(t.data(), t.data() + t.numel())}};
}

// ‖a − b‖∞ / ‖b‖∞ (as test_vae_torch.cpp: elementwise relative error means nothing for entries ~0).
double rel_inf(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale == 0 ? diff : diff / scale;
}

// The layers as the peer rebuilds them: type, parameter prefix and what is not a parameter.
json describe_layers(const Flow<double>& f, Activation act) {
  json layers = json::array();
  const std::string a = act == Activation::Tanh ? "tanh" : "relu";
  for (size_t i = 0; i < f.steps().size(); ++i) {
    const Transform<double>* t = f.steps()[i].get();
    json l = {{"prefix", std::to_string(i)}};
    if (auto* c = dynamic_cast<const AffineCoupling<double>*>(t))
      l.update({{"type", "affine"}, {"parity", c->parity()}, {"activation", a}});
    else if (auto* s = dynamic_cast<const SplineCoupling<double>*>(t))
      l.update({{"type", "spline"}, {"parity", s->parity()}, {"activation", a}, {"bins", s->bins()},
                {"tail_bound", s->tail_bound()}});
    else if (dynamic_cast<const ActNorm<double>*>(t))
      l.update({{"type", "actnorm"}});
    else if (auto* lu = dynamic_cast<const LULinear<double>*>(t))
      l.update({{"type", "lu"}, {"perm", lu->perm()}});
    else
      throw std::logic_error("test_flow_torch: unknown layer " + t->describe());
    layers.push_back(l);
  }
  return layers;
}

std::function<void()> prepare_case(const std::string& what, const FlowSpec& spec, const std::string& in_path,
                                   const std::string& out_path) {
  Rng rng(21);
  auto f = Flow<double>::build(spec, rng);
  const int64_t N = 16, D = spec.dim, C = spec.condition_dim;
  TensorD x = TensorD::normal({N, D}, 0.3, 1.2, rng), c;
  if (C > 0) c = TensorD::normal({N, C}, 0, 1, rng);
  if (spec.actnorm) f->initialise(x, c);
  // Off the identity initialisation (the last layers start at zero), firmly.
  for (auto& [name, p] : f->named_parameters())
    for (int64_t i = 0; i < p.numel(); ++i) p.value_mut()[i] += 0.4 * rng.normal();
  if (spec.coupling == CouplingKind::Spline) {
    // Coordinate 1 is transformed by layer 0 (parity 0) when there is no ActNorm/LU before it.
    const double B = spec.tail_bound;
    const double edge[] = {B, -B, B + 0.5, -B - 2.0, 7.0};
    for (int64_t i = 0; i < 5; ++i) x[i * D + 1] = edge[i];
  }

  json in = {{"dim", D}, {"layers", describe_layers(*f, spec.activation)}, {"x", tensor_json(x)}};
  if (C > 0) in["c"] = tensor_json(c);
  // Samples for the same c: the base noise sample() will draw, from a copy of its generator.
  Rng srng(23), copy = srng;
  const TensorD z = f->base().sample(N, copy);
  const TensorD samples = f->sample(N, srng, c);
  in["z"] = tensor_json(z);
  for (auto& [name, p] : f->named_parameters()) in["params"][name] = tensor_json(p.value());
  std::ofstream(in_path) << in.dump();

  return [=] {
    const json out = json::parse(std::ifstream(out_path));
    const double tol = 1e-10;
    f->zero_grad();
    const VarD xv(x, true);
    const VarD lp = f->log_prob(xv, C > 0 ? VarD(c) : VarD());
    const VarD loss = neg(mean(lp));
    loss.backward();
    const std::vector<double> ours_lp(lp.value().data(), lp.value().data() + N);
    const std::vector<double> theirs_lp = out["log_prob"].get<std::vector<double>>();
    BOOST_REQUIRE(theirs_lp.size() == ours_lp.size());
    const double r_lp = rel_inf(ours_lp, theirs_lp);
    BOOST_TEST(r_lp <= tol, what << " log_prob: relative difference " << r_lp);
    const std::vector<double> gx(xv.grad().data(), xv.grad().data() + x.numel());
    const double r_x = rel_inf(gx, out["grad_x"].get<std::vector<double>>());
    BOOST_TEST(r_x <= tol, what << " d/dx: relative difference " << r_x);
    double worst = std::max(r_lp, r_x);
    int compared = 0;
    for (auto& [name, p] : f->named_parameters()) {
      BOOST_REQUIRE_MESSAGE(p.grad().defined(), what << ": " << name << " got no gradient");
      const std::vector<double> ours(p.grad().data(), p.grad().data() + p.numel());
      const std::vector<double> theirs = out["grads"][name].get<std::vector<double>>();
      BOOST_REQUIRE(ours.size() == theirs.size());
      const double r = rel_inf(ours, theirs);
      worst = std::max(worst, r);
      ++compared;
      BOOST_TEST(r <= tol, what << " d/d" << name << ": relative difference " << r);
    }
    BOOST_TEST(compared == static_cast<int>(out["grads"].size()));
    const std::vector<double> ours_s(samples.data(), samples.data() + samples.numel());
    const std::vector<double> theirs_s = out["samples"].get<std::vector<double>>();
    BOOST_REQUIRE(ours_s.size() == theirs_s.size());
    const double r_s = rel_inf(ours_s, theirs_s);
    BOOST_TEST(r_s <= tol, what << " samples: relative difference " << r_s);
    worst = std::max(worst, r_s);
    BOOST_TEST_MESSAGE(what << ": mean log p " << -loss.item() << " vs " << out["mean_log_prob"].get<double>() << ", "
                            << compared << " parameters, worst relative difference " << worst);
  };
}

}  // namespace

LZ_SKIPPABLE_CASE(flows_match_pytorch) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string stem = (dir / ("lz_flow_torch_" + std::to_string(::getpid()) + "_")).string();
  std::vector<std::string> files;
  std::vector<std::function<void()>> checks;
  auto add = [&](const std::string& what, const FlowSpec& spec) {
    const std::string n = std::to_string(checks.size());
    files.push_back(stem + n + "_in.json");
    files.push_back(stem + n + "_out.json");
    checks.push_back(prepare_case(what, spec, files[files.size() - 2], files.back()));
  };
  add("affine", {.dim = 2, .couplings = 4, .hidden = {8, 8}});
  add("affine, ActNorm + LU, conditional, tanh",
      {.dim = 3, .condition_dim = 2, .couplings = 3, .hidden = {6}, .actnorm = true, .lu = true,
       .activation = Activation::Tanh});
  add("spline", {.dim = 2, .couplings = 4, .hidden = {8, 8}, .coupling = CouplingKind::Spline, .bins = 8, .tail_bound = 3});
  add("spline, ActNorm + LU, conditional, tanh",
      {.dim = 3, .condition_dim = 2, .couplings = 3, .hidden = {6}, .actnorm = true, .lu = true,
       .activation = Activation::Tanh, .coupling = CouplingKind::Spline, .bins = 5, .tail_bound = 2});
  std::string args;
  for (const auto& f : files) args += " " + f;
  if (test::run_peer("python3-torch", "torch_flow_check.py", args))
    for (auto& check : checks) check();
  for (const auto& f : files) std::filesystem::remove(f);
}
