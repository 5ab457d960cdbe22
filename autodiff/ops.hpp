// Every differentiable op of latentzoo. Each is defined, forward beside its VJP, in one
// family file under autodiff/ops/; explicit instantiations for float and double sit there too.
// Shape comments follow the convention `a:[M,K] b:[K,N] -> [M,N]`; binary elementwise ops
// broadcast with NumPy's rules and their gradients are summed back by GradSink::add.
#pragma once

#include <type_traits>
#include <vector>

#include "autodiff/var.hpp"

namespace lz {

// ---- ops/elementwise.cpp -----------------------------------------------------------------
template <typename T> Var<T> add(const Var<T>& a, const Var<T>& b);  // broadcast
template <typename T> Var<T> sub(const Var<T>& a, const Var<T>& b);  // broadcast
template <typename T> Var<T> mul(const Var<T>& a, const Var<T>& b);  // broadcast
template <typename T> Var<T> div(const Var<T>& a, const Var<T>& b);  // broadcast
template <typename T> Var<T> add(const Var<T>& a, T s);
template <typename T> Var<T> mul(const Var<T>& a, T s);
template <typename T> Var<T> sub(T s, const Var<T>& a);   // s - a (op "scalar_sub")
template <typename T> Var<T> neg(const Var<T>& a);
template <typename T> Var<T> pow(const Var<T>& a, T exponent);
template <typename T> Var<T> exp(const Var<T>& a);
template <typename T> Var<T> log(const Var<T>& a);
template <typename T> Var<T> sqrt(const Var<T>& a);
template <typename T> Var<T> abs(const Var<T>& a);   // d|x|/dx = sign(x), 0 at 0
template <typename T> Var<T> square(const Var<T>& a);

// ---- ops/activation.cpp ------------------------------------------------------------------
template <typename T> Var<T> tanh(const Var<T>& a);
template <typename T> Var<T> sigmoid(const Var<T>& a);
template <typename T> Var<T> relu(const Var<T>& a);
template <typename T> Var<T> leaky_relu(const Var<T>& a, T slope = T(0.01));
template <typename T> Var<T> softplus(const Var<T>& a);     // log(1+e^x), exact for |x| large
template <typename T> Var<T> log_sigmoid(const Var<T>& a);  // -softplus(-x)
template <typename T> Var<T> clamp(const Var<T>& a, T lo, T hi);  // gradient 0 outside [lo,hi]
// mask:[...] (nonzero = take a) a,b broadcast to the mask's shape -> mask's shape
template <typename T> Var<T> where(const Tensor<T>& mask, const Var<T>& a, const Var<T>& b);

// ---- ops/reduce.cpp ----------------------------------------------------------------------
template <typename T> Var<T> sum(const Var<T>& a);                                       // -> []
template <typename T> Var<T> sum(const Var<T>& a, int64_t axis, bool keepdim = false);
template <typename T> Var<T> mean(const Var<T>& a);                                      // -> []
template <typename T> Var<T> mean(const Var<T>& a, int64_t axis, bool keepdim = false);
// Gradient flows to the (first) maximum of each slice.
template <typename T> Var<T> max(const Var<T>& a, int64_t axis, bool keepdim = false);
// log Σ exp(a) along axis; finite for entries of ±1e4, -inf entries contribute 0 (all -inf -> -inf).
template <typename T> Var<T> logsumexp(const Var<T>& a, int64_t axis, bool keepdim = false);
// log (1/n) Σ exp(a) along axis (the IWAE bound).
template <typename T> Var<T> log_mean_exp(const Var<T>& a, int64_t axis, bool keepdim = false);
template <typename T> Var<T> log_softmax(const Var<T>& a, int64_t axis);
template <typename T> Var<T> softmax(const Var<T>& a, int64_t axis);

// ---- ops/linalg.cpp ----------------------------------------------------------------------
// a:[M,K] b:[K,N] -> [M,N];  a:[B,M,K] b:[B,K,N] -> [B,M,N] (a 2-D side is shared by the batch)
template <typename T> Var<T> matmul(const Var<T>& a, const Var<T>& b);
// x:[N,in] w:[out,in] b:[out] -> [N,out]: x w^T + b in one node (the Linear layer; no transpose copy)
template <typename T> Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b);
// relu(linear(x, w, b)) in one node and one buffer: the same numbers as the two ops (MLP's hidden
// layers; a [N,out] activation fewer to write and keep per layer)
template <typename T> Var<T> linear_relu(const Var<T>& x, const Var<T>& w, const Var<T>& b);
// swaps the last two dimensions
template <typename T> Var<T> transpose(const Var<T>& a);
// L:[K,D,D] (only the lower triangle is read) Y:[K,N,D] -> Z:[K,N,D] with Z_k = Y_k L_k^{-T},
// i.e. each row z = L^{-1} y, by cblas_?trsm. VJP: gY = G L^{-1}, gL = -tril(gY^T Z).
template <typename T> Var<T> tri_solve_rows(const Var<T>& L, const Var<T>& Y);

