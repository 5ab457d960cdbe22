#include "nn/init.hpp"

#include <cmath>
#include <stdexcept>

namespace lz::init {

namespace {
template <typename T>
Tensor<T>& target(Var<T>& p, const char* who) {
  if (!p.defined()) throw std::invalid_argument(std::string("init::") + who + ": undefined parameter");
  return p.value_mut();
}
}  // namespace

Fans fans(const Shape& s) {
  if (s.empty()) throw std::invalid_argument("init: fan in/out of a scalar is undefined");
  if (s.size() == 1) return {s[0], s[0]};
  int64_t rf = 1;
  for (size_t i = 2; i < s.size(); ++i) rf *= s[i];
  return {s[1] * rf, s[0] * rf};
}

template <typename T>
void zeros(Var<T> p) {
  constant(p, T(0));
}

template <typename T>
void constant(Var<T> p, T value) {
  Tensor<T>& t = target(p, "constant");
  std::fill(t.data(), t.data() + t.numel(), value);
}

template <typename T>
void uniform(Var<T> p, T lo, T hi, Rng& rng) {
  Tensor<T>& t = target(p, "uniform");
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(rng.uniform(lo, hi));
}

template <typename T>
void normal(Var<T> p, T mean, T stddev, Rng& rng) {
  Tensor<T>& t = target(p, "normal");
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(mean + stddev * rng.normal());
}

template <typename T>
void xavier_uniform(Var<T> p, Rng& rng, double gain) {
  const Fans f = fans(p.shape());
  const T b = static_cast<T>(gain * std::sqrt(6.0 / static_cast<double>(f.in + f.out)));
  uniform(p, -b, b, rng);
}

template <typename T>
void kaiming_uniform(Var<T> p, Rng& rng, double a) {
  const Fans f = fans(p.shape());
  const T b = static_cast<T>(std::sqrt(6.0 / ((1 + a * a) * static_cast<double>(f.in))));
  uniform(p, -b, b, rng);
}

#define LZ_INSTANTIATE(T)                                    \
  template void zeros(Var<T>);                               \
  template void constant(Var<T>, T);                         \
  template void uniform(Var<T>, T, T, Rng&);                 \
  template void normal(Var<T>, T, T, Rng&);                  \
  template void xavier_uniform(Var<T>, Rng&, double);        \
  template void kaiming_uniform(Var<T>, Rng&, double);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz::init
