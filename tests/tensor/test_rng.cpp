// lz::Rng: reproducible bit for bit, seeds independent, and the moments of uniform() and
// normal() within 5 standard errors of the truth.
#define BOOST_TEST_MODULE tensor_rng
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "tensor/tensor.hpp"

using namespace lz;

BOOST_AUTO_TEST_CASE(known_answer_xoshiro256starstar) {
  // First outputs for seed 42, from an independent Python implementation of splitmix64 seeding
  // and xoshiro256** (Blackman & Vigna): guards against any change to the stream.
  Rng r(42);
  BOOST_TEST(r.next_u64() == 0x15780b2e0c2ec716ULL);
  BOOST_TEST(r.next_u64() == 0x6104d9866d113a7eULL);
  BOOST_TEST(r.next_u64() == 0xae17533239e499a1ULL);
  BOOST_TEST(r.next_u64() == 0xecb8ad4703b360a1ULL);
  Rng u(42);
  BOOST_TEST(u.uniform() == 0.08386297105988216);
  BOOST_TEST(u.uniform() == 0.3789802506626686);
}

BOOST_AUTO_TEST_CASE(same_seed_same_numbers_bit_for_bit) {
  Rng a(7), b(7);
  for (int i = 0; i < 1000; ++i) BOOST_REQUIRE(a.next_u64() == b.next_u64());
  Rng c(9), d(9);
  const TensorF x = TensorF::normal({64, 33}, 0.5f, 2.0f, c), y = TensorF::normal({64, 33}, 0.5f, 2.0f, d);
  BOOST_TEST(std::memcmp(x.data(), y.data(), sizeof(float) * x.numel()) == 0);
  const TensorD u = TensorD::uniform({100}, -1, 3, c), v = TensorD::uniform({100}, -1, 3, d);
  BOOST_TEST(std::memcmp(u.data(), v.data(), sizeof(double) * u.numel()) == 0);
}

BOOST_AUTO_TEST_CASE(different_seeds_differ) {
  Rng a(1), b(2);
  int same = 0;
  for (int i = 0; i < 1000; ++i) same += a.next_u64() == b.next_u64();
  BOOST_TEST(same == 0);
  Rng c(0), d(1);  // adjacent small seeds too (splitmix64 decorrelates them)
  BOOST_TEST(c.uniform() != d.uniform());
}

BOOST_AUTO_TEST_CASE(state_round_trip_resumes_the_stream) {
  Rng a(3);
  for (int i = 0; i < 10; ++i) a.next_u64();
  const auto st = a.state();
  const double n1 = a.normal(), u1 = a.uniform();
  Rng b(999);
  b.set_state(st);
  BOOST_TEST(b.normal() == n1);
  BOOST_TEST(b.uniform() == u1);
}

BOOST_AUTO_TEST_CASE(uniform_moments_within_standard_errors) {
  Rng r(123);
  const int n = 200000;
  double s = 0, s2 = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform();
    s += u, s2 += u * u, lo = std::min(lo, u), hi = std::max(hi, u);
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  // U(0,1): mean 1/2, variance 1/12, fourth central moment 1/80.
  const double se_mean = std::sqrt(1.0 / 12 / n), se_var = std::sqrt((1.0 / 80 - 1.0 / 144) / n);
  BOOST_TEST(std::abs(mean - 0.5) < 5 * se_mean, "mean " << mean);
  BOOST_TEST(std::abs(var - 1.0 / 12) < 5 * se_var, "variance " << var);
  BOOST_TEST(lo >= 0.0);
  BOOST_TEST(hi < 1.0);
}

BOOST_AUTO_TEST_CASE(normal_moments_within_standard_errors) {
  Rng r(321);
  const int n = 200000;
  double s = 0, s2 = 0, s3 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    s += z, s2 += z * z, s3 += z * z * z;
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  // N(0,1): SE of the mean 1/√n, of the variance √(2/n), of the third moment √(15/n).
  BOOST_TEST(std::abs(mean) < 5 / std::sqrt(n), "mean " << mean);
  BOOST_TEST(std::abs(var - 1) < 5 * std::sqrt(2.0 / n), "variance " << var);
  BOOST_TEST(std::abs(s3 / n) < 5 * std::sqrt(15.0 / n), "third moment " << s3 / n);
  // Tensor::normal applies mean and stddev.
  const TensorD t = TensorD::normal({n}, 3.0, 0.5, r);
  double ts = 0, ts2 = 0;
  for (int64_t i = 0; i < t.numel(); ++i) ts += t[i], ts2 += t[i] * t[i];
  const double tm = ts / n, tv = ts2 / n - tm * tm;
  BOOST_TEST(std::abs(tm - 3.0) < 5 * 0.5 / std::sqrt(n));
  BOOST_TEST(std::abs(tv - 0.25) < 5 * 0.25 * std::sqrt(2.0 / n));
}

BOOST_AUTO_TEST_CASE(below_is_in_range_and_uniform) {
  Rng r(5);
  const int k = 7, n = 70000;
  std::vector<int> counts(k, 0);
  for (int i = 0; i < n; ++i) {
    const uint64_t v = r.below(k);
    BOOST_REQUIRE(v < static_cast<uint64_t>(k));
    ++counts[v];
  }
  // Pearson chi-square with 6 degrees of freedom: P(X > 22.46) = 0.001.
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / double(k)) * (c - n / double(k)) / (n / double(k));
  BOOST_TEST(chi2 < 22.46);
}
