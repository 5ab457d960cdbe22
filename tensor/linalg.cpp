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

// Tile shapes of the panel products: 6 rows of A by one panel (2 batches on AVX2), 12
// accumulators, and 4 rows of R by 3 rows of X for the transposed product, 12.
constexpr int64_t kPanelBatches = kPanel / W;
static_assert(kPanel % W == 0, "a panel is whole batches");
constexpr int kGemmRows = 6;
constexpr int64_t kMomentRows = 4, kMomentCols = 3;
constexpr int64_t kMomentPanels = 32;  // points per pass of the moment tiles: 256, their X in L2

// C's rows i0..i0+R of one panel: each x_j loaded once serves R rows, each A[i,j] broadcast
// serves the panel's batches. cols < kPanel: the last panel, only its first cols columns written.
template <int R>
void gemm_panel_tile(int64_t J, const double* A, int64_t lda, const double* panel, double* C, int64_t ldc, int64_t cols) {
  constexpr int64_t V = kPanelBatches;
  batch acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int64_t v = 0; v < V; ++v) acc[r][v] = batch(0.0);
  for (int64_t j = 0; j < J; ++j) {
    batch x[V];
    for (int64_t v = 0; v < V; ++v) x[v] = batch::load_unaligned(panel + j * kPanel + v * W);
    for (int r = 0; r < R; ++r) {
      const batch a(A[r * lda + j]);
      for (int64_t v = 0; v < V; ++v) acc[r][v] = xsimd::fma(a, x[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r) {
    if (cols == kPanel) {
      for (int64_t v = 0; v < V; ++v) acc[r][v].store_unaligned(C + r * ldc + v * W);
    } else {
      alignas(64) double tmp[kPanel];
      for (int64_t v = 0; v < V; ++v) acc[r][v].store_unaligned(tmp + v * W);
      std::copy(tmp, tmp + cols, C + r * ldc);
    }
  }
}

template <int R>
void gemm_panel_tile_any(int r, int64_t J, const double* A, int64_t lda, const double* panel, double* C, int64_t ldc,
                         int64_t cols) {
  if constexpr (R > 1)
    if (r < R) return gemm_panel_tile_any<R - 1>(r, J, A, lda, panel, C, ldc, cols);
  gemm_panel_tile<R>(J, A, lda, panel, C, ldc, cols);
}

// S[i0+r, j0+c] += Σ over `panels` whole panels of R[i0+r,p] X[j0+c,p]: R*C accumulators of one
// batch each, summed across their lanes at the end.
template <int R, int C>
void moment_tile(const double* Rm, int64_t ldr, const double* Xp, int64_t J, int64_t panels, int64_t i0, int64_t j0,
                 double* S, int64_t lds) {
  batch acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = batch(0.0);
  for (int64_t q = 0; q < panels; ++q) {
    const double* panel = Xp + q * J * kPanel + j0 * kPanel;
    const double* rq = Rm + i0 * ldr + q * kPanel;
    for (int64_t v = 0; v < kPanelBatches; ++v) {
      batch x[C];
      for (int c = 0; c < C; ++c) x[c] = batch::load_unaligned(panel + c * kPanel + v * W);
      for (int r = 0; r < R; ++r) {
        const batch rr = batch::load_unaligned(rq + r * ldr + v * W);
        for (int c = 0; c < C; ++c) acc[r][c] = xsimd::fma(rr, x[c], acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) S[(i0 + r) * lds + j0 + c] += xsimd::hadd(acc[r][c]);
}

template <int R, int C>
void moment_tile_any(int r, int c, const double* Rm, int64_t ldr, const double* Xp, int64_t J, int64_t panels,
                     int64_t i0, int64_t j0, double* S, int64_t lds) {
  if constexpr (R > 1)
    if (r < R) return moment_tile_any<R - 1, C>(r, c, Rm, ldr, Xp, J, panels, i0, j0, S, lds);
  if constexpr (C > 1)
    if (c < C) return moment_tile_any<R, C - 1>(r, c, Rm, ldr, Xp, J, panels, i0, j0, S, lds);
  moment_tile<R, C>(Rm, ldr, Xp, J, panels, i0, j0, S, lds);
}

}  // namespace

void pack_panels(int64_t J, int64_t P, const double* X, int64_t ldx, double* Xp) {
  for (int64_t p0 = 0; p0 < P; p0 += kPanel) {
    const int64_t cols = std::min(kPanel, P - p0);
    for (int64_t j = 0; j < J; ++j) {
      double* out = Xp + (p0 / kPanel) * J * kPanel + j * kPanel;
      std::copy(X + j * ldx + p0, X + j * ldx + p0 + cols, out);
      std::fill(out + cols, out + kPanel, 0.0);
    }
  }
}

void gemm_panels(int64_t M, int64_t J, const double* A, int64_t lda, const double* Xp, int64_t P, double* C,
                 int64_t ldc) {
  for (int64_t p0 = 0; p0 < P; p0 += kPanel) {
    const double* panel = Xp + (p0 / kPanel) * J * kPanel;
    const int64_t cols = std::min(kPanel, P - p0);
    for (int64_t i0 = 0; i0 < M; i0 += kGemmRows) {
      const int r = static_cast<int>(std::min<int64_t>(kGemmRows, M - i0));
      if (r == kGemmRows)
        gemm_panel_tile<kGemmRows>(J, A + i0 * lda, lda, panel, C + i0 * ldc + p0, ldc, cols);
      else
        gemm_panel_tile_any<kGemmRows>(r, J, A + i0 * lda, lda, panel, C + i0 * ldc + p0, ldc, cols);
    }
  }
}

void gemm_nt_panels_acc(int64_t M, int64_t J, const double* R, int64_t ldr, const double* Xp, int64_t P, double* S,
                        int64_t lds) {
  constexpr int64_t RR = kMomentRows, CC = kMomentCols;
  const int64_t whole = P / kPanel;  // whole panels by tiles; the last P mod kPanel columns below
  for (int64_t q0 = 0; q0 < whole; q0 += kMomentPanels) {
    const int64_t panels = std::min(kMomentPanels, whole - q0);
    const double* Xq = Xp + q0 * J * kPanel;
    const double* Rq = R + q0 * kPanel;
    for (int64_t i0 = 0; i0 < M; i0 += RR) {
      const int r = static_cast<int>(std::min(RR, M - i0));
      for (int64_t j0 = 0; j0 < J; j0 += CC) {
        const int c = static_cast<int>(std::min(CC, J - j0));
        if (r == RR && c == CC)
          moment_tile<RR, CC>(Rq, ldr, Xq, J, panels, i0, j0, S, lds);
        else
          moment_tile_any<RR, CC>(r, c, Rq, ldr, Xq, J, panels, i0, j0, S, lds);
      }
    }
  }
  if (whole * kPanel < P) {
    const double* panel = Xp + whole * J * kPanel;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < J; ++j) {
        double s = 0;
        for (int64_t p = whole * kPanel; p < P; ++p) s += R[i * ldr + p] * panel[j * kPanel + p - whole * kPanel];
        S[i * lds + j] += s;
      }
  }
}

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
