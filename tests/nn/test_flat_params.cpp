// Parameters in one buffer (nn/module.hpp): every parameter views its range of one flat buffer,
// gradients arrive in one flat gradient buffer, an optimizer step over the buffer equals the
// per-tensor step bit for bit, and registration, sharing, replacement and checkpoints behave.
#define BOOST_TEST_MODULE nn_flat_params
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "nn/checkpoint.hpp"
#include "nn/linear.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "thrown.hpp"

using namespace lz;

namespace {

// A tree with parameters at three depths and sizes that are not multiples of the SIMD width
// (so every parameter's update has a scalar tail when it runs alone).
template <typename T>
struct Inner : Module<T> {
  Var<T> scale;
  std::shared_ptr<MLP<T>> body;
  explicit Inner(Rng& rng) {
    scale = this->register_parameter("scale", Tensor<T>::full({3}, T(0.5)));
    body = this->register_module("body", std::make_shared<MLP<T>>(std::vector<int64_t>{5, 7, 3}, Activation::Tanh, rng));
  }
};
template <typename T>
struct Tree : Module<T> {
  Var<T> offset;
  std::shared_ptr<Inner<T>> inner;
  std::shared_ptr<Linear<T>> head;
  explicit Tree(Rng& rng) {
    offset = this->register_parameter("offset", Tensor<T>::full({3}, T(0.1)));
    inner = this->register_module("inner", std::make_shared<Inner<T>>(rng));
    head = this->register_module("head", std::make_shared<Linear<T>>(3, 2, rng));
  }
  // A loss touching every parameter: Σ (head(body(x) ⊙ scale + offset))² / N.
  Var<T> loss(const std::vector<Var<T>>& p, const Var<T>& x) const {
    // p in named_parameters() order: offset, scale, fc1.w, fc1.b, fc2.w, fc2.b, head.w, head.b
    Var<T> h = tanh(linear(x, p[2], p[3]));
    h = linear(h, p[4], p[5]);
    h = add(mul(h, p[1]), p[0]);
    return mean(square(linear(h, p[6], p[7])));
  }
};

template <typename T>
Var<T> batch(Rng& rng) {
  return Var<T>(Tensor<T>::normal({4, 5}, T(0), T(1), rng));
}

// Loose copies of a module's parameters: each its own buffer, so an optimizer updates them one
// tensor at a time (the path the flat buffer replaces).
template <typename T>
std::vector<Var<T>> loose_copies(const Module<T>& m) {
  std::vector<Var<T>> out;
  for (const auto& [n, v] : m.named_parameters()) {
    Var<T> c(v.value().clone(), true);
    c.set_name(n);
    out.push_back(c);
  }
  return out;
}

template <typename T>
bool same_bits(const Tensor<T>& a, const Tensor<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<size_t>(a.numel())) == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tensor_view_is_a_range_of_the_buffer) {
  TensorF a = TensorF::arange(10);
  TensorF v = a.view(3, {2, 2});
  BOOST_TEST(v.shares_buffer(a));
  BOOST_TEST(v.data() == a.data() + 3);
  BOOST_TEST(v.at({1, 0}) == 5.0f);
  v[0] = -1;  // writes reach the buffer
  BOOST_TEST(a[3] == -1.0f);
  BOOST_TEST(a.view(10, {0}).numel() == 0);
  BOOST_TEST(!a.shares_buffer(a.clone()));
  BOOST_TEST(test::thrown_message([&] { a.view(8, {3}); }) ==
             "view: elements [8, 11) as [3] are not inside a tensor of shape [10] (10 elements)");
  BOOST_TEST(test::thrown_message([&] { a.view(-1, {1}); }).find("not inside") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_parameter_views_the_flat_buffer_in_order) {
  Rng rng(3), twin_rng(3);
  Tree<float> m(rng);
  const TensorF flat = m.flat_parameters();
  BOOST_TEST(flat.dim() == 1);
  BOOST_TEST(flat.numel() == m.num_parameters());
  BOOST_TEST(m.num_parameters() == 3 + 3 + (7 * 5 + 7) + (3 * 7 + 3) + (2 * 3 + 2));
  int64_t off = 0;
  for (const auto& [n, v] : m.named_parameters()) {
    BOOST_TEST_INFO(n);
    BOOST_TEST(v.value().shares_buffer(flat));
    BOOST_TEST(v.value().data() == flat.data() + off);
    off += v.numel();
  }
  BOOST_TEST(off == flat.numel());
  // The copies made while the tree was assembled kept every value: a twin built from the same
  // seed, before any attach, holds the same numbers.
  Inner<float> inner_twin(twin_rng);
  Linear<float> head_twin(3, 2, twin_rng);
  BOOST_TEST(same_bits(m.inner->flat_parameters(), inner_twin.flat_parameters()));
  BOOST_TEST(same_bits(m.head->flat_parameters(), head_twin.flat_parameters()));
  // A submodule's flat range is its slice of the root's buffer.
  BOOST_TEST(m.inner->flat_parameters().shares_buffer(flat));
  BOOST_TEST(m.inner->flat_parameters().data() == flat.data() + 3);
  BOOST_TEST(m.head->flat_parameters().data() == flat.data() + flat.numel() - 8);
  // Writes through the flat view reach the parameters.
  TensorF f = m.flat_parameters();
  f[3] = 42;
  BOOST_TEST(m.inner->scale.value()[0] == 42.0f);
}

BOOST_AUTO_TEST_CASE(gradients_arrive_in_the_flat_gradient_buffer) {
  Rng rng(5);
  Tree<double> m(rng);
  const auto params = m.parameters();
  const auto loose = loose_copies(m);
  const VarD x = batch<double>(rng);
  m.loss(params, x).backward();
  m.loss(loose, x).backward();  // the same gradients through loose leaves (no grad_home)
  const TensorD g = m.flat_gradients();
  BOOST_TEST(g.numel() == m.num_parameters());
  int64_t off = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    BOOST_TEST_INFO(params[i].name());
    // No gather: the gradient backward() left on the leaf is the buffer's range itself.
    BOOST_TEST(params[i].grad().data() == g.data() + off);
    BOOST_TEST(same_bits(params[i].grad(), loose[i].grad()));
    BOOST_TEST(std::memcmp(g.data() + off, loose[i].grad().data(), sizeof(double) * loose[i].numel()) == 0);
    off += params[i].numel();
  }
  // A second backward accumulates in place.
  m.loss(params, x).backward();
  for (size_t i = 0; i < params.size(); ++i) {
    BOOST_TEST(params[i].grad().data() == g.data() + (params[i].value().data() - m.flat_parameters().data()));
    BOOST_TEST(params[i].grad()[0] == 2 * loose[i].grad()[0]);
  }
}

