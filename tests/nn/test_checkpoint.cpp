#define BOOST_TEST_MODULE nn_checkpoint
#include <boost/test/unit_test.hpp>

// Checkpoints: bit-for-bit round trips, a file numpy reads without our code, and a run resumed
// from a checkpoint that matches the uninterrupted run bit for bit.

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "autodiff/ops.hpp"
#include "nn/checkpoint.hpp"
#include "nn/mlp.hpp"
#include "nn/schedule.hpp"
#include "peer.hpp"

using namespace lz;
using nlohmann::json;

namespace {

template <typename T>
bool same_bits(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(T) * a.numel()) == 0;
}

// A few Adam steps on random data so that the optimizer has state worth saving.
template <typename T>
void train(MLP<T>& mlp, Optimizer<T>& opt, Rng& rng, int steps, const CosineAnnealingLR* sched = nullptr) {
  const Tensor<T> Y = Tensor<T>::full({16, 2}, T(0.5));
  for (int s = 0; s < steps; ++s) {
    if (sched) opt.set_lr((*sched)(opt.steps()));
    // Noise drawn from the generator every step: resuming must restore the generator too.
    const Tensor<T> x = Tensor<T>::normal({16, 3}, T(0), T(1), rng);
    opt.zero_grad();
    Var<T> loss = mean(square(sub(mlp(Var<T>(x)), Var<T>(Y))));
    loss.backward();
    opt.step();
  }
}

template <typename T>
void round_trip() {
  const auto dir = test::temp_dir(std::string("ckpt_rt_") + (sizeof(T) == 4 ? "f" : "d"));
  const auto path = dir / "model.safetensors";
  Rng rng(11);
  MLP<T> mlp({3, 7, 2}, Activation::Tanh, rng);
  Adam<T> opt(mlp, {.lr = 3e-3});
  train(mlp, opt, rng, 3);
  const json config = {{"sizes", {3, 7, 2}}, {"activation", "tanh"}};
  save_checkpoint(path, mlp, &opt, &rng, config);

  Rng rng2(999);
  MLP<T> mlp2({3, 7, 2}, Activation::Tanh, rng2);
  Adam<T> opt2(mlp2, {.lr = 1.0});
  auto meta = load_checkpoint(path, mlp2, &opt2, &rng2);
  BOOST_TEST(meta.at("format") == "latentzoo");
  BOOST_TEST(meta.at("dtype") == (sizeof(T) == 4 ? "F32" : "F64"));
  auto p1 = mlp.named_parameters(), p2 = mlp2.named_parameters();
  for (size_t i = 0; i < p1.size(); ++i) BOOST_TEST(same_bits(p1[i].second.value(), p2[i].second.value()), p1[i].first);
  auto s1 = opt.state_tensors(), s2 = opt2.state_tensors();
  BOOST_TEST_REQUIRE(s1.size() == 3 * p1.size());
  BOOST_TEST_REQUIRE(s2.size() == s1.size());
  for (size_t i = 0; i < s1.size(); ++i) {
    BOOST_TEST(s1[i].first == s2[i].first);
    BOOST_TEST(same_bits(s1[i].second, s2[i].second), s1[i].first);
  }
  BOOST_TEST(opt2.steps() == 3);
  BOOST_TEST(opt2.lr() == 3e-3);  // the saved lr, not the constructor's
  BOOST_TEST((rng2.state() == rng.state()));
  BOOST_TEST(load_checkpoint_config(path) == config);
  BOOST_TEST(std::filesystem::exists(dir / "model.json"));
  // Atomic writes leave no temporaries behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    ++files;
    BOOST_TEST(e.path().string().find(".tmp") == std::string::npos, e.path());
  }
  BOOST_TEST(files == 2);

  // The generic reader sees the same tensors with the right dtype.
  SafeTensors st = read_safetensors(path);
  BOOST_TEST(st.tensors.size() == 4 + 12u);
  BOOST_TEST(std::holds_alternative<Tensor<T>>(st.tensors.at("fc2.bias")));
  BOOST_TEST(st.order.front() == "fc1.weight");
  BOOST_TEST(st.metadata.at("optim.type") == "adam");
  std::filesystem::remove_all(dir);
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_float) { round_trip<float>(); }
BOOST_AUTO_TEST_CASE(round_trip_double) { round_trip<double>(); }

// Model-only load (for evaluation): optimizer tensors in the file are ignored.
BOOST_AUTO_TEST_CASE(model_only_load) {
  const auto dir = test::temp_dir("ckpt_model_only");
  Rng rng(3);
  MLP<double> mlp({3, 4, 2}, Activation::ReLU, rng);
  Adam<double> opt(mlp);
  train(mlp, opt, rng, 1);
  save_checkpoint(dir / "m.safetensors", mlp, &opt, &rng);
  MLP<double> other({3, 4, 2}, Activation::ReLU, rng);
  load_checkpoint(dir / "m.safetensors", other);
  BOOST_TEST(same_bits(other.layers()[0]->weight().value(), mlp.layers()[0]->weight().value()));
  std::filesystem::remove_all(dir);
}

