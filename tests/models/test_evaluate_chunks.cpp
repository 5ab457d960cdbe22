// estimate_bounds (models/evaluate.hpp) decodes in chunks: B examples at a time and their k samples
// kc at a time, B = min(N, max_rows / k), kc = min(k, max_rows / B). Held here to a direct, unchunked
// computation on the same ε: the test draws one [c, b, Z] block per chunk from the same seed, in
// the order the chunked loop does (batches of examples, then chunks of samples), places the blocks
// in one ε:[k, N, Z], and evaluates everything in one pass (one encode of all of x, one decode of
// all k·N samples). Only the public signature of estimate_bounds is used.
#define BOOST_TEST_MODULE evaluate_chunks
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "tensor/math.hpp"
#include "models/evaluate.hpp"
#include "models/vae.hpp"

using namespace lz;

namespace {

VaeConfig config(VaeLikelihood lik) {
  VaeConfig c;
  c.x_dim = 6;
  c.hidden = {5};
  c.z_dim = 3;
  c.activation = "tanh";
  c.likelihood = lik;
  c.init_logvar = -0.7;
  return c;
}

TensorD data(int64_t n, VaeLikelihood lik, Rng& rng) {
  TensorD x = TensorD::uniform({n, 6}, 0, 1, rng);
  if (lik == VaeLikelihood::Bernoulli)
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = x[i] < 0.4 ? 1.0 : 0.0;
  return x;
}

// The estimates from ε:[k, N, Z] drawn in blocks of B examples × kc samples, computed unchunked.
BoundEstimates direct(VAE<double>& m, const TensorD& x, int64_t k, const std::vector<int64_t>& ks, Rng& rng,
                      int64_t B, int64_t kc) {
  const int64_t N = x.size(0), Z = m.config().z_dim;
  TensorD eps({k, N, Z});
  for (int64_t n0 = 0; n0 < N; n0 += B) {
    const int64_t b = std::min(B, N - n0);
    for (int64_t i0 = 0; i0 < k; i0 += kc) {
      const int64_t c = std::min(kc, k - i0);
      const TensorD e = standard_normal<double>({c, b, Z}, rng);
      for (int64_t i = 0; i < c; ++i)
        for (int64_t n = 0; n < b; ++n)
          for (int64_t d = 0; d < Z; ++d) eps[((i0 + i) * N + n0 + n) * Z + d] = e[(i * b + n) * Z + d];
    }
  }
  NoGrad ng;
  const VarD xv(x);
  const DiagGaussian<double> q = m.encode(xv);
  const VarD z = q.rsample(eps);                                    // [k, N, Z]
  const TensorD ll = m.log_likelihood(xv, z).value();               // [k, N]
  const TensorD lp = std_normal_log_prob(z).value(), lq = q.log_prob(z).value();
  const TensorD kl = q.kl_std_normal().value();
  BoundEstimates r;
  r.ks = ks;
  r.bound.assign(ks.size(), std::vector<double>(N));
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> w(k);
    double rec = 0;
    for (int64_t i = 0; i < k; ++i) {
      w[i] = ll[i * N + n] + lp[i * N + n] - lq[i * N + n];
      rec += ll[i * N + n];
    }
    r.log_px.push_back(math::log_mean_exp(w.data(), k));
    for (size_t j = 0; j < ks.size(); ++j) {
      double s = 0;
      for (int64_t g = 0; g < k / ks[j]; ++g) s += math::log_mean_exp(w.data() + g * ks[j], ks[j]);
      r.bound[j][n] = s / static_cast<double>(k / ks[j]);
    }
    r.reconstruction.push_back(rec / static_cast<double>(k));
    r.kl.push_back(kl[n]);
    r.elbo.push_back(r.reconstruction.back() - r.kl.back());
  }
  return r;
}

// Same numbers up to rounding (the two evaluate the same terms with matrices of other shapes).
void same(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  for (size_t n = 0; n < a.size(); ++n)
    BOOST_TEST(std::abs(a[n] - b[n]) <= 1e-12 * std::max(1.0, std::abs(b[n])),
               what << "[" << n << "]: chunked " << a[n] << ", direct " << b[n]);
}

void check(VaeLikelihood lik, int64_t N, int64_t k, const std::vector<int64_t>& ks, int64_t max_rows, int64_t B,
           int64_t kc) {
  BOOST_TEST_CONTEXT("likelihood " << static_cast<int>(lik) << ", N=" << N << " k=" << k << " max_rows=" << max_rows
                                   << " (B=" << B << ", kc=" << kc << ")") {
    Rng init(3);
    VAE<double> m(config(lik), init);
    const TensorD x = data(N, lik, init);
    Rng r1(17), r2(17);
    const BoundEstimates chunked = estimate_bounds(m, x, k, ks, r1, max_rows);
    const BoundEstimates want = direct(m, x, k, ks, r2, B, kc);
    BOOST_TEST((r1.state() == r2.state()), "the two consumed different numbers of draws");
    same(chunked.log_px, want.log_px, "log_px");
    for (size_t j = 0; j < ks.size(); ++j) same(chunked.bound[j], want.bound[j], "bound");
    same(chunked.reconstruction, want.reconstruction, "reconstruction");
    same(chunked.kl, want.kl, "kl");
    same(chunked.elbo, want.elbo, "elbo");
  }
}

}  // namespace

// One example at a time, its 10 samples in chunks of 4, 4 and a partial 2.
BOOST_AUTO_TEST_CASE(sample_chunks_with_a_partial_last_chunk) {
  check(VaeLikelihood::Bernoulli, 3, 10, {1, 2, 5, 10}, 4, 1, 4);
  check(VaeLikelihood::Gaussian, 3, 10, {1, 2, 5, 10}, 4, 1, 4);
}

// Two examples at a time with all 6 samples: batches of 2, 2 and a partial 1.
BOOST_AUTO_TEST_CASE(example_batches_with_a_partial_last_batch) {
  check(VaeLikelihood::Bernoulli, 5, 6, {1, 2, 3, 6}, 12, 2, 6);
  check(VaeLikelihood::Gaussian, 5, 6, {1, 2, 3, 6}, 12, 2, 6);
}

// No chunking at all (one block of every example and sample) is the direct computation.
BOOST_AUTO_TEST_CASE(one_chunk_is_the_direct_computation) {
  check(VaeLikelihood::Bernoulli, 5, 6, {1, 3}, 1 << 20, 5, 6);
}
