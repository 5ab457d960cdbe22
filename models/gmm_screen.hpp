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
// ½ D log 2π - ½ log|Σ_k|, M = centred means [K,D]), with screened-out pairs -inf. Returns the
// number of pairs that got a full solve.
int64_t full_log_terms_screened(const Points& x, int64_t r0, int64_t B, int64_t K, const double* M, const Factors& f,
                                const std::vector<double>& bias, int64_t m, double* lp, ScreenScratch& s);

// The same rule on log-terms computed in full: lp [K,B] below its point's best by more than the
// gap becomes -inf. Returns the number of pairs kept; best [B] is scratch.
int64_t drop_below_gap(double* lp, int64_t B, int64_t K, double* best);

// Whether the next block is worth screening, judged from this one: screened, it solved at most
// 60% of its pairs in full; computed in full, at most 40% of its pairs were within the gap (the
// bound is loose, so screening solves more pairs than end up kept). Both sides of the threshold
// cost about the same near it; far from it, screening saves up to 3/4 of the solves (well
// separated components) or would cost up to 1/3 more (components that all overlap).
inline bool screen_next(bool screened, int64_t pairs, int64_t K, int64_t B) {
  return screened ? 10 * pairs <= 6 * K * B : 10 * pairs <= 4 * K * B;
}

}  // namespace lz::gmm
