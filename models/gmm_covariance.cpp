// The covariance policies of gmm_covariance.hpp, one section each: full, tied, diag, spherical.
// Each holds its factorisation, its E-step block of log-terms, its M-step covariance update
// (with reg_covar) and its sampling; full and tied share the Cholesky helpers, diag and spherical
// the variance ones.
#include "models/gmm_covariance.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "models/gmm_blas.hpp"
#include "tensor/linalg.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/vec.hpp"

namespace lz::gmm {

TensorD cholesky(const TensorD& a, const std::string& what) {
  const int64_t D = a.size(0);
  TensorD L = a.clone();
  const lapack_int info =
      LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', static_cast<lapack_int>(D), L.data(), static_cast<lapack_int>(D));
  if (info != 0)
    throw std::invalid_argument(what + ": covariance is not positive definite (LAPACKE_dpotrf info=" +
                                std::to_string(info) + "); increase reg_covar or check the data");
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = i + 1; j < D; ++j) L[i * D + j] = 0.0;
  return L;
}

namespace {

// ½ log|Σ| = Σ_i log L_ii
double half_logdet_of(const double* L, int64_t D) {
  double s = 0;
  for (int64_t i = 0; i < D; ++i) s += std::log(L[i * D + i]);
  return s;
}

// Each [D,D] block of P (one or K of them) inverted through its Cholesky factor: the one place an
// inverse is taken, of user input.
TensorD invert_spd_blocks(const TensorD& P) {
  const int64_t D = P.size(-1), count = P.numel() / (D * D);
  TensorD S = P.clone();
  for (int64_t k = 0; k < count; ++k) {
    double* a = S.data() + k * D * D;
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', D, a, D);
    if (info == 0) info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', D, a, D);
    if (info != 0)
      throw std::invalid_argument("precisions_init[" + std::to_string(k) +
                                  "]: not symmetric positive definite (LAPACKE info=" + std::to_string(info) + ")");
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = i + 1; j < D; ++j) a[i * D + j] = a[j * D + i];
  }
  return S;
}

// s = L z for lower-triangular L:[D,D]
void sample_lower(int64_t D, const double* L, const double* z, double* s) {
  for (int64_t d = 0; d < D; ++d) {
    double v = 0;
    for (int64_t j = 0; j <= d; ++j) v += L[d * D + j] * z[j];
    s[d] = v;
  }
}

// S += Y Y^T for a [D,B] block of columns Y (leading dimension ld), lower triangle
void syrk(int64_t D, const double* Y, int64_t B, int64_t ld, double* S) { linalg::syrk_lower_acc(D, Y, ld, B, S, D); }

// S = scale · S from its lower triangle, symmetric, plus reg_covar on the diagonal
void symmetrize(double* S, int64_t D, double scale, double reg_covar) {
  for (int64_t i = 0; i < D; ++i) {
    for (int64_t j = 0; j <= i; ++j) S[j * D + i] = S[i * D + j] = S[i * D + j] * scale;
    S[i * D + i] += reg_covar;
  }
}

// Precisions and ½ log|Σ_k| of variances held `per` to a component (D for diag, 1 for spherical).
Factors factorize_variances(const GmmParams& p, int64_t per) {
  const int64_t K = p.n_components(), D = p.n_features();
  Factors f;
  f.half_logdet.assign(K, 0.0);
  f.prec = TensorD::empty(p.covariances.shape());
  for (int64_t k = 0; k < K; ++k) {
    double s = 0;
    for (int64_t d = 0; d < per; ++d) {
      const double v = p.covariances[k * per + d];
      if (!(v > 0))
        throw std::invalid_argument("component " + std::to_string(k) + ": variance " + std::to_string(v) +
                                    " is not positive; increase reg_covar or check the data");
      f.prec[k * per + d] = 1.0 / v;
      s += std::log(v);
    }
    f.half_logdet[k] = 0.5 * s * static_cast<double>(D / per);
  }
  return f;
}

TensorD invert_each(const TensorD& P) { return map(P, [](auto v) { return 1.0 / v; }); }

// σ²_kd = Σ_n r_kn (x_nd-c_d)² / N_k - (μ_kd-c_d)² + reg_covar, the sums from the means' GEMM
TensorD diag_variances(const MStepSums& s) {
  const int64_t K = static_cast<int64_t>(s.nk.size()), D = s.x.D;
  TensorD V = TensorD::from(s.add_shares(s.V2), {K, D});
  for (int64_t i = 0; i < K * D; ++i) V[i] = V[i] / s.nk[i / D] - s.M[i] * s.M[i] + s.reg_covar;
  return V;
}

}  // namespace

