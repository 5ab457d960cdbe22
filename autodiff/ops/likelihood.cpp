// Log-likelihoods fused into one node where the composed ops would cost the hot path: a model
// (models/distributions) calls these and records no node of its own.
#include <algorithm>
#include <cmath>
#include <vector>

#include "autodiff/ops.hpp"
#include "tensor/math.hpp"
#include "tensor/parallel.hpp"

namespace lz {

// logits:[..., D] x:[..., D] (a trailing sub-shape of logits, repeated) -> logits' shape minus D:
//   Σ_j x_j l_j − softplus(l_j) = −Σ_j BCE(l_j, x_j);   dl_j = g (x_j − σ(l_j)).
// One fused node instead of bce_with_logits + sum: for k·B·D logits this skips three [k, B, D]
// temporaries (the elementwise loss, the broadcast gradient of the sum, the product with it), which
// dominate an IWAE step's memory traffic. When x needs a gradient too (it never does for data), or
// broadcasts some other way, the composed ops are used.
template <typename T>
Var<T> bernoulli_log_prob(const Var<T>& logits, const Var<T>& x) {
  LZ_PROFILE_OP;
  const Tensor<T> lv = logits.value(), xv = x.value();
  const Shape& ls = lv.shape();
  const bool repeats = xv.dim() <= lv.dim() && xv.numel() > 0 && lv.numel() % xv.numel() == 0 &&
                       std::equal(xv.shape().begin(), xv.shape().end(), ls.end() - xv.dim());
  if (x.requires_grad() || !repeats || ls.empty()) return -sum(bce_with_logits(logits, x), -1);
  const int64_t D = ls.back(), rows = lv.numel() / D, xrows = xv.numel() / D;
  Tensor<T> out = Tensor<T>::empty(Shape(ls.begin(), ls.end() - 1));
  auto nll = [](auto l, auto t) { return math::bce_with_logits(l, t); };  // −log Bernoulli(t | σ(l))
  // Rows are independent: split them over the engine's threads as a pointwise kernel would be.
  const int64_t min_rows = std::max<int64_t>(1, vec::kSplitMin / D);
  parallel::for_ranges(rows, 1, min_rows, [&](int64_t r0, int64_t r1) {
    std::vector<T> tmp(static_cast<size_t>(D));
    for (int64_t r = r0; r < r1; ++r) {
      vec::serial::zip(D, lv.data() + r * D, xv.data() + (r % xrows) * D, tmp.data(), nll);
      out[r] = -vec::sum(D, tmp.data());
    }
  });
  return Var<T>::record(std::move(out), {logits}, "bernoulli_log_prob",
                        [lv, xv, D, rows, xrows, min_rows](const Tensor<T>& g, GradSink<T>& s) {
                          Tensor<T> gl = Tensor<T>::empty(lv.shape());
                          parallel::for_ranges(rows, 1, min_rows, [&](int64_t r0, int64_t r1) {
                            for (int64_t r = r0; r < r1; ++r) {
                              const T gr = g[r];
                              vec::serial::zip(D, lv.data() + r * D, xv.data() + (r % xrows) * D,
                                               gl.data() + r * D, [gr](auto l, auto t) {
                                                 using B = decltype(l);
                                                 using std::exp;
                                                 using xsimd::exp;
                                                 return B(gr) * (t - B(1) / (B(1) + exp(-l)));
                                               });
                            }
                          });
                          s.add(0, std::move(gl));
                        });
}

#define LZ_INSTANTIATE(T) template Var<T> bernoulli_log_prob(const Var<T>&, const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)
#undef LZ_INSTANTIATE

}  // namespace lz