// ---- ops/shape.cpp -----------------------------------------------------------------------
template <typename T> Var<T> reshape(const Var<T>& a, Shape s);  // a view; one -1 allowed
// a[..., start:start+len, ...] along axis
template <typename T> Var<T> narrow(const Var<T>& a, int64_t axis, int64_t start, int64_t len);
template <typename T> Var<T> concat(const std::vector<Var<T>>& parts, int64_t axis);
template <typename T> std::vector<Var<T>> split(const Var<T>& a, const std::vector<int64_t>& sizes, int64_t axis);
template <typename T> std::vector<Var<T>> chunk(const Var<T>& a, int64_t n, int64_t axis);
// a:[N,...] rows:[R] -> [R,...] (rows may repeat; their gradients add)
template <typename T> Var<T> index_select(const Var<T>& a, const std::vector<int64_t>& rows);
// PyTorch's gather: out[i][j] = a[i][index[i][j]] for axis 1 (any axis, any rank);
// index has the output's shape `index_shape`, the same rank as a.
template <typename T>
Var<T> gather(const Var<T>& a, int64_t axis, const std::vector<int64_t>& index, const Shape& index_shape);
// a:[...] -> broadcast to shape s (gradient summed back)
template <typename T> Var<T> expand(const Var<T>& a, const Shape& s);

// ---- ops/loss.cpp ------------------------------------------------------------------------
// Elementwise, stable: max(x,0) - x*t + log(1+e^{-|x|}); logits x and targets t broadcast.
// The gradient flows to x (and to t, for completeness).
template <typename T> Var<T> bce_with_logits(const Var<T>& logits, const Var<T>& targets);
// Elementwise log N(x; mean, exp(logvar)) = -½(log 2π + logvar + (x-mean)²/exp(logvar)); broadcast.
template <typename T> Var<T> gaussian_log_density(const Var<T>& x, const Var<T>& mean, const Var<T>& logvar);
// Elementwise KL(N(mean, exp(logvar)) || N(0,1)) = ½(exp(logvar) + mean² - 1 - logvar).
template <typename T> Var<T> kl_std_normal(const Var<T>& mean, const Var<T>& logvar);
// Elementwise KL(N(mq, exp(lvq)) || N(mp, exp(lvp))) = ½(lvp − lvq + (exp(lvq) + (mq − mp)²)/exp(lvp) − 1),
// all four of one shape (a CVAE's posterior against its conditional prior, row by row).
template <typename T>
Var<T> kl_diag_gaussians(const Var<T>& mean_q, const Var<T>& logvar_q, const Var<T>& mean_p, const Var<T>& logvar_p);
// mean((a-b)²) -> []
template <typename T> Var<T> mse(const Var<T>& a, const Var<T>& b);
// logp:[N,C] log-probabilities, labels:[N] -> [] mean negative log-likelihood
template <typename T> Var<T> nll(const Var<T>& logp, const std::vector<int64_t>& labels);

// ---- ops/likelihood.cpp ------------------------------------------------------------------
// log Bernoulli(x | σ(logits)) summed over the last axis = −Σ_j BCE(l_j, x_j), as one node.
// logits:[..., D], x:[..., D] broadcasting against it (x:[N, D] with logits:[k, N, D]) -> logits'
// shape minus D. x may be any value in [0, 1] (the continuous-Bernoulli normaliser is not included).
template <typename T> Var<T> bernoulli_log_prob(const Var<T>& logits, const Var<T>& x);