// ---- full ----------------------------------------------------------------------------------
TensorD FullCov::from_precisions(const TensorD& P) { return invert_spd_blocks(P); }

Factors FullCov::factorize(const GmmParams& p) {
  const SerialBlas serial;
  const int64_t K = p.n_components(), D = p.n_features();
  Factors f;
  f.half_logdet.assign(K, 0.0);
  f.chol = TensorD::empty({K, D, D});
  for (int64_t k = 0; k < K; ++k) {
    TensorD Sk = TensorD::empty({D, D});
    std::copy(p.covariances.data() + k * D * D, p.covariances.data() + (k + 1) * D * D, Sk.data());
    const TensorD L = cholesky(Sk, "component " + std::to_string(k));
    std::copy(L.data(), L.data() + D * D, f.chol.data() + k * D * D);
    f.half_logdet[k] = half_logdet_of(L.data(), D);
  }
  return f;
}

// More points per gathered solve when screening.
int64_t FullCov::block(const Points& x, int64_t m) { return m > 0 ? 4 * block_rows(x.D) : block_rows(x.D); }

FullCov::LogTerms::Scratch FullCov::LogTerms::scratch(int64_t BR) const {
  return {std::vector<double>(BR), ScreenScratch(in.K, in.D, in.m > 0 ? BR : 0), in.m > 0};
}

void FullCov::LogTerms::operator()(int64_t r0, int64_t B, double* lp, Scratch& s) const {
  const int64_t K = in.K, D = in.D;
  if (s.screen_block) {
    const int64_t solved = full_log_terms_screened(in.x, r0, B, K, in.M.data(), in.f, in.bias, in.m, lp, s.screen);
    s.screen_block = screen_next(true, solved, K, B);
    return;
  }
  for (int64_t k = 0; k < K; ++k) {
    linalg::tri_solve_sq_norms(D, in.f.chol.data() + k * D * D, D, in.x.Xc.data() + r0, in.x.N, in.M.data() + k * D, B,
                               s.q.data());
    const double b = in.bias[k];
    vec::map(B, s.q.data(), lp + k * B, [b](auto v) { return b - 0.5 * v; });
  }
  if (in.m > 0) s.screen_block = screen_next(false, drop_below_gap(lp, B, K, s.q.data()), K, B);
}

// Σ_k = (√r_k ∘ (X-μ_k)) (√r_k ∘ (X-μ_k))^T / N_k + reg I: one syrk per block, over the block's
// points with r_kn > 0 only when most are 0 (as the E-step's screening leaves them)
TensorD FullCov::m_step(const MStepSums& s) {
  const Points& x = s.x;
  const TensorD& R = s.R;
  const int64_t N = x.N, D = x.D, K = R.size(0), BF = 4 * s.BR;
  auto part = [&](int64_t begin, int64_t end, double* S) {
    std::vector<double> Yt(D * BF), w(BF);
    std::vector<int64_t> idx(BF);
    for (int64_t r0 = begin; r0 < end; r0 += BF) {
      const int64_t B = std::min(BF, end - r0);
      for (int64_t k = 0; k < K; ++k) {
        const double* r = R.data() + k * N + r0;
        int64_t n_in = 0;
        for (int64_t n = 0; n < B; ++n) {  // branch-free compaction of the points with r_kn > 0
          idx[n_in] = n;
          w[n_in] = r[n];
          n_in += r[n] > 0;
        }
        if (n_in == 0) continue;
        const bool gather = 2 * n_in < B;  // else the zeros cost less than gathering around them
        if (!gather) {
          n_in = B;
          std::copy(r, r + B, w.data());
        }
        vec::map(n_in, w.data(), w.data(), [](auto v) {
          using std::sqrt;
          using xsimd::sqrt;
          return sqrt(v);
        });
        for (int64_t d = 0; d < D; ++d) {
          const double m = s.M[k * D + d];
          const double* xd = x.Xc.data() + d * N + r0;
          auto shift_scale = [m](auto v, auto sr) { return sr * (v - m); };
          if (gather)
            vec::gather_zip(n_in, xd, idx.data(), w.data(), Yt.data() + d * n_in, shift_scale);
          else
            vec::zip(n_in, xd, w.data(), Yt.data() + d * n_in, shift_scale);
        }
        syrk(D, Yt.data(), n_in, n_in, S + k * D * D);
      }
    }
  };
  TensorD C = TensorD::from(s.add_shares(parallel_accumulate(N, s.BR, s.T, K * D * D, part)), {K, D, D});
  for (int64_t k = 0; k < K; ++k) symmetrize(C.data() + k * D * D, D, 1.0 / s.nk[k], s.reg_covar);
  return C;
}

