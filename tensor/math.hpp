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
    for (int64_t j = 1; j < n; ++j) vec::acc(cols, exps + j * cols, sums);
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

}  // namespace lz::math
