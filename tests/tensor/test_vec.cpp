// The vector primitives of tensor/vec.hpp against naive loops, at lengths around the SIMD width
// (empty, shorter than a batch, exact multiples, ragged tails).
#define BOOST_TEST_MODULE tensor_vec
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "tensor/tensor.hpp"
#include "tensor/vec.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
const std::vector<int64_t> kLengths = {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 100};

template <typename T>
void check_all(double tol) {
  Rng rng(sizeof(T));
  for (int64_t n : kLengths) {
    BOOST_TEST_CONTEXT("n = " << n << (sizeof(T) == 4 ? " float" : " double")) {
      const Tensor<T> a = Tensor<T>::normal({n}, 0, 1, rng), b = Tensor<T>::normal({n}, 0, 1, rng),
                      c = Tensor<T>::normal({n}, 0, 1, rng);
      std::vector<T> out(n + 1, T(-7));  // one guard element past the end
      double s = 0, d = 0, es = 0;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t i = 0; i < n; ++i) s += a[i], d += double(a[i]) * b[i], es += std::exp(double(a[i])), m = std::max(m, a[i]);
      BOOST_TEST(vec::sum(n, a.data()) == s, tt::tolerance(tol));
      BOOST_TEST(vec::dot(n, a.data(), b.data()) == d, tt::tolerance(tol));
      BOOST_TEST(vec::max(n, a.data()) == m);
      BOOST_TEST(vec::map_sum(n, a.data(), [](auto x) {
        using std::exp;
        using xsimd::exp;
        return exp(x);
      }) == es, tt::tolerance(tol));

      vec::map(n, a.data(), out.data(), [](auto x) { return x * x; });
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(out[i] == a[i] * a[i]);
      BOOST_TEST(out[n] == T(-7));
      vec::zip(n, a.data(), b.data(), out.data(), [](auto x, auto y) { return x - y; });
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(out[i] == a[i] - b[i]);
      vec::zip_scalar_right(n, a.data(), T(2), out.data(), [](auto x, auto y) { return x / y; });
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(out[i] == a[i] / T(2));
      vec::zip_scalar_left(n, T(2), a.data(), out.data(), [](auto x, auto y) { return x - y; });
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(out[i] == T(2) - a[i]);
      vec::zip3(n, a.data(), b.data(), c.data(), out.data(),
                [](auto x, auto y, auto z) { return vec::select(x > y, z, x); });
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(out[i] == (a[i] > b[i] ? c[i] : a[i]));
      BOOST_TEST(out[n] == T(-7));

      std::vector<T> y(b.data(), b.data() + n);
      vec::axpy(n, T(0.5), a.data(), y.data());
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(double(y[i]) == double(b[i] + T(0.5) * a[i]), tt::tolerance(tol));
      vec::add_into(n, a.data(), y.data());
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(double(y[i]) == double(b[i] + T(1.5) * a[i]), tt::tolerance(tol));
    }
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(primitives_match_naive_loops_float) { check_all<float>(1e-5); }
BOOST_AUTO_TEST_CASE(primitives_match_naive_loops_double) { check_all<double>(1e-13); }

BOOST_AUTO_TEST_CASE(in_place_updates_write_every_array_back_and_nothing_past_it) {
  // The optimizers' fused passes: p, a, b updated in place from g, at every length of kLengths and
  // at one long enough to be split over threads; the scalar loop's results (to rounding: the
  // compiler may contract the scalar a * b + c into an FMA, which the batch body does not).
  Rng rng(3);
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(9), int64_t(33), int64_t(100), 2 * vec::kSplitMin + 5}) {
    BOOST_TEST_CONTEXT("n = " << n) {
      const TensorF g = TensorF::normal({n}, 0, 1, rng);
      std::vector<float> p(n + 1, 1.5f), a(n + 1, 0.5f), b(n + 1, 2.0f);
      auto step = [](auto& pv, auto gv, auto& av, auto& bv) {
        av = av * 0.9f + gv;
        bv = bv * 0.5f + gv * gv;
        pv = pv - av / bv;
      };
      vec::update_in_place(n, p.data(), g.data(), a.data(), b.data(), step);
      std::vector<float> q(n + 1, 1.5f), c(n + 1, 0.5f);
      vec::update_in_place(n, q.data(), g.data(), c.data(), [](auto& pv, auto gv, auto& av) {
        av = av + gv;
        pv = pv * av;
      });
      for (int64_t i = 0; i < n; ++i) {
        float pp = 1.5f, aa = 0.5f, bb = 2.0f, qq = 1.5f, cc = 0.5f;
        step(pp, g[i], aa, bb);
        cc = cc + g[i];
        qq = qq * cc;
        BOOST_REQUIRE(std::abs(p[i] - pp) <= 1e-5f * (1 + std::abs(pp)));
        BOOST_REQUIRE(std::abs(a[i] - aa) <= 1e-5f * (1 + std::abs(aa)));
        BOOST_REQUIRE(std::abs(b[i] - bb) <= 1e-5f * (1 + std::abs(bb)));
        BOOST_REQUIRE(std::abs(q[i] - qq) <= 1e-5f * (1 + std::abs(qq)));
        BOOST_REQUIRE(std::abs(c[i] - cc) <= 1e-5f * (1 + std::abs(cc)));
      }
      BOOST_TEST(p[n] == 1.5f);  // the guard element past the end is untouched
      BOOST_TEST(a[n] == 0.5f);
      BOOST_TEST(b[n] == 2.0f);
    }
  }
}

BOOST_AUTO_TEST_CASE(max_propagates_nan_from_any_lane) {
  for (int64_t pos : {0, 3, 8, 18}) {
    std::vector<float> v(19, 1.0f);
    v[pos] = std::numeric_limits<float>::quiet_NaN();
    BOOST_TEST(std::isnan(vec::max(19, v.data())), "NaN at " << pos);
  }
  BOOST_TEST(vec::max<float>(0, nullptr) == -std::numeric_limits<float>::infinity());
}

BOOST_AUTO_TEST_CASE(gathers_through_an_index_list_match_a_naive_loop) {  // double only: int64 indices
  Rng rng(5);
  const TensorD a = TensorD::normal({200}, 0, 1, rng);
  for (int64_t n : kLengths) {
    BOOST_TEST_CONTEXT("n = " << n) {
      std::vector<int64_t> idx(n);
      for (int64_t i = 0; i < n; ++i) idx[i] = static_cast<int64_t>(rng.below(200));  // repeats and any order
      const TensorD w = TensorD::normal({n}, 0, 1, rng);
      std::vector<double> out(n + 1, -7.0);
      vec::gather_map(n, a.data(), idx.data(), out.data(), [](auto v) { return v - 1.0; });
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(out[i] == a[idx[i]] - 1.0);
      BOOST_TEST(out[n] == -7.0);
      vec::gather_zip(n, a.data(), idx.data(), w.data(), out.data(), [](auto v, auto s) { return s * (v - 1.0); });
      for (int64_t i = 0; i < n; ++i) BOOST_TEST(out[i] == w[i] * (a[idx[i]] - 1.0));
      BOOST_TEST(out[n] == -7.0);
    }
  }
}