void FullCov::sample(const GmmParams& p, const Factors& f, int64_t k, const double* z, double* s) {
  const int64_t D = p.n_features();
  sample_lower(D, f.chol.data() + k * D * D, z, s);
}

// ---- tied ----------------------------------------------------------------------------------
TensorD TiedCov::from_precisions(const TensorD& P) { return invert_spd_blocks(P); }

Factors TiedCov::factorize(const GmmParams& p) {
  const SerialBlas serial;
  Factors f;
  f.chol = cholesky(p.covariances, "tied covariance");
  f.half_logdet.assign(p.n_components(), half_logdet_of(f.chol.data(), p.n_features()));
  return f;
}

int64_t TiedCov::block(const Points& x, int64_t) { return block_rows(x.D); }

TiedCov::LogTerms::LogTerms(LogTermInputs inputs) : in(std::move(inputs)) {
  cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, in.K, in.D, 1.0, in.f.chol.data(),
              in.D, in.M.data(), in.D);  // M becomes L^{-1}(μ-c), row by row
}

TiedCov::LogTerms::Scratch TiedCov::LogTerms::scratch(int64_t BR) const {
  return {std::vector<double>(in.D * BR), std::vector<double>(BR)};
}

void TiedCov::LogTerms::operator()(int64_t r0, int64_t B, double* lp, Scratch& s) const {
  const int64_t K = in.K, D = in.D, N = in.x.N;
  for (int64_t d = 0; d < D; ++d)  // Yt = the block's centred points, then L^{-1} of them
    std::copy(in.x.Xc.data() + d * N + r0, in.x.Xc.data() + d * N + r0 + B, s.Yt.data() + d * B);
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, D, B, 1.0, in.f.chol.data(), D,
              s.Yt.data(), B);
  for (int64_t k = 0; k < K; ++k) {
    std::fill(s.q.begin(), s.q.begin() + B, 0.0);
    for (int64_t d = 0; d < D; ++d) {
      const double mu_kd = in.M[k * D + d];
      vec::zip(B, s.Yt.data() + d * B, s.q.data(), s.q.data(),
               [mu_kd](auto y, auto a) { return a + (y - mu_kd) * (y - mu_kd); });
    }
    const double b = in.bias[k];
    vec::map(B, s.q.data(), lp + k * B, [b](auto v) { return b - 0.5 * v; });
  }
}

// Σ = (Σ_n (x-c)(x-c)^T - Σ_k N_k (μ_k-c)(μ_k-c)^T) / N + reg I
TensorD TiedCov::m_step(const MStepSums& s) {
  const Points& x = s.x;
  const int64_t N = x.N, D = x.D, K = static_cast<int64_t>(s.nk.size()), BR = s.BR;
  auto part = [&](int64_t begin, int64_t end, double* S) {
    for (int64_t r0 = begin; r0 < end; r0 += BR) syrk(D, x.Xc.data() + r0, std::min(BR, end - r0), N, S);
  };
  TensorD C = TensorD::from(s.add_shares(parallel_accumulate(N, BR, s.T, D * D, part)), {D, D});
  std::vector<double> Ms(K * D);
  for (int64_t i = 0; i < K * D; ++i) Ms[i] = std::sqrt(s.nk[i / D]) * s.M[i];
  cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, D, K, -1.0, Ms.data(), D, 1.0, C.data(), D);
  symmetrize(C.data(), D, 1.0 / s.total, s.reg_covar);
  return C;
}

void TiedCov::sample(const GmmParams& p, const Factors& f, int64_t, const double* z, double* s) {
  sample_lower(p.n_features(), f.chol.data(), z, s);
}

// ---- diag ----------------------------------------------------------------------------------
TensorD DiagCov::from_precisions(const TensorD& P) { return invert_each(P); }

Factors DiagCov::factorize(const GmmParams& p) { return factorize_variances(p, p.n_features()); }

// Points per block of a packed diag E-step: the block's XXp (256 x 2D doubles, 200 KB at D = 50)
// is still in L2 when the moments read it after the E-step's product. bench_gmm --cov diag, 1
// thread, 3 alternated rounds: fashion 0.0137-0.0177 s/iter at 128, 0.0145-0.0161 at 256,
// 0.0133-0.0177 at 512, 0.0209-0.0247 at 4096; synth 0.0092-0.0115 at 256, 0.0100-0.0124 otherwise.
constexpr int64_t kPackedBlock = 256;

