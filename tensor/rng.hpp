// The one random generator of latentzoo: xoshiro256** seeded through splitmix64.
//
// Its algorithm is fixed here (not std::normal_distribution, whose output differs between
// standard libraries), so the same seed gives the same numbers bit for bit on every machine.
// Everything random takes an Rng& explicitly; there is no global generator.
//
// Parallel workers and ranks each take their own stream: Rng::stream(seed, i) is the seeded
// generator jumped i times, 2^128 draws apart, so no two streams overlap in any feasible run
// (Blackman & Vigna's recommended way to parallelise xoshiro256**).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace lz {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& s : s_) s = splitmix64(x);
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Advance the state by 2^128 draws (jump) or 2^192 draws (long_jump), by Blackman & Vigna's
  // jump polynomials (xoshiro256starstar.c); tests/tensor/test_rng.cpp holds them to the reference.
  void jump() { apply_jump(kJump); }
  void long_jump() { apply_jump(kLongJump); }

  // Stream `index` of `seed`: the generator seeded with `seed`, then jumped `index` times.
  // Worker/rank i uses stream(seed, i); stream(seed, 0) is Rng(seed). Costs index * 256 draws.
  // Up to 2^64 streams of 2^128 draws each; for a second level (ranks of workers) take
  // long_jump() once per rank and jump() once per worker inside it.
  static Rng stream(uint64_t seed, uint64_t index) {
    Rng r(seed);
    for (uint64_t i = 0; i < index; ++i) r.jump();
    return r;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n) without modulo bias (Lemire's method).
  uint64_t below(uint64_t n);
  // Standard normal by the Box-Muller transform (one value per call; no cached state).
  double normal() {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // The full state, for checkpoints: restoring it resumes the stream exactly.
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

  // splitmix64's output function of one word: a 64-bit hash with full avalanche, for deriving
  // unrelated seeds from counters (per-example noise keys, train/noise.hpp).
  static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    const uint64_t z = mix64(x);
    x += 0x9e3779b97f4a7c15ULL;
    return z;
  }
  // The state after 2^128 (2^192) steps is a fixed GF(2)-linear function of the state: the xor of
  // the states at the steps where the jump polynomial has a 1 bit.
  static constexpr std::array<uint64_t, 4> kJump = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                                    0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
  static constexpr std::array<uint64_t, 4> kLongJump = {0x76e15d3efefdcbbfULL, 0xc5004e441c522fb3ULL,
                                                        0x77710069854ee241ULL, 0x39109bb02acbe635ULL};
  void apply_jump(const std::array<uint64_t, 4>& poly) {
    std::array<uint64_t, 4> acc{};
    for (uint64_t word : poly)
      for (int b = 0; b < 64; ++b) {
        if (word & (uint64_t{1} << b))
          for (int i = 0; i < 4; ++i) acc[i] ^= s_[i];
        next_u64();
      }
    s_ = acc;
  }
  std::array<uint64_t, 4> s_{};
};

inline uint64_t Rng::below(uint64_t n) {
  // 128-bit multiply-shift with rejection of the biased low range.
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next_u64()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

}  // namespace lz
