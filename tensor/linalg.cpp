#include "tensor/linalg.hpp"

#include <algorithm>
#include <vector>
#include <xsimd/xsimd.hpp>

namespace lz::linalg {

namespace {

using batch = xsimd::batch<double>;
constexpr int64_t W = batch::size;
// Tile shapes, measured on this machine (Zen 4, AVX2 FMA; bench/linalg.cpp compares each with
// OpenBLAS): 3 rows x 3 batches of points for the solve, 3x3 entries for syrk. Each keeps 9
// accumulators and its operands within the 16 ymm registers once -O3 unrolls the fixed loops.
constexpr int kSolveRows = 3, kSolveBatches = 3;
constexpr int kSyrkRows = 3, kSyrkCols = 3;

// Forward substitution for V batches of points (V*W columns of X), R rows of L at a time so that
// each y_j loaded serves R rows: a[r] = x_{i+r} - mu - Σ_{j<i} L_{i+r,j} y_j, then the R×R triangle
// in order, y_i = a_i / L_ii. R*V accumulators are independent FMA chains (2 FMA units x 4 cycles
// of latency want at least 8). y: scratch of D*V batches.
template <int R, int V>
void solve_tile(int64_t D, const double* L, int64_t ldl, const double* inv, const double* X, int64_t ldx,
                const double* mu, batch* y, double* q) {
  batch qa[V];
  for (int v = 0; v < V; ++v) qa[v] = batch(0.0);
  int64_t i = 0;
  auto finish_row = [&](int64_t row, batch* a) {  // y_row = a / L_row,row, and its square into q
    const batch d(inv[row]);
    for (int v = 0; v < V; ++v) {
      const batch yv = a[v] * d;
      y[row * V + v] = yv;
      qa[v] = xsimd::fma(yv, yv, qa[v]);
    }
  };
  for (; i + R <= D; i += R) {
    batch a[R][V];
    for (int r = 0; r < R; ++r) {
      const batch m(mu ? mu[i + r] : 0.0);
      for (int v = 0; v < V; ++v) a[r][v] = batch::load_unaligned(X + (i + r) * ldx + v * W) - m;
    }
    const double* Li = L + i * ldl;
    for (int64_t j = 0; j < i; ++j) {
      batch yj[V];
      for (int v = 0; v < V; ++v) yj[v] = y[j * V + v];
      for (int r = 0; r < R; ++r) {
        const batch l(Li[r * ldl + j]);
        for (int v = 0; v < V; ++v) a[r][v] = xsimd::fnma(l, yj[v], a[r][v]);
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int s = 0; s < r; ++s) {
        const batch l(Li[r * ldl + i + s]);
        for (int v = 0; v < V; ++v) a[r][v] = xsimd::fnma(l, y[(i + s) * V + v], a[r][v]);
      }
      finish_row(i + r, a[r]);
    }
  }
  for (; i < D; ++i) {  // the last D mod R rows, one at a time
    batch a[V];
    const batch m(mu ? mu[i] : 0.0);
    for (int v = 0; v < V; ++v) a[v] = batch::load_unaligned(X + i * ldx + v * W) - m;
    for (int64_t j = 0; j < i; ++j) {
      const batch l(L[i * ldl + j]);
      for (int v = 0; v < V; ++v) a[v] = xsimd::fnma(l, y[j * V + v], a[v]);
    }
    finish_row(i, a);
  }
  for (int v = 0; v < V; ++v) qa[v].store_unaligned(q + v * W);
}

// One R×C tile of S += Y Y^T (rows i0.., columns j0..), entries above the diagonal left alone.
template <int R, int C>
void syrk_tile(const double* Y, int64_t ldy, int64_t P, int64_t i0, int64_t j0, double* S, int64_t lds) {
  batch acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = batch(0.0);
  int64_t p = 0;
  for (; p + W <= P; p += W) {
    batch yi[R];
    for (int r = 0; r < R; ++r) yi[r] = batch::load_unaligned(Y + (i0 + r) * ldy + p);
    for (int c = 0; c < C; ++c) {
      const batch yj = batch::load_unaligned(Y + (j0 + c) * ldy + p);
      for (int r = 0; r < R; ++r) acc[r][c] = xsimd::fma(yi[r], yj, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      if (j0 + c > i0 + r) continue;
      double s = xsimd::hadd(acc[r][c]);
      for (int64_t t = p; t < P; ++t) s += Y[(i0 + r) * ldy + t] * Y[(j0 + c) * ldy + t];
      S[(i0 + r) * lds + j0 + c] += s;
    }
}

// syrk_tile<R, C> for the edge tiles too: r <= R rows and c <= C columns.
template <int R, int C>
void syrk_tile_any(int r, int c, const double* Y, int64_t ldy, int64_t P, int64_t i0, int64_t j0, double* S,
                   int64_t lds) {
  if constexpr (R > 1)
    if (r < R) return syrk_tile_any<R - 1, C>(r, c, Y, ldy, P, i0, j0, S, lds);
  if constexpr (C > 1)
    if (c < C) return syrk_tile_any<R, C - 1>(r, c, Y, ldy, P, i0, j0, S, lds);
  syrk_tile<R, C>(Y, ldy, P, i0, j0, S, lds);
}

}  // namespace

void tri_solve_sq_norms(int64_t D, const double* L, int64_t ldl, const double* X, int64_t ldx, const double* mu,
                        int64_t P, double* q) {
  if (P <= 0) return;
  std::vector<double> inv(D);
  for (int64_t i = 0; i < D; ++i) inv[i] = 1.0 / L[i * ldl + i];
  std::vector<batch> y(kSolveBatches * D);
  int64_t p = 0;
  for (; p + kSolveBatches * W <= P; p += kSolveBatches * W)
    solve_tile<kSolveRows, kSolveBatches>(D, L, ldl, inv.data(), X + p, ldx, mu, y.data(), q + p);
  for (; p + W <= P; p += W) solve_tile<kSolveRows, 1>(D, L, ldl, inv.data(), X + p, ldx, mu, y.data(), q + p);
  if (p < P) {  // the last P mod W points, padded with zeros to one batch
    std::vector<double> pad(D * W, 0.0);
    for (int64_t d = 0; d < D; ++d) std::copy(X + d * ldx + p, X + d * ldx + P, pad.data() + d * W);
    double qt[W];
    solve_tile<kSolveRows, 1>(D, L, ldl, inv.data(), pad.data(), W, mu, y.data(), qt);
    std::copy(qt, qt + (P - p), q + p);
  }
}

void syrk_lower_acc(int64_t D, const double* Y, int64_t ldy, int64_t P, double* S, int64_t lds) {
  constexpr int64_t R = kSyrkRows, C = kSyrkCols;
  for (int64_t i0 = 0; i0 < D; i0 += R) {
    const int r = static_cast<int>(std::min(R, D - i0));
    for (int64_t j0 = 0; j0 < i0 + r; j0 += C) {
      const int c = static_cast<int>(std::min(C, D - j0));
      if (r == R && c == C)
        syrk_tile<R, C>(Y, ldy, P, i0, j0, S, lds);
      else
        syrk_tile_any<R, C>(r, c, Y, ldy, P, i0, j0, S, lds);
    }
  }
}

}  // namespace lz::linalg
