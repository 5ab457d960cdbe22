// Every broadcasting fast path of lz::zip against lz::zip_reference (the general strided loop),
// bit for bit, in float and double; broadcast_to and sum_to against naive loops.
#define BOOST_TEST_MODULE tensor_broadcast
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "tensor/ops.hpp"

using namespace lz;

namespace {
// No a*b+c pattern, so the compiler cannot fuse differently in the SIMD body and the scalar tail.
struct F {
  template <typename B>
  B operator()(B x, B y) const {
    return (x - y) * (x + y) / (y + B(3));
  }
};

template <typename T>
void same_as_reference(const Shape& sa, const Shape& sb, Rng& rng) {
  const Tensor<T> a = Tensor<T>::normal(sa, 0, 1, rng), b = Tensor<T>::normal(sb, 0, 1, rng);
  const Tensor<T> fast = zip(a, b, F{}, "test"), ref = zip_reference(a, b, F{}, "test");
  BOOST_TEST_CONTEXT(shape_str(sa) << " with " << shape_str(sb) << (sizeof(T) == 4 ? " float" : " double")) {
    BOOST_TEST(fast.shape() == ref.shape());
    BOOST_TEST(std::memcmp(fast.data(), ref.data(), sizeof(T) * ref.numel()) == 0);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(every_fast_path_matches_the_reference_loop) {
  Rng rng(1);
  // Lengths 19 and 37 leave scalar tails behind the SIMD body in both float and double.
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{5, 19}, {5, 19}},          // same shape
      {{5, 19}, {}},               // scalar right
      {{}, {5, 19}},               // scalar left
      {{5, 19}, {1}},              // one-element right (rank 1)
      {{5, 19}, {19}},             // row right
      {{19}, {5, 19}},             // row left
      {{5, 19}, {1, 19}},          // row with a leading 1
      {{2, 3, 37}, {3, 37}},       // trailing-suffix over a 3-D batch
      {{5, 19}, {5, 1}},           // column right
      {{5, 1}, {5, 19}},           // column left
      {{2, 5, 37}, {2, 5, 1}},     // column in 3-D
      {{5, 1}, {1, 19}},           // both sides broadcast (general loop)
      {{2, 1, 19}, {3, 1}},        // general, different ranks
      {{4, 1, 3}, {1, 5, 1}},      // general, interleaved
      {{0, 3}, {3}},               // empty
  };
  for (const auto& [sa, sb] : cases) {
    same_as_reference<float>(sa, sb, rng);
    same_as_reference<double>(sa, sb, rng);
  }
}

BOOST_AUTO_TEST_CASE(reference_loop_against_explicit_indices) {
  // zip_reference itself, held to index arithmetic written out by hand.
  Rng rng(2);
  const TensorD a = TensorD::normal({2, 1, 4}, 0, 1, rng), b = TensorD::normal({3, 1}, 0, 1, rng);
  const TensorD r = zip_reference(a, b, [](auto x, auto y) { return x - y; }, "test");
  BOOST_TEST(r.shape() == (Shape{2, 3, 4}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) BOOST_TEST(r.at({i, j, k}) == a.at({i, 0, k}) - b.at({j, 0}));
}

BOOST_AUTO_TEST_CASE(broadcast_to_and_sum_to) {
  Rng rng(3);
  for (const Shape& s : std::vector<Shape>{{}, {4}, {3, 1}, {1, 4}, {2, 1, 4}}) {
    const TensorD a = TensorD::normal(s, 0, 1, rng);
    const TensorD e = broadcast_to(a, {2, 3, 4});
    const TensorD ref = zip_reference(a, TensorD::zeros({2, 3, 4}), [](auto x, auto y) { return x + y; }, "test");
    BOOST_TEST(std::memcmp(e.data(), ref.data(), sizeof(double) * ref.numel()) == 0);
    // sum_to is broadcasting's adjoint: <broadcast(a), g> = <a, sum_to(g)>
    const TensorD g = TensorD::normal({2, 3, 4}, 0, 1, rng);
    const TensorD back = sum_to(g, s);
    BOOST_TEST(back.shape() == s);
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < g.numel(); ++i) lhs += e[i] * g[i];
    for (int64_t i = 0; i < a.numel(); ++i) rhs += a[i] * back[i];
    BOOST_TEST(lhs == rhs, boost::test_tools::tolerance(1e-12));
  }
  BOOST_CHECK_THROW(broadcast_to(TensorD::zeros({3}), {2, 4}), ShapeError);
  BOOST_CHECK_THROW(broadcast_to(TensorD::zeros({2, 3}), {3}), ShapeError);
}

BOOST_AUTO_TEST_CASE(add_inplace_broadcasts_into_a) {
  TensorD a = TensorD::ones({2, 3});
  add_inplace(a, TensorD::from({1.0, 2.0, 3.0}));
  BOOST_TEST(a.at({1, 2}) == 4.0);
  add_inplace(a, TensorD::from({10.0, 20.0}, {2, 1}));
  BOOST_TEST(a.at({1, 0}) == 22.0);
  BOOST_CHECK_THROW(add_inplace(a, TensorD::zeros({2, 2, 3})), ShapeError);
}