// Through OpenBLAS (points not packed), blocks of 4096 points whatever D: a block's two GEMMs are
// [K,D] x [D,B], and with B = block_rows(D) (327 points at D = 50) they ran OpenBLAS's
// small-matrix path and the Fashion-MNIST diag iteration was ~25% slower (bench_gmm: 0.0170
// against 0.0133 s at 1 thread; synth, D = 16: 4096 as fast as 1024, 12,288 slower).
int64_t DiagCov::block(const Points& x, int64_t) { return x.packed() ? kPackedBlock : 4096; }

DiagCov::LogTerms::LogTerms(LogTermInputs inputs) : in(std::move(inputs)), AP(2 * in.K * in.D), bias(in.K) {
  const int64_t K = in.K, D = in.D;
  std::vector<double> muPmu(K, 0.0);  // Σ_d (μ-c)² P
  for (int64_t i = 0; i < K * D; ++i) {
    const double MP = in.M[i] * in.f.prec[i];
    muPmu[i / D] += in.M[i] * MP;
    AP[i / D * 2 * D + i % D] = -2.0 * MP;
    AP[i / D * 2 * D + D + i % D] = in.f.prec[i];
  }
  for (int64_t k = 0; k < K; ++k) bias[k] = in.bias[k] - 0.5 * muPmu[k];
}

void DiagCov::LogTerms::operator()(int64_t r0, int64_t B, double* lp, Scratch&) const {
  const int64_t K = in.K, D = in.D;
  // one product, [K,2D] x [2D,B] over the block's columns of XX (Xc's rows, then Xc2's);
  // r0 is a multiple of the block size, so the block starts at a panel of XXp
  if (in.x.packed())
    linalg::gemm_panels(K, 2 * D, AP.data(), 2 * D, in.x.XXp.data() + r0 * 2 * D, B, lp, B);
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, B, 2 * D, 1.0, AP.data(), 2 * D, in.x.Xc.data() + r0,
                in.x.N, 0.0, lp, B);
  for (int64_t k = 0; k < K; ++k) {
    const double b = bias[k];
    vec::map(B, lp + k * B, lp + k * B, [b](auto v) { return b - 0.5 * v; });
  }
}

TensorD DiagCov::m_step(const MStepSums& s) { return diag_variances(s); }

void DiagCov::sample(const GmmParams& p, const Factors&, int64_t k, const double* z, double* s) {
  const int64_t D = p.n_features();
  for (int64_t d = 0; d < D; ++d) s[d] = std::sqrt(p.covariances[k * D + d]) * z[d];
}

// ---- spherical -----------------------------------------------------------------------------
TensorD SphericalCov::from_precisions(const TensorD& P) { return invert_each(P); }

Factors SphericalCov::factorize(const GmmParams& p) { return factorize_variances(p, 1); }

int64_t SphericalCov::block(const Points& x, int64_t) { return block_rows(x.D); }

SphericalCov::LogTerms::LogTerms(LogTermInputs inputs) : in(std::move(inputs)), mm(in.K, 0.0) {
  for (int64_t i = 0; i < in.K * in.D; ++i) mm[i / in.D] += in.M[i] * in.M[i];
}

void SphericalCov::LogTerms::operator()(int64_t r0, int64_t B, double* lp, Scratch& s) const {
  const int64_t K = in.K, D = in.D, N = in.x.N;
  const double* Xc2 = in.x.Xc2.data() + r0;
  std::copy(Xc2, Xc2 + B, s.q.data());  // ||x - c||²
  for (int64_t d = 1; d < D; ++d) vec::add_into(B, Xc2 + d * N, s.q.data());
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, B, D, 1.0, in.M.data(), D, in.x.Xc.data() + r0, N, 0.0, lp,
              B);
  for (int64_t k = 0; k < K; ++k) {
    const double b = in.bias[k], pk = in.f.prec[k], m2 = mm[k];
    vec::zip(B, lp + k * B, s.q.data(), lp + k * B,
             [b, pk, m2](auto xm, auto xx) { return b - 0.5 * pk * (xx - 2.0 * xm + m2); });
  }
}

// σ²_k = (1/D) Σ_d σ²_kd: diag's variances averaged (reg_covar is inside each, so added once)
TensorD SphericalCov::m_step(const MStepSums& s) {
  const int64_t K = static_cast<int64_t>(s.nk.size()), D = s.x.D;
  const TensorD V = diag_variances(s);
  TensorD C = TensorD::empty({K});
  for (int64_t k = 0; k < K; ++k) C[k] = vec::sum(D, V.data() + k * D) / static_cast<double>(D);
  return C;
}

void SphericalCov::sample(const GmmParams& p, const Factors&, int64_t k, const double* z, double* s) {
  const int64_t D = p.n_features();
  for (int64_t d = 0; d < D; ++d) s[d] = std::sqrt(p.covariances[k]) * z[d];
}

}  // namespace lz::gmm
