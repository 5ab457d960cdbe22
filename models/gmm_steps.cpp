// The E and M steps made fast (their equations, written out, are gmm_reference.cpp's, which
// tests/models/test_gmm_reference.cpp holds these to), on blocks of points (columns of Xc) so that each
// block and its per-component copy stay in cache while BLAS-3 calls (trsm, syrk, gemm) do the
// heavy work and every other pass is a SIMD loop over points. Each step is written once over the
// covariance policy (gmm_covariance.hpp), which supplies its block of log-terms and its
// covariance update; with full covariances the E-step first screens out the (point, component)
// pairs too improbable to matter (gmm_screen.cpp).
#include "models/gmm_steps.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "models/gmm_blas.hpp"
#include "models/gmm_covariance.hpp"
#include "tensor/linalg.hpp"
#include "tensor/math.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/vec.hpp"

namespace lz::gmm {

namespace {
// lp [K,B] holds log w_k + log N(x_n; k); turn it into responsibilities in place:
// log p(x_n) = logsumexp_k lp[k,n],  r_kn = exp(lp[k,n] - log p(x_n)).
void normalize_block(double* lp, int64_t B, int64_t K, double* log_px, double* s) {
  // lp becomes exp(lp - max_k), s their sum over k; a point no component explains (all -inf)
  // gets log p = -inf and, below, uniform responsibilities.
  math::logsumexp_cols(K, B, lp, log_px, s, lp);
  vec::map(B, s, s, [](auto v) { return 1.0 / v; });  // s = 0 (all -inf) gives inf, caught below
  for (int64_t k = 0; k < K; ++k) vec::zip(B, lp + k * B, s, lp + k * B, [](auto r, auto inv) { return r * inv; });
  for (int64_t n = 0; n < B; ++n)
    if (!std::isfinite(s[n]))
      for (int64_t k = 0; k < K; ++k) lp[k * B + n] = 1.0 / static_cast<double>(K);
}
}  // namespace

Points points(const TensorD& X, const Sum& sum) {
  Points x;
  x.N = X.size(0);
  x.D = X.size(1);
  x.c.assign(x.D + 1, 0.0);  // the column sums, then (a sum's last entry) the number of rows
  for (int64_t n = 0; n < x.N; ++n)
    for (int64_t d = 0; d < x.D; ++d) x.c[d] += X[n * x.D + d];
  x.c[x.D] = static_cast<double>(x.N);
  if (sum) sum(x.c.data(), x.D + 1);
  const double rows = x.c[x.D];
  x.c.pop_back();
  for (auto& v : x.c) v /= rows;
  x.XX = TensorD::empty({2 * x.D, x.N});
  x.Xc = x.XX.view(0, {x.D, x.N});
  x.Xc2 = x.XX.view(x.D * x.N, {x.D, x.N});
  for (int64_t d = 0; d < x.D; ++d)
    for (int64_t n = 0; n < x.N; ++n) x.Xc[d * x.N + n] = X[n * x.D + d] - x.c[d];
  vec::map(x.D * x.N, x.Xc.data(), x.Xc2.data(), [](auto v) { return v * v; });
  return x;
}

void pack_diag(Points& x) {
  const int64_t W = 2 * x.D;
  x.XXp = TensorD::empty({linalg::panel_size(W, x.N)});
  linalg::pack_panels(W, x.N, x.XX.data(), x.N, x.XXp.data());
}

int64_t block_rows(int64_t D) { return std::clamp<int64_t>(16384 / std::max<int64_t>(D, 1), 64, 4096); }

// ---- E-step ------------------------------------------------------------------------------
// log w_k + log N(x; μ_k, Σ_k) = log w_k - ½ (D log 2π + ||L_k^{-1}(x - μ_k)||²) - ½ log|Σ_k|,
// the Mahalanobis term block by block from the policy (Cov::LogTerms), on centred points x - c
// and means μ - c (M below).
//
// m > 0 (policies that screen: full): screen on the m leading rows where it pays (gmm_screen.hpp).
template <class Cov>
static double e_step_blocks(const Points& x, const GmmParams& p, const Factors& f, TensorD* R, TensorD* log_px,
                            int64_t m, std::vector<double>* moments) {
  const SerialBlas serial;
  const int64_t N = x.N, D = x.D, K = p.n_components();
  const int64_t BR = Cov::block(x, m);
  const int T = serial.threads(N, BR);
  LogTermInputs in{x, p, f, std::vector<double>(K), std::vector<double>(K * D), m, K, D};
  for (int64_t k = 0; k < K; ++k) in.bias[k] = std::log(p.weights[k]) - 0.5 * D * math::kLog2Pi - f.half_logdet[k];
  for (int64_t i = 0; i < K * D; ++i) in.M[i] = p.means[i] - x.c[i % D];
  const typename Cov::LogTerms log_terms(std::move(in));

  const int64_t W = moment_width(Cov{}, D);
  auto part = [&](int64_t begin, int64_t end, double* total) {
    std::vector<double> lp(K * BR), lpx(BR), s(BR);
    typename Cov::LogTerms::Scratch scratch = log_terms.scratch(BR);
    for (int64_t r0 = begin; r0 < end; r0 += BR) {
      const int64_t B = std::min(BR, end - r0);
      log_terms(r0, B, lp.data(), scratch);
      normalize_block(lp.data(), B, K, lpx.data(), s.data());
      for (int64_t n = 0; n < B; ++n) *total += lpx[n];
      if (R)
        for (int64_t k = 0; k < K; ++k) std::copy(lp.data() + k * B, lp.data() + (k + 1) * B, R->data() + k * N + r0);
      if (log_px) std::copy(lpx.data(), lpx.data() + B, log_px->data() + r0);
      // the M-step's Σ_n r_kn XX[:,n] over this block, while the block is still in cache
      if (moments && x.packed())
        linalg::gemm_nt_panels_acc(K, W, lp.data(), B, x.XXp.data() + r0 * W, B, total + 1, W);
      else if (moments)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, W, B, 1.0, lp.data(), B, x.XX.data() + r0, N, 1.0,
                    total + 1, W);
    }
  };
  std::vector<double> acc = parallel_accumulate(N, BR, T, 1 + (moments ? K * W : 0), part);
  if (moments) moments->assign(acc.begin() + 1, acc.end());
  return acc[0];
}

