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

}  // namespace lz::linalg
