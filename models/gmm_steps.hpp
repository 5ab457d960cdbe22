// The E and M steps of the Gaussian mixture, shared by GaussianMixture (EM) and the gradient
// ascent variant. Internal to models/: a reader looking for the equations finds them in
// gmm_reference.cpp (gmm::reference::e_step, m_step), which tests/models/test_gmm_reference.cpp
// holds these fast steps (gmm_steps.cpp) to.
//
// Layout: points are columns. The data are held transposed, Xc:[D,N], and responsibilities
// component-major, R:[K,N]. Then each per-component triangular solve is a left-side trsm over
// many right-hand sides (about 3x faster in OpenBLAS than the right-side solve on rows), and
// every elementwise pass (log-sum-exp over components, √r scaling) runs contiguously over points.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "models/gmm.hpp"

namespace lz::gmm {

// The data, centred and transposed once per fit: Xc[d,n] = x_nd - c_d with c the data mean, and
// its square Xc2 (diag and spherical read it every iteration). Both are views of one [2D,N]
// buffer XX (Xc's rows, then Xc2's), so that diag's E-step and the diag and spherical M-steps
// multiply by both at once: one GEMM with 2D inner (or output) columns instead of two with D.
//
// A fit with diag covariances also packs XX in panels (pack_diag, XXp), for tensor/linalg.hpp's
// small-K products: the E-step's [K,2D] x [2D,B] and the moments' R x XX^T read the same block of
// XXp while it is in L2. OpenBLAS packed its operand on every call, about 30% of a diag iteration;
// XXp is packed once per fit, 16 N D bytes (48 MB on Fashion-MNIST's 60,000 x 50).
struct Points {
  TensorD XX;       // [2D,N]
  TensorD Xc, Xc2;  // [D,N] each, views of XX
  std::vector<double> c;
  int64_t N = 0, D = 0;
  TensorD XXp;  // pack_diag: XX in panels; empty otherwise
  bool packed() const { return XXp.numel() > 0; }
};
// X:[N,D]. With `sum` (GmmOptions::sum), X is one share of the rows and c the mean of all of them.
using Sum = std::function<void(double* data, int64_t n)>;
Points points(const TensorD& X, const Sum& sum = {});
// Adds XXp to x, which a diag fit's every E-step then reads in place of XX (run_em calls it;
// a one-off e_step, as predict's, reads XX through OpenBLAS and needs no extra copy).
void pack_diag(Points& x);

// What the log-densities need from the covariances, computed once per parameter update:
// full: chol [K,D,D] lower, Σ_k = L_k L_k^T; tied: chol [D,D]; diag: prec [K,D] = 1/σ²;
// spherical: prec [K]. half_logdet[k] = ½ log|Σ_k| = Σ_i log L_ii.
struct Factors {
  TensorD chol;
  TensorD prec;
  std::vector<double> half_logdet;
};

// Throws std::invalid_argument naming the component if a covariance is not positive definite.
// (Each covariance type's factorisation is its policy's, gmm_covariance.cpp, as is cholesky.)
Factors factorize(const GmmParams& p);

// Lower Cholesky factor of the symmetric positive-definite a:[D,D] (row-major, upper triangle
// zeroed); throws naming `what` if it is not positive definite.
TensorD cholesky(const TensorD& a, const std::string& what);

// The steps below dispatch on p.type to the covariance policies (gmm_covariance.hpp); the
// steps with the policy already chosen, which the EM loop calls, are declared there.
//
// E-step over all points. Fills R [K,N] (r_kn) and log_px [N] (log p(x_n)) when given, and
// returns Σ_n log p(x_n). With full covariances, `screen` skips the solves of components too far
// below a point's best to matter (r_kn < 2e-22 becomes 0; see gmm_screen.cpp); false computes all.
// With `moments`, it also computes what the M-step multiplies R by, block by block while each
// block of XX is still in cache: Σ_n r_kn XX[:,n] for the first moment_width(type, D) rows of XX,
// [K, W] (for diag, XX is 48 MB on Fashion-MNIST: the M-step's own pass read it back from memory).
double e_step(const Points& x, const GmmParams& p, const Factors& f, TensorD* R, TensorD* log_px,
              bool screen = true, std::vector<double>* moments = nullptr);
// Rows of XX the M-step needs: 2D for diag and spherical (Xc and Xc2), D otherwise (Xc).
int64_t moment_width(CovarianceType type, int64_t D);

// M-step: new weights, means, covariances from R [K,N]; returns N_k = Σ_n r_kn (without the
// 10 eps that keeps an empty component finite, as scikit-learn adds).
// With `sum`, x and R are one share of the points and N_k, Σ r·x and the covariance sums are
// added over every share before they are used (returns the total N_k).
// With `moments` (e_step's, from the same R), it skips its own pass over XX.
std::vector<double> m_step(const Points& x, const TensorD& R, double reg_covar, GmmParams& p, const Sum& sum = {},
                           const std::vector<double>* moments = nullptr);

// Points per block: a block's per-component copy stays in L2 cache.
int64_t block_rows(int64_t D);

}  // namespace lz::gmm
