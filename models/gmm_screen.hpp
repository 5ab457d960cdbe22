// Screening the full-covariance E-step (models/gmm_screen.cpp): pairs (point, component) more
// than 50 nats below the point's best get r = 0 without a full triangular solve. Internal to
// models/.
#pragma once

#include <cstdint>
#include <vector>

#include "models/gmm_steps.hpp"

namespace lz::gmm {

// Rows of the triangular solve used for the bounds; 0 (no screening) for small D.
int64_t screen_rows(int64_t D);

// Per-thread scratch for a block of B points: bounds ub [K,B], gathered columns Z [D,B], norms q,
// each point's best-looking component, the points taken for a solve.
struct ScreenScratch {
  std::vector<double> ub, Z, q;
  std::vector<int64_t> best, idx;
  ScreenScratch(int64_t K, int64_t D, int64_t B) : ub(K * B), Z(D * B), q(B), best(B), idx(B) {}
};

// lp [K,B] = log w_k + log N(x_n; k) for the block of points r0..r0+B (bias[k] = log w_k -
// ½ D log 2π - ½ log|Σ_k|, M = centred means [K,D]), with screened-out pairs -inf.
void full_log_terms_screened(const Points& x, int64_t r0, int64_t B, int64_t K, const double* M, const Factors& f,
                             const std::vector<double>& bias, int64_t m, double* lp, ScreenScratch& s);

}  // namespace lz::gmm
