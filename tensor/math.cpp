#include "tensor/math.hpp"

#include <stdexcept>
#include <string>

namespace lz::math {

// Out of line: inlined into a caller with a constant n, GCC 12 mis-diagnoses vec::max's tail loop
// (-Waggressive-loop-optimizations).
double log_mean_exp(const double* a, int64_t n) {
  if (n <= 0) throw std::invalid_argument("log_mean_exp: need at least one value, got n = " + std::to_string(n));
  return logsumexp(n, a) - std::log(static_cast<double>(n));
}

}  // namespace lz::math