// ---- flow ops: an invertible map's output and its log|det Jacobian| per row ------------------
// Two nodes of one fused pass (ops/spline.cpp, ops/coupling.cpp), sharing its cache.
template <typename T>
struct WithLogDet {
  Var<T> out, log_abs_det;
};

// ---- ops/spline.cpp ----------------------------------------------------------------------
// The monotonic rational-quadratic spline (Durkan et al. 2019), elementwise, K bins on [−B, B],
// identity tails (nflows' unconstrained_rational_quadratic_spline, tails "linear"): bin widths and
// heights are min_bin + (1 − K·min_bin)·softmax(raw), interior knot derivatives
// min_derivative + softplus(raw), the two boundary ones 1. x:[...] widths, heights:[..., K]
// derivatives:[..., K−1] -> out:[...] and log|d out/d x|:[...] (0 in the tails), two nodes of one
// pass; gradients to x and to all three raw inputs. The inverse solves the quadratic in its stable
// form. Finite values and gradients for every finite input: tails, knots, x = ±B.
struct RqSplineOptions {
  double tail_bound = 3;
  double min_bin_width = 1e-3, min_bin_height = 1e-3, min_derivative = 1e-3;
};
template <typename T>
WithLogDet<T> rq_spline(const Var<T>& x, const Var<T>& widths, const Var<T>& heights, const Var<T>& derivatives,
                        const RqSplineOptions& o = {});
template <typename T>
WithLogDet<T> rq_spline_inverse(const Var<T>& y, const Var<T>& widths, const Var<T>& heights,
                                const Var<T>& derivatives, const RqSplineOptions& o = {});

// ---- ops/coupling.cpp --------------------------------------------------------------------
// RealNVP's affine coupling after its network, one fused pass (Dinh et al. 2017, with the
// log-scale bounded by a learned scale times tanh). x:[N,D], raw:[N,2D] the network's output
// (log-scale half, then shift half), scale:[D], keep:[D] a constant (1 on the transformed half,
// 0 on the passed one):  s = keep ⊙ scale ⊙ tanh(raw[:, :D]),  t = keep ⊙ raw[:, D:]
//   forward  out = x ⊙ exp(s) + t,      log|det| = Σ_j s_j
//   inverse  out = (x − t) ⊙ exp(−s),   log|det| = −Σ_j s_j
// Gradients to x, raw and scale; the composed form (chunk, tanh, mul, exp, add, sum) records ten
// nodes per coupling where this records two.
template <typename T>
WithLogDet<T> affine_coupling(const Var<T>& x, const Var<T>& raw, const Var<T>& scale, const Tensor<T>& keep);
template <typename T>
WithLogDet<T> affine_coupling_inverse(const Var<T>& y, const Var<T>& raw, const Var<T>& scale,
                                      const Tensor<T>& keep);

// ---- operators ---------------------------------------------------------------------------
template <typename T> Var<T> operator+(const Var<T>& a, const Var<T>& b) { return add(a, b); }
template <typename T> Var<T> operator-(const Var<T>& a, const Var<T>& b) { return sub(a, b); }
template <typename T> Var<T> operator*(const Var<T>& a, const Var<T>& b) { return mul(a, b); }
template <typename T> Var<T> operator/(const Var<T>& a, const Var<T>& b) { return div(a, b); }
template <typename T> Var<T> operator-(const Var<T>& a) { return neg(a); }
template <typename T> Var<T> operator+(const Var<T>& a, std::type_identity_t<T> s) { return add(a, s); }
template <typename T> Var<T> operator+(std::type_identity_t<T> s, const Var<T>& a) { return add(a, s); }
template <typename T> Var<T> operator-(const Var<T>& a, std::type_identity_t<T> s) { return add(a, -s); }
template <typename T> Var<T> operator-(std::type_identity_t<T> s, const Var<T>& a) { return sub(s, a); }
template <typename T> Var<T> operator*(const Var<T>& a, std::type_identity_t<T> s) { return mul(a, s); }
template <typename T> Var<T> operator*(std::type_identity_t<T> s, const Var<T>& a) { return mul(a, s); }
template <typename T> Var<T> operator/(const Var<T>& a, std::type_identity_t<T> s) { return mul(a, T(1) / s); }

}  // namespace lz
