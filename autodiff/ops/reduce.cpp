// Reductions. A reduced gradient is broadcast back over the reduced axis.
#include <cmath>
#include <limits>

#include "autodiff/ops.hpp"

namespace lz {

namespace {
// g has the reduced shape (with or without the kept axis); view it with the axis kept as 1,
// so it broadcasts against the input's shape.
template <typename T>
Tensor<T> unsqueeze_reduced(const Tensor<T>& g, const Shape& in, int64_t axis) {
  Shape kept = in;
  kept[normalize_axis(axis, static_cast<int64_t>(in.size()), "reduce")] = 1;
  return g.reshape(kept);
}
}  // namespace

// a:[...] -> []
template <typename T>
Var<T> sum(const Var<T>& a) {
  const Shape in = a.shape();
  return Var<T>::record(Tensor<T>::scalar(lz::sum_all(a.value())), {a}, "sum",
                        [in](const Tensor<T>& g, GradSink<T>& s) { s.add(0, Tensor<T>::full(in, g[0])); });
}

// a:[..., n, ...] -> [..., (1), ...]
template <typename T>
Var<T> sum(const Var<T>& a, int64_t axis, bool keepdim) {
  const Shape in = a.shape();
  return Var<T>::record(lz::sum(a.value(), axis, keepdim), {a}, "sum_axis",
                        [in, axis](const Tensor<T>& g, GradSink<T>& s) {
                          s.add(0, lz::add(Tensor<T>(in), unsqueeze_reduced(g, in, axis)));
                        });
}

template <typename T>
Var<T> mean(const Var<T>& a) {
  const Shape in = a.shape();
  const T inv = T(1) / static_cast<T>(a.numel());
  return Var<T>::record(Tensor<T>::scalar(lz::sum_all(a.value()) * inv), {a}, "mean",
                        [in, inv](const Tensor<T>& g, GradSink<T>& s) { s.add(0, Tensor<T>::full(in, g[0] * inv)); });
}

template <typename T>
Var<T> mean(const Var<T>& a, int64_t axis, bool keepdim) {
  return mul(sum(a, axis, keepdim), T(1) / static_cast<T>(a.size(axis)));
}

#define LZ_INSTANTIATE(T)                                  \
  template Var<T> sum(const Var<T>&);                      \
  template Var<T> sum(const Var<T>&, int64_t, bool);       \
  template Var<T> mean(const Var<T>&);                     \
  template Var<T> mean(const Var<T>&, int64_t, bool);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