template <class Cov>
double e_step(Cov, const Points& x, const GmmParams& p, const Factors& f, TensorD* R, TensorD* log_px, bool screen,
              std::vector<double>* moments) {
  const int64_t m = Cov::screens && screen ? screen_rows(x.D) : 0;
  const double total = e_step_blocks<Cov>(x, p, f, R, log_px, m, moments);
  // Screening moves each r_kn by less than 2e-22: nothing next to a component's mass N_k unless
  // that mass is itself below one point's worth. Then the E-step is redone without screening.
  if (m > 0 && R)
    for (int64_t k = 0; k < p.n_components(); ++k)
      if (vec::sum(x.N, R->data() + k * x.N) < 1.0) return e_step_blocks<Cov>(x, p, f, R, log_px, 0, moments);
  return total;
}

double e_step(const Points& x, const GmmParams& p, const Factors& f, TensorD* R, TensorD* log_px, bool screen,
              std::vector<double>* moments) {
  return with_policy(p.type, [&](auto cov) { return e_step(cov, x, p, f, R, log_px, screen, moments); });
}

// ---- M-step ------------------------------------------------------------------------------
// N_k = Σ_n r_kn, w_k = N_k/N, μ_k = Σ_n r_kn x_n / N_k, and Σ_k from the policy (Cov::m_step)
int64_t moment_width(CovarianceType type, int64_t D) {
  return with_policy(type, [D](auto cov) { return moment_width(cov, D); });
}

