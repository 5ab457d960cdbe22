// The numerically stable formulas of latentzoo, each written once: the autodiff ops, the
// mixture's E-step and the evaluators call these instead of spelling them out again.
//
// The elementwise ones are generic (scalar T or xsimd::batch<T>), so they go straight into the
// vec:: maps and keep the SIMD body SIMD: `vec::map(n, x, y, [](auto v) { return math::softplus(v); })`.
// The log-sum-exp kernels shift by the slice maximum; an all -inf slice gives -inf, a +inf entry
// +inf, and no inf - inf is ever formed.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "tensor/vec.hpp"

namespace lz::math {

inline constexpr double kLog2Pi = 1.8378770664093454835606594728112353;  // log 2π

// softplus(x) = log(1 + e^x) = max(x,0) + log1p(e^{-|x|}): no overflow for large x, no loss of
// e^x for very negative x.
template <typename B>
B softplus(B x) {
  using std::abs, std::exp, std::log1p, std::max;
  using xsimd::abs, xsimd::exp, xsimd::log1p, xsimd::max;
  return max(x, B(0)) + log1p(exp(-abs(x)));
}

// log σ(x) = -softplus(-x).
template <typename B>
B log_sigmoid(B x) {
  return -softplus(-x);
}

// σ(x) = 1/(1+e^{-x}); e^{-x} overflows to inf for x < -710, giving exactly 0, never NaN.
template <typename B>
B sigmoid(B x) {
  using std::exp;
  using xsimd::exp;
  return B(1) / (B(1) + exp(-x));
}

// Binary cross-entropy of logit x against target t: -[t log σ(x) + (1-t) log(1-σ(x))]
// = softplus(x) - x t, in the form that keeps the digits of both terms.
template <typename B>
B bce_with_logits(B x, B t) {
  using std::abs, std::exp, std::log1p, std::max;
  using xsimd::abs, xsimd::exp, xsimd::log1p, xsimd::max;
  return max(x, B(0)) - x * t + log1p(exp(-abs(x)));
}

// log N(x; μ, σ²) of one coordinate, from d = x − μ and logvar = log σ²:
// −½ (log 2π + log σ² + d² / σ²). The Gaussian likelihood op, the diagonal Gaussians and the PCA
// baseline's density all call this one.
template <typename B>
B gaussian_log_density(B d, B logvar) {
  using std::exp;
  using xsimd::exp;
  return B(-0.5) * (B(kLog2Pi) + logvar + d * d * exp(-logvar));
}

// The shift that makes Σ exp(x - shift) safe: the maximum when finite, else 0.
template <typename T>
T finite_or_zero(T m) {
  return std::isfinite(m) ? m : T(0);
}

// log Σ_i exp(x[i]) over a contiguous row of n >= 1 values.
template <typename T>
T logsumexp(int64_t n, const T* x) {
  const T m = finite_or_zero(vec::max(n, x));
  const T s = vec::map_sum(n, x, [m](auto v) {
    using std::exp;
    using xsimd::exp;
    return exp(v - decltype(v)(m));
  });
  return m + std::log(s);
}

// log (1/n) Σ_i exp(a_i) on plain numbers (the autodiff op of the same name is for Vars): the
// importance-sampled estimates of models/evaluate. n must be at least 1.
double log_mean_exp(const double* a, int64_t n);  // tensor/math.cpp

// Down the columns of a row-major [n, cols] block (each column a row of stride `cols`), SIMD
// across columns: out[k] = log Σ_j exp(x[j*cols + k]). `sums` [cols] receives Σ_j exp(x - m_k);
// with `exps` [n, cols] (may be x itself) the shifted exponentials are kept too, so that a
// caller normalising them (responsibilities, softmax) does not compute them twice.
template <typename T>
void logsumexp_cols(int64_t n, int64_t cols, const T* x, T* out, T* sums, T* exps = nullptr) {
  std::copy(x, x + cols, out);  // out holds the running maximum first; NaN propagates
  for (int64_t j = 1; j < n; ++j)
    vec::zip(cols, x + j * cols, out, out, [](auto v, auto m) { return vec::select((v > m) | (v != v), v, m); });
  for (int64_t k = 0; k < cols; ++k) out[k] = finite_or_zero(out[k]);
  auto shifted_exp = [](auto v, auto m) {
    using std::exp;
    using xsimd::exp;
    return exp(v - m);
  };
  if (exps) {
    for (int64_t j = 0; j < n; ++j) vec::zip(cols, x + j * cols, out, exps + j * cols, shifted_exp);
    std::copy(exps, exps + cols, sums);
    for (int64_t j = 1; j < n; ++j) vec::add_into(cols, exps + j * cols, sums);
  } else {
    vec::fill(cols, sums, T(0));
    for (int64_t j = 0; j < n; ++j)
      vec::zip3(cols, sums, x + j * cols, out, sums, [&](auto s, auto v, auto m) { return s + shifted_exp(v, m); });
  }
  for (int64_t k = 0; k < cols; ++k) out[k] += std::log(sums[k]);
}

// log Σ exp over values arriving one at a time (more than fit in memory at once), rescaling the
// running sum whenever a new maximum arrives.
struct StreamingLogSumExp {
  double m = -std::numeric_limits<double>::infinity(), s = 0;
  void add(double v) {
    if (v <= m) {
      s += std::exp(v - m);
    } else {
      s = s * std::exp(m - v) + 1.0;
      m = v;
    }
  }
  double value() const { return m + std::log(s); }
};

// Inverse of the standard normal CDF (Acklam's rational approximation, relative error
// below 1.2e-9 on (0, 1): plenty for a grid of prior quantiles). p outside (0, 1) gives ±inf or NaN.
inline double normal_quantile(double p) {
  const double a[] = {-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716, 2.506628277459239};
  const double b[] = {-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572};
  const double c[] = {-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783};
  const double d[] = {0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416};
  auto tail = [&](double q) {
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  };
  if (!(p > 0 && p < 1)) return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
  if (p < 0.02425) return tail(std::sqrt(-2 * std::log(p)));
  if (p > 1 - 0.02425) return -tail(std::sqrt(-2 * std::log(1 - p)));
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace lz::math