BOOST_AUTO_TEST_CASE(flat_gradients_zero_fill_parameters_without_gradient) {
  Rng rng(6);
  Tree<double> m(rng);
  m.zero_grad();
  auto p = m.parameters();
  const VarD x = batch<double>(rng);
  sum(linear(x, p[2], p[3])).backward();  // only fc1 gets a gradient
  BOOST_TEST(!m.offset.grad().defined());
  std::fill(m.flat_gradients().data(), m.flat_gradients().data() + m.num_parameters(), 7.0);  // stale data
  m.zero_grad();
  sum(linear(x, p[2], p[3])).backward();
  const TensorD g = m.flat_gradients();
  BOOST_TEST(m.offset.grad().defined());  // all defined now, zeros where nothing arrived
  BOOST_TEST(m.offset.grad()[0] == 0.0);
  BOOST_TEST(m.head->bias().grad()[1] == 0.0);
  BOOST_TEST(p[3].grad()[0] == 4.0);  // d Σ (x w^T + b) / d b = N = 4
  BOOST_TEST(g[g.numel() - 1] == 0.0);
}

namespace {

// Four steps (the first without a gradient for `offset`, so afterwards its state differs from
// the others': one step count behind under Adam, a step late in creating SGD's momentum buffer)
// on the flat model and on loose copies: values and every state tensor bit for bit. `passes(s)`:
// the fused passes step s of the flat model makes.
template <typename T, typename MakeOpt>
void flat_step_equals_per_tensor(MakeOpt make, std::function<int64_t(int)> passes) {
  Rng rng(11);
  Tree<T> m(rng);
  const auto params = m.parameters();
  auto loose = loose_copies(m);
  auto flat_opt = make(params);
  auto loose_opt = make(loose);
  for (int s = 0; s < 4; ++s) {
    BOOST_TEST_INFO("step " << s);
    const Var<T> x = batch<T>(rng);
    flat_opt->zero_grad();
    loose_opt->zero_grad();
    m.loss(params, x).backward();
    m.loss(loose, x).backward();
    if (s == 0) {  // `offset` unused this step: torch skips a parameter whose grad is None
      m.offset.zero_grad();
      loose[0].zero_grad();
    }
    flat_opt->step();
    loose_opt->step();
    BOOST_TEST(loose_opt->last_step_passes() == (s == 0 ? 7 : 8));
    BOOST_TEST(flat_opt->last_step_passes() == passes(s));
    Tensor<T> cat = Tensor<T>::empty({m.num_parameters()});
    int64_t off = 0;
    for (const auto& v : loose) {
      std::memcpy(cat.data() + off, v.value().data(), sizeof(T) * static_cast<size_t>(v.numel()));
      off += v.numel();
    }
    BOOST_TEST(same_bits(m.flat_parameters(), cat));
  }
  const auto a = flat_opt->state_tensors(), b = loose_opt->state_tensors();
  BOOST_TEST(a.size() == b.size());
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    BOOST_TEST_INFO(a[i].first);
    BOOST_TEST(a[i].first == b[i].first);
    BOOST_TEST(same_bits(a[i].second, b[i].second));
  }
}