template <class Cov>
std::vector<double> m_step(Cov, const Points& x, const TensorD& R, double reg_covar, GmmParams& p, const Sum& sum,
                           const std::vector<double>* moments) {
  const SerialBlas serial;
  const int64_t N = x.N, D = x.D, K = R.size(0), BR = block_rows(D);
  const int T = serial.threads(N, BR);
  const double tiny = 10 * std::numeric_limits<double>::epsilon();  // keeps an empty component finite
  // μ_k - c = Σ_n r_kn (x_n - c) / N_k: one GEMM, R:[K,N] times Xc^T:[N,D]; for diag and spherical
  // (Cov::squares) the same GEMM also gives Σ_n r_kn (x_n - c)², R times XX^T:[N,2D] (the variances)
  const int64_t W = moment_width(Cov{}, D);
  if (moments && static_cast<int64_t>(moments->size()) != K * W)
    throw std::logic_error("gmm::m_step: moments of size " + std::to_string(moments->size()) + ", expected " +
                           std::to_string(K * W));
  std::vector<double> MV = moments ? *moments : parallel_accumulate(N, BR, T, K * W, [&](int64_t begin, int64_t end, double* acc) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, W, end - begin, 1.0, R.data() + begin, N,
                x.XX.data() + begin, N, 0.0, acc, W);
  });
  std::vector<double> M(K * D), V2(Cov::squares ? K * D : 0);
  for (int64_t k = 0; k < K; ++k) {
    std::copy(MV.begin() + k * W, MV.begin() + k * W + D, M.begin() + k * D);
    if (Cov::squares) std::copy(MV.begin() + k * W + D, MV.begin() + (k + 1) * W, V2.begin() + k * D);
  }
  std::vector<double> Nk(K), nk(K);
  for (int64_t k = 0; k < K; ++k) Nk[k] = vec::sum(N, R.data() + k * N);
  if (sum) {  // the shares' N_k and Σ r (x - c) in one all-reduce
    M.insert(M.end(), Nk.begin(), Nk.end());
    sum(M.data(), K * D + K);
    std::copy(M.begin() + K * D, M.end(), Nk.begin());
    M.resize(K * D);
  }
  double total = 0;
  for (int64_t k = 0; k < K; ++k) total += (nk[k] = Nk[k] + tiny);
  p.weights = TensorD::empty({K});
  for (int64_t k = 0; k < K; ++k) p.weights[k] = nk[k] / total;
  for (int64_t i = 0; i < K * D; ++i) M[i] /= nk[i / D];
  p.means = TensorD::empty({K, D});
  for (int64_t i = 0; i < K * D; ++i) p.means[i] = M[i] + x.c[i % D];
  // the covariance sums (added over the shares, around the all-share means) and their update
  p.covariances = Cov::m_step(MStepSums{x, R, M, std::move(V2), nk, total, reg_covar, sum, T, BR});
  return Nk;
}

std::vector<double> m_step(const Points& x, const TensorD& R, double reg_covar, GmmParams& p, const Sum& sum,
                           const std::vector<double>* moments) {
  return with_policy(p.type, [&](auto cov) { return m_step(cov, x, R, reg_covar, p, sum, moments); });
}

// The four instantiations GaussianMixture's EM loop calls.
#define LZ_GMM_STEPS(Cov)                                                                                      \
  template double e_step(Cov, const Points&, const GmmParams&, const Factors&, TensorD*, TensorD*, bool,      \
                         std::vector<double>*);                                                              \
  template std::vector<double> m_step(Cov, const Points&, const TensorD&, double, GmmParams&, const Sum&,      \
                                      const std::vector<double>*);
LZ_GMM_STEPS(FullCov)
LZ_GMM_STEPS(TiedCov)
LZ_GMM_STEPS(DiagCov)
LZ_GMM_STEPS(SphericalCov)
#undef LZ_GMM_STEPS

Factors factorize(const GmmParams& p) {
  return with_policy(p.type, [&](auto cov) { return decltype(cov)::factorize(p); });
}

}  // namespace lz::gmm
