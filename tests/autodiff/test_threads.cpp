// Two graphs built and backpropagated at the same time on two threads give the gradients they
// give serially: bit for bit in thread-local leaves, up to rounding in a leaf both accumulate
// into (autodiff/var.cpp says what threads may share).
#define BOOST_TEST_MODULE autodiff_threads
#include <boost/test/unit_test.hpp>

#include <latch>
#include <thread>
#include <vector>

#include <algorithm>
#include <cmath>
#include <functional>

#include "autodiff/ops.hpp"
#include "tensor/parallel.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
// A small MLP-shaped loss that exercises matmul, broadcasting, activations, reductions and a
// value used twice; `shared` is read by every thread.
VarD loss(const VarD& x, const VarD& w1, const VarD& b1, const VarD& w2, const VarD& shared) {
  const VarD h = tanh(matmul(x, w1) + b1);                       // [N,H]
  const VarD y = matmul(h, w2) * shared;                         // [N,1] * [1] broadcast
  return mean(square(y)) + sum(logsumexp(h * shared, 1)) + sum(softplus(h));
}

struct Replica {
  VarD w1, b1, w2;
  explicit Replica(uint64_t seed) {
    Rng rng(seed);
    w1 = VarD(TensorD::normal({6, 5}, 0, 0.5, rng), true);
    b1 = VarD(TensorD::normal({5}, 0, 0.5, rng), true);
    w2 = VarD(TensorD::normal({5, 1}, 0, 0.5, rng), true);
  }
  std::vector<TensorD> grads() const { return {w1.grad().clone(), b1.grad().clone(), w2.grad().clone()}; }
};

// Many steps per thread, so the two backward passes really overlap.
void run(Replica& r, const VarD& shared, uint64_t seed, int steps) {
  Rng rng(seed);
  for (int s = 0; s < steps; ++s) {
    const VarD x(TensorD::normal({32, 6}, 0, 1, rng));
    loss(x, r.w1, r.b1, r.w2, shared).backward();  // accumulates over the steps
  }
}

// Runs a and b on two threads that are both alive before either starts (the latch), and checks
// that they were two threads other than this one: else "in parallel" would prove nothing.
void on_two_threads(const std::function<void()>& a, const std::function<void()>& b) {
  std::latch both(2);
  std::thread::id ia, ib;
  std::thread t1([&] { ia = std::this_thread::get_id(); both.arrive_and_wait(); a(); });
  std::thread t2([&] { ib = std::this_thread::get_id(); both.arrive_and_wait(); b(); });
  t1.join();
  t2.join();
  BOOST_TEST((ia != ib && ia != std::this_thread::get_id() && ib != std::this_thread::get_id()));
}

void require_equal(const std::vector<TensorD>& a, const std::vector<TensorD>& b) {
  for (size_t p = 0; p < a.size(); ++p) {
    BOOST_REQUIRE(a[p].shape() == b[p].shape());
    for (int64_t i = 0; i < a[p].numel(); ++i) BOOST_REQUIRE(a[p][i] == b[p][i]);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(two_threads_thread_local_leaves_and_a_shared_constant_match_serial_bit_for_bit) {
  const VarD shared(TensorD::from({0.7}));  // read by both, no gradient
  const int steps = 200;
  Replica s1(1), s2(2);
  run(s1, shared, 11, steps);
  run(s2, shared, 12, steps);
  Replica p1(1), p2(2);
  on_two_threads([&] { run(p1, shared, 11, steps); }, [&] { run(p2, shared, 12, steps); });
  require_equal(p1.grads(), s1.grads());
  require_equal(p2.grads(), s2.grads());
  BOOST_TEST(!shared.grad().defined());
}

BOOST_AUTO_TEST_CASE(two_threads_accumulating_into_one_shared_leaf_match_serial_up_to_rounding) {
  const int steps = 200;
  const VarD serial_shared(TensorD::from({0.7}), true);
  Replica s1(1), s2(2);
  run(s1, serial_shared, 11, steps);
  run(s2, serial_shared, 12, steps);
  const VarD shared(TensorD::from({0.7}), true);
  Replica p1(1), p2(2);
  on_two_threads([&] { run(p1, shared, 11, steps); }, [&] { run(p2, shared, 12, steps); });
  require_equal(p1.grads(), s1.grads());
  require_equal(p2.grads(), s2.grads());
  BOOST_TEST(shared.grad()[0] == serial_shared.grad()[0], tt::tolerance(1e-12));
  BOOST_TEST(std::abs(shared.grad()[0]) > 1.0);  // 400 contributions arrived, not a lost update's worth
}

BOOST_AUTO_TEST_CASE(no_grad_is_per_thread) {
  const VarD w(TensorD::from({2.0}), true);
  NoGrad ng;  // on this thread only
  bool other_records = false;
  std::thread t([&] { other_records = (w * w).requires_grad(); });
  t.join();
  BOOST_TEST(other_records);
  BOOST_TEST(!(w * w).requires_grad());
}

// The engine's own threads (tensor/parallel.hpp) split a step's products and kernels; the
// gradients they give are the one-thread gradients. Shapes large enough that every product and
// the big kernels really split (batch 256, width 160); a weight used twice exercises the VJP's
// GEMM accumulating straight into a gradient that is already there.
BOOST_AUTO_TEST_CASE(engine_threads_give_the_one_thread_gradients) {
  Rng rng(21);
  const TensorD x = TensorD::normal({256, 160}, 0, 1, rng);
  const TensorD w1 = TensorD::normal({160, 160}, 0, 0.1, rng), b1 = TensorD::normal({160}, 0, 0.1, rng);
  const TensorD w2 = TensorD::normal({160, 160}, 0, 0.1, rng);
  auto grads = [&](int n_threads) {
    set_threads(n_threads);
    const VarD W1(w1.clone(), true), B1(b1.clone(), true), W2(w2.clone(), true);
    const VarD h = linear_relu(VarD(x), W1, B1);
    const VarD y = tanh(linear(h, W1, B1)) + matmul(h, W2);  // W1 and B1 used twice
    sum(square(y)).backward();
    set_threads(1);
    return std::vector<TensorD>{W1.grad().clone(), B1.grad().clone(), W2.grad().clone()};
  };
  const auto one = grads(1), two = grads(2);
  for (size_t p = 0; p < one.size(); ++p) {
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < one[p].numel(); ++i) {
      worst = std::max(worst, std::abs(one[p][i] - two[p][i]));
      scale = std::max(scale, std::abs(one[p][i]));
    }
    BOOST_TEST(scale > 1.0);  // a real gradient, not zeros compared with zeros
    BOOST_TEST(worst <= 1e-12 * scale, "parameter " << p << ": worst difference " << worst);
  }
}