template <typename T>
void every_optimizer() {
  using P = std::vector<Var<T>>;
  const auto one = [](int) { return int64_t{1}; };
  // Step 1: offset's buffer is new, the others' are not: two passes; then one again.
  const auto sgd_momentum = [](int s) { return int64_t{s == 1 ? 2 : 1}; };
  const auto adam = [](int s) { return int64_t{s == 0 ? 1 : 2}; };  // offset's step count lags for good
  flat_step_equals_per_tensor<T>([](P p) { return std::make_unique<SGD<T>>(p, SGDOptions{.lr = 0.1}); }, one);
  flat_step_equals_per_tensor<T>(
      [](P p) {
        return std::make_unique<SGD<T>>(p,
                                        SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
      },
      sgd_momentum);
  flat_step_equals_per_tensor<T>(
      [](P p) { return std::make_unique<SGD<T>>(p, SGDOptions{.lr = 0.05, .momentum = 0.5, .dampening = 0.25}); },
      sgd_momentum);
  flat_step_equals_per_tensor<T>([](P p) { return std::make_unique<Adam<T>>(p, AdamOptions{.lr = 0.01}); }, adam);
  flat_step_equals_per_tensor<T>(
      [](P p) { return std::make_unique<Adam<T>>(p, AdamOptions{.lr = 0.01, .weight_decay = 0.1}); }, adam);
  flat_step_equals_per_tensor<T>([](P p) { return std::make_unique<AdamW<T>>(p, AdamOptions{.lr = 0.01}); }, adam);
}

}  // namespace

BOOST_AUTO_TEST_CASE(optimizer_step_over_the_buffer_equals_per_tensor_float) { every_optimizer<float>(); }
BOOST_AUTO_TEST_CASE(optimizer_step_over_the_buffer_equals_per_tensor_double) { every_optimizer<double>(); }

