// Reductions (sum, mean, max, argmax over every axis, keepdim) against naive loops.
#define BOOST_TEST_MODULE tensor_reduce
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "tensor/ops.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
// Naive reduction of a [A,B,C] tensor along `axis` with `op`, starting from `init`.
template <typename T, typename Op>
std::vector<T> naive(const Tensor<T>& x, int64_t axis, T init, Op op) {
  const Shape& s = x.shape();
  Shape o = s;
  o[axis] = 1;
  std::vector<T> r(shape_numel(o), init);
  for (int64_t i = 0; i < s[0]; ++i)
    for (int64_t j = 0; j < s[1]; ++j)
      for (int64_t k = 0; k < s[2]; ++k) {
        const int64_t oi = axis == 0 ? 0 : i, oj = axis == 1 ? 0 : j, ok = axis == 2 ? 0 : k;
        T& acc = r[(oi * o[1] + oj) * o[2] + ok];
        acc = op(acc, x.at({i, j, k}));
      }
  return r;
}

Shape reduced(Shape s, int64_t axis, bool keep) {
  if (keep)
    s[axis] = 1;
  else
    s.erase(s.begin() + axis);
  return s;
}
}  // namespace

BOOST_AUTO_TEST_CASE(sum_mean_max_along_each_axis) {
  Rng rng(1);
  for (const Shape& s : std::vector<Shape>{{3, 4, 5}, {2, 17, 9}, {1, 33, 1}}) {
    const TensorD x = TensorD::normal(s, 0, 1, rng);
    for (int64_t axis = 0; axis < 3; ++axis)
      for (bool keep : {false, true}) {
        BOOST_TEST_CONTEXT(shape_str(s) << " axis " << axis << " keepdim " << keep) {
          const auto ns = naive<double>(x, axis, 0.0, [](double a, double b) { return a + b; });
          const auto nm = naive<double>(x, axis, -INFINITY, [](double a, double b) { return std::max(a, b); });
          const TensorD su = sum(x, axis, keep), me = mean(x, axis, keep), mx = max(x, axis, keep);
          BOOST_TEST(su.shape() == reduced(s, axis, keep));
          BOOST_TEST(me.shape() == reduced(s, axis, keep));
          BOOST_TEST(mx.shape() == reduced(s, axis, keep));
          for (size_t i = 0; i < ns.size(); ++i) {
            BOOST_TEST(su[i] == ns[i], tt::tolerance(1e-13));
            BOOST_TEST(me[i] == ns[i] / s[axis], tt::tolerance(1e-13));
            BOOST_TEST(mx[i] == nm[i]);  // max is exact
          }
          // negative axes count from the end
          const TensorD neg = sum(x, axis - 3, keep);
          BOOST_TEST(std::memcmp(neg.data(), su.data(), sizeof(double) * su.numel()) == 0);
        }
      }
  }
}

BOOST_AUTO_TEST_CASE(float_sums_and_whole_tensor_reductions) {
  Rng rng(2);
  const TensorF x = TensorF::uniform({1000}, -1, 1, rng);
  double s = 0, m = -1e9;
  for (int64_t i = 0; i < x.numel(); ++i) s += x[i], m = std::max(m, double(x[i]));
  BOOST_TEST(sum_all(x) == s, tt::tolerance(1e-4));
  BOOST_TEST(max_all(x) == m);
  BOOST_TEST(sum(x, 0).item() == s, tt::tolerance(1e-4));
}

BOOST_AUTO_TEST_CASE(argmax_first_on_ties_along_each_axis) {
  const TensorD x = TensorD::from({1, 5, 5, 2, 7, 0, 7, 3, -1, -1, -1, -1}, {3, 4});
  BOOST_TEST(argmax(x, 1) == (std::vector<int64_t>{1, 0, 0}));
  BOOST_TEST(argmax(x, 0) == (std::vector<int64_t>{1, 0, 1, 1}));
  Rng rng(3);
  const TensorD y = TensorD::normal({4, 6, 5}, 0, 1, rng);
  const auto a = argmax(y, 1);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t k = 0; k < 5; ++k) {
      int64_t best = 0;
      for (int64_t j = 1; j < 6; ++j)
        if (y.at({i, j, k}) > y.at({i, best, k})) best = j;
      BOOST_TEST(a[i * 5 + k] == best);
    }
}

BOOST_AUTO_TEST_CASE(max_propagates_nan_and_rejects_empty) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const TensorD x = TensorD::from({1, nan, 3, 4, 5, 6, 7, 8, 9, 10}, {2, 5});
  BOOST_TEST(std::isnan(max(x, 1)[0]));
  BOOST_TEST(max(x, 1)[1] == 10.0);
  BOOST_TEST(std::isnan(max(x, 0)[1]));
  BOOST_TEST(std::isnan(max_all(x)));
  BOOST_CHECK_THROW(max(TensorD::zeros({2, 0}), 1), ShapeError);
  BOOST_CHECK_THROW(max_all(TensorD::zeros({0})), ShapeError);
}
