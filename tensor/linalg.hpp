// Small dense linear-algebra kernels that BLAS has no single call for, or does slowly at the sizes
// the Gaussian mixture meets (D of 2 to a few hundred, many points): fused, vectorised over points
// with xsimd. Double precision. Points are columns: X [D,P] with row stride ldx.
// tests/tensor/test_linalg.cpp checks each against a naive loop.
#pragma once

#include <cstdint>

namespace lz::linalg {

// q[p] = ||L^{-1} (x_p - mu)||² for the P columns x_p of X, L lower triangular [D,D] (row stride
// ldl, non-zero diagonal), mu [D] or nullptr for 0: a forward substitution on 12 points at a time
// that keeps y = L^{-1}(x - mu) in L1 and only writes its squared norm.
void tri_solve_sq_norms(int64_t D, const double* L, int64_t ldl, const double* X, int64_t ldx, const double* mu,
                        int64_t P, double* q);

// S[i,j] += Σ_p Y[i,p] Y[j,p] for j <= i (the lower triangle of S += Y Y^T; row stride lds), Y [D,P]
// with row stride ldy.
void syrk_lower_acc(int64_t D, const double* Y, int64_t ldy, int64_t P, double* S, int64_t lds);

// Panels: a matrix X [J,P] whose P columns are points, stored as ceil(P/kPanel) panels, panel q
// holding columns q*kPanel.. of every row as one contiguous [J,kPanel] block, columns past P zero.
// A matrix that several products read over and over (the diag mixture's XX, every iteration) is
// packed once; OpenBLAS packs its operand again on every call, and with few rows on the other
// side (K components) the copies cost nearly as much as the products (perf, the diag mixture on
// Fashion-MNIST: 30% of the samples in OpenBLAS's copies, 43% in its kernel).
// Panel q starts at Xp + q * J * kPanel, so a run of columns starting at a multiple of kPanel is
// itself a panel matrix.
inline constexpr int64_t kPanel = 8;
inline int64_t panel_size(int64_t J, int64_t P) { return J * ((P + kPanel - 1) / kPanel) * kPanel; }
// Xp [panel_size(J, P)] from X [J,P] with row stride ldx.
void pack_panels(int64_t J, int64_t P, const double* X, int64_t ldx, double* Xp);

// C[i,p] = Σ_j A[i,j] X[j,p] for i < M, p < P: C = A X with A [M,J] (row stride lda), X in panels,
// C row stride ldc; only C's first P columns are written.
void gemm_panels(int64_t M, int64_t J, const double* A, int64_t lda, const double* Xp, int64_t P, double* C,
                 int64_t ldc);

// S[i,j] += Σ_{p<P} R[i,p] X[j,p] for i < M, j < J: S += R Xᵀ with R [M,P] (row stride ldr), X in
// panels, S row stride lds: dot products over the points, tiles of S in registers.
void gemm_nt_panels_acc(int64_t M, int64_t J, const double* R, int64_t ldr, const double* Xp, int64_t P, double* S,
                        int64_t lds);

}  // namespace lz::linalg