BOOST_AUTO_TEST_CASE(registration_after_use_works) {
  Rng rng(8);
  Tree<double> m(rng);
  const VarD x = batch<double>(rng);
  m.loss(m.parameters(), x).backward();
  const TensorD before = m.flat_parameters().clone(), grads = m.flat_gradients().clone();
  VarD extra = m.inner->register_parameter("extra", TensorD::full({2}, 3.0));
  const TensorD flat = m.flat_parameters();
  BOOST_TEST(flat.numel() == before.numel() + 2);
  // extra lands after inner's own scale, before inner.body; values and gradients moved with it.
  BOOST_TEST(extra.value().data() == flat.data() + 6);
  BOOST_TEST(m.parameter("inner.extra").value()[1] == 3.0);
  BOOST_TEST(std::memcmp(flat.data(), before.data(), 6 * sizeof(double)) == 0);
  BOOST_TEST(std::memcmp(flat.data() + 8, before.data() + 6, (before.numel() - 6) * sizeof(double)) == 0);
  BOOST_TEST(m.inner->body->flat_parameters().data() == flat.data() + 8);
  BOOST_TEST(m.head->weight().grad()[0] == grads[grads.numel() - 8]);
  BOOST_TEST(m.head->weight().grad().data() == m.flat_gradients().data() + flat.numel() - 8);
}

BOOST_AUTO_TEST_CASE(a_module_has_one_parent) {
  Rng rng(9);
  auto shared = std::make_shared<Linear<double>>(2, 2, rng);
  Module<double> a, b;
  a.register_module("x", shared);
  BOOST_TEST(test::thrown_message([&] { b.register_module("y", shared); }) ==
             "Module::register_module: 'y' (Linear(2 -> 2)) is already a submodule of Module; a module shared by two "
             "parents cannot be a contiguous range of both parents' parameter buffers (build a second module, or "
             "register it once)");
  auto parent = std::make_shared<Module<double>>();
  auto child = parent->register_module("c", std::make_shared<Module<double>>());
  BOOST_TEST(test::thrown_message([&] { child->register_module("p", parent); }).find("a cycle") != std::string::npos);
  // A child outliving its parent keeps working on its own.
  {
    auto owner = std::make_unique<Module<double>>();
    owner->register_module("keep", shared = std::make_shared<Linear<double>>(2, 2, rng));
  }
  shared->register_parameter("late", TensorD::ones({1}));
  BOOST_TEST(shared->flat_parameters().numel() == 7);
  BOOST_TEST(shared->parameter("late").value().data() == shared->flat_parameters().data() + 6);
}

BOOST_AUTO_TEST_CASE(a_replaced_value_is_gathered_back) {
  Rng rng(10);
  Tree<double> m(rng);
  m.head->bias().value_mut() = TensorD::from({5.0, 6.0});  // cuts the bias out of the buffer
  BOOST_TEST(!m.head->bias().value().shares_buffer(m.parameter("offset").value()));
  const TensorD flat = m.flat_parameters();  // notices, and rebuilds
  BOOST_TEST(m.head->bias().value().data() == flat.data() + flat.numel() - 2);
  BOOST_TEST(flat[flat.numel() - 1] == 6.0);
  BOOST_TEST(m.offset.value().shares_buffer(flat));
}

BOOST_AUTO_TEST_CASE(checkpoint_loads_into_the_views) {
  Rng rng(12), other(13);
  Tree<float> a(rng), b(other);
  const auto path = std::filesystem::temp_directory_path() / ("lz_flat_" + std::to_string(::getpid()) + ".safetensors");
  save_checkpoint(path, a);
  const float* where = b.flat_parameters().data();
  load_checkpoint(path, b);
  BOOST_TEST(b.flat_parameters().data() == where);  // written into the buffer, not re-pointed
  BOOST_TEST(same_bits(a.flat_parameters(), b.flat_parameters()));
  std::filesystem::remove(path);
  std::filesystem::remove(checkpoint_config_path(path));
}