LZ_SKIPPABLE_CASE(numpy_reads_the_file) {
  const auto dir = test::temp_dir("ckpt_numpy");
  for (const char* kind : {"F32", "F64"}) {
    const auto path = dir / (std::string(kind) + ".safetensors");
    json expected;
    Rng rng(5);
    auto record = [&](const std::string& name, auto const& t) {
      using T = std::remove_cvref_t<decltype(t[0])>;
      std::vector<double> vals(t.data(), t.data() + t.numel());
      expected["tensors"][name] = {{"dtype", sizeof(T) == 4 ? "F32" : "F64"}, {"shape", t.shape()}, {"values", vals}};
    };
    if (std::string(kind) == "F32") {
      MLP<float> mlp({3, 5, 2}, Activation::Tanh, rng);
      SGD<float> opt(mlp, {.lr = 0.1, .momentum = 0.9});
      train(mlp, opt, rng, 2);
      save_checkpoint(path, mlp, &opt, &rng, json{{"note", "numpy"}});
      for (auto& [n, v] : mlp.named_parameters()) record(n, v.value());
      for (auto& [n, t] : opt.state_tensors("optim.")) record(n, t);
      expected["metadata"] = {{"optim.type", "sgd"}, {"optim.step", "2"}, {"dtype", "F32"}};
    } else {
      MLP<double> mlp({3, 5, 2}, Activation::Tanh, rng);
      save_checkpoint(path, mlp, nullptr, &rng);
      for (auto& [n, v] : mlp.named_parameters()) record(n, v.value());
      const auto s = rng.state();
      expected["metadata"] = {{"rng.state", std::to_string(s[0]) + " " + std::to_string(s[1]) + " " +
                                                std::to_string(s[2]) + " " + std::to_string(s[3])},
                              {"dtype", "F64"}};
    }
    const auto exp_path = dir / (std::string(kind) + ".expected.json");
    std::ofstream(exp_path) << expected.dump();
    test::Run r;
    if (!test::run_peer("python3-numpy", "numpy_checkpoint_check.py", path.string() + " " + exp_path.string(), &r))
      break;
    BOOST_TEST(r.output.rfind("ok:", 0) == 0, r.output);
    BOOST_TEST_MESSAGE(kind << ": " << r.output);
  }
  std::filesystem::remove_all(dir);
}

// Train N steps straight, or k steps, save, load into fresh objects, and N-k more: same bits.
BOOST_AUTO_TEST_CASE(resume_is_bit_identical) {
  const auto dir = test::temp_dir("ckpt_resume");
  const int N = 12, k = 5;
  const CosineAnnealingLR sched(1e-2, N, 1e-4);
  Rng rng_a(42);
  MLP<float> a({3, 8, 2}, Activation::Tanh, rng_a);
  Adam<float> opt_a(a, {.lr = 1e-2, .weight_decay = 1e-3});
  train(a, opt_a, rng_a, N, &sched);

  Rng rng_b(42);
  {
    MLP<float> b({3, 8, 2}, Activation::Tanh, rng_b);
    Adam<float> opt_b(b, {.lr = 1e-2, .weight_decay = 1e-3});
    train(b, opt_b, rng_b, k, &sched);
    save_checkpoint(dir / "resume.safetensors", b, &opt_b, &rng_b);
  }
  Rng rng_c(7);  // deliberately different: everything must come from the file
  MLP<float> c({3, 8, 2}, Activation::Tanh, rng_c);
  Adam<float> opt_c(c, {.lr = 1e-2, .weight_decay = 1e-3});
  load_checkpoint(dir / "resume.safetensors", c, &opt_c, &rng_c);
  BOOST_TEST(opt_c.steps() == k);
  train(c, opt_c, rng_c, N - k, &sched);

  BOOST_TEST(opt_c.steps() == N);
  auto pa = a.named_parameters(), pc = c.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) BOOST_TEST(same_bits(pa[i].second.value(), pc[i].second.value()), pa[i].first);
  BOOST_TEST((rng_a.state() == rng_c.state()));
  // And the checkpoint mattered: without the optimizer state the continuation differs.
  Rng rng_d(42);
  MLP<float> d({3, 8, 2}, Activation::Tanh, rng_d);
  Adam<float> opt_d(d, {.lr = 1e-2, .weight_decay = 1e-3});
  load_checkpoint(dir / "resume.safetensors", d, nullptr, &rng_d);
  train(d, opt_d, rng_d, N - k, &sched);
  BOOST_TEST(!same_bits(pa[0].second.value(), d.named_parameters()[0].second.value()));
  std::filesystem::remove_all(dir);
}
