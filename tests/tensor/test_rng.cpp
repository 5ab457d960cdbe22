// lz::Rng: reproducible bit for bit, seeds independent, next/jump/long_jump equal to Blackman &
// Vigna's reference, and the moments of uniform() and normal() within 5 standard errors of the truth.
#define BOOST_TEST_MODULE tensor_rng
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/tensor.hpp"

using namespace lz;

namespace ref {
// Blackman & Vigna's xoshiro256starstar.c (next, jump, long_jump), transliterated as plain C on
// a global state, independently of lz::Rng: the jump tests compare the two.
uint64_t s[4];
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t next() {
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}
void jump_with(const uint64_t* J) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int i = 0; i < 4; i++)
    for (int b = 0; b < 64; b++) {
      if (J[i] & UINT64_C(1) << b) {
        s0 ^= s[0];
        s1 ^= s[1];
        s2 ^= s[2];
        s3 ^= s[3];
      }
      next();
    }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}
void jump() {
  static const uint64_t JUMP[] = {0x180ec6d33cfd0aba, 0xd5a61266f0c9392c, 0xa9582618e03fc9aa, 0x39abdc4529b1661c};
  jump_with(JUMP);
}
void long_jump() {
  static const uint64_t LONG_JUMP[] = {0x76e15d3efefdcbbf, 0xc5004e441c522fb3, 0x77710069854ee241,
                                       0x39109bb02acbe635};
  jump_with(LONG_JUMP);
}
void set(const std::array<uint64_t, 4>& st) { std::copy(st.begin(), st.end(), s); }
}  // namespace ref

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

BOOST_AUTO_TEST_CASE(next_is_the_reference_next) {
  // From state {1,2,3,4} the reference's first outputs are 11520, 0, 1509978240 (also printed by
  // the C file compiled on its own); then 1000 draws from a seeded state against the transliteration.
  Rng r;
  r.set_state({1, 2, 3, 4});
  BOOST_TEST(r.next_u64() == 11520ULL);
  BOOST_TEST(r.next_u64() == 0ULL);
  BOOST_TEST(r.next_u64() == 1509978240ULL);
  Rng a(2024);
  ref::set(a.state());
  for (int i = 0; i < 1000; ++i) BOOST_REQUIRE(a.next_u64() == ref::next());
}

BOOST_AUTO_TEST_CASE(jump_and_long_jump_match_the_reference) {
  // Hard values from the reference C code compiled on its own, state {1,2,3,4}.
  Rng j;
  j.set_state({1, 2, 3, 4});
  j.jump();
  const std::array<uint64_t, 4> after = {0x8c7a153956b5f3d1ULL, 0x701f1a713401d85eULL, 0x6527f66a65469085ULL,
                                         0x8386b786c4408050ULL};
  BOOST_TEST((j.state() == after));
  BOOST_TEST(j.next_u64() == 0xbbd2f312298443d8ULL);
  BOOST_TEST(j.next_u64() == 0x62e57db2d5706577ULL);
  BOOST_TEST(j.next_u64() == 0x34d1890374a6d72bULL);
  Rng l;
  l.set_state({1, 2, 3, 4});
  l.long_jump();
  BOOST_TEST(l.next_u64() == 0x527752a1d792704dULL);
  BOOST_TEST(l.next_u64() == 0xd8d8bdec57599e64ULL);
  BOOST_TEST(l.next_u64() == 0x601cb926727eb003ULL);
  // And on a seeded state, mid-stream, against the transliteration in this file.
  for (uint64_t seed : {0ULL, 42ULL, 0xdeadbeefULL}) {
    Rng r(seed);
    for (int i = 0; i < 5; ++i) r.next_u64();
    ref::set(r.state());
    r.jump();
    ref::jump();
    for (int i = 0; i < 100; ++i) BOOST_REQUIRE(r.next_u64() == ref::next());
    r.long_jump();
    ref::long_jump();
    for (int i = 0; i < 100; ++i) BOOST_REQUIRE(r.next_u64() == ref::next());
  }
}

BOOST_AUTO_TEST_CASE(streams_are_seeded_then_jumped) {
  Rng s0 = Rng::stream(7, 0), plain(7);
  BOOST_TEST((s0.state() == plain.state()));
  Rng s3 = Rng::stream(7, 3), by_hand(7);
  for (int i = 0; i < 3; ++i) by_hand.jump();
  BOOST_TEST((s3.state() == by_hand.state()));
  // Neighbouring streams share no draws in their first 10,000 (a collision of 64-bit outputs by
  // chance has probability ~1e-11).
  Rng a = Rng::stream(7, 1), b = Rng::stream(7, 2);
  std::vector<uint64_t> va(10000), vb(10000);
  for (auto& v : va) v = a.next_u64();
  for (auto& v : vb) v = b.next_u64();
  std::sort(va.begin(), va.end());
  int common = 0;
  for (uint64_t v : vb) common += std::binary_search(va.begin(), va.end(), v);
  BOOST_TEST(common == 0);
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
