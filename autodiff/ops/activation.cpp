// Activations: elementwise, all shapes a:[...] -> [...].
// Each VJP keeps the one tensor its derivative needs: the output where the derivative is a
// function of it (tanh, sigmoid, relu), the input otherwise.
#include <cmath>

#include "autodiff/ops.hpp"
#include "tensor/math.hpp"

namespace lz {

namespace {
// The same generic lambdas serve xsimd batches and scalars (see tensor/vec.hpp).
template <typename B>
B zero_like(B) {
  return B(0);
}

// The formulas live in tensor/math.hpp; these wrap them for lz::map and lz::zip.
struct Softplus {
  template <typename B>
  B operator()(B x) const {
    return math::softplus(x);
  }
};
struct Sigmoid {
  template <typename B>
  B operator()(B x) const {
    return math::sigmoid(x);
  }
};
}  // namespace

template <typename T>
Var<T> tanh(const Var<T>& a) {
  LZ_PROFILE_OP;
  Tensor<T> out = lz::map(a.value(), [](auto x) {
    using std::tanh;
    using xsimd::tanh;
    return tanh(x);
  });
  // d tanh = 1 - tanh²
  return Var<T>::record(out, {a}, "tanh", [out](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, out, [](auto gi, auto y) { return gi - gi * y * y; }, "tanh"));
  });
}

template <typename T>
Var<T> sigmoid(const Var<T>& a) {
  LZ_PROFILE_OP;
  Tensor<T> out = lz::map(a.value(), Sigmoid{});
  // d σ = σ (1 - σ)
  return Var<T>::record(out, {a}, "sigmoid", [out](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, out, [](auto gi, auto y) { return gi * y * (decltype(y)(1) - y); }, "sigmoid"));
  });
}

template <typename T>
Var<T> relu(const Var<T>& a) {
  LZ_PROFILE_OP;
  Tensor<T> out = lz::map(a.value(), [](auto x) {
    using std::max;
    using xsimd::max;
    return max(x, zero_like(x));
  });
  // The output is positive exactly where the input is, so it serves as the mask.
  return Var<T>::record(out, {a}, "relu", [out](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, out, [](auto gi, auto y) { return vec::select(y > zero_like(y), gi, zero_like(y)); },
                     "relu"));
  });
}

template <typename T>
Var<T> leaky_relu(const Var<T>& a, T slope) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value();
  Tensor<T> out = lz::map(av, [slope](auto x) { return vec::select(x > zero_like(x), x, x * decltype(x)(slope)); });
  return Var<T>::record(out, {a}, "leaky_relu", [av, slope](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, av, [slope](auto gi, auto x) {
            return vec::select(x > zero_like(x), gi, gi * decltype(x)(slope));
          }, "leaky_relu"));
  });
}

// d softplus = sigmoid(x)
template <typename T>
Var<T> softplus(const Var<T>& a) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value();
  return Var<T>::record(lz::map(av, Softplus{}), {a}, "softplus", [av](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, av, [](auto gi, auto x) { return gi * Sigmoid{}(x); }, "softplus"));
  });
}

// log σ(x) = -softplus(-x) = min(x,0) - log1p(e^{-|x|});  d/dx = σ(-x)
template <typename T>
Var<T> log_sigmoid(const Var<T>& a) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value();
  return Var<T>::record(lz::map(av, [](auto x) { return math::log_sigmoid(x); }), {a}, "log_sigmoid",
                        [av](const Tensor<T>& g, GradSink<T>& s) {
                          s.add(0, lz::zip(g, av, [](auto gi, auto x) { return gi * Sigmoid{}(-x); }, "log_sigmoid"));
                        });
}

// Gradient 1 inside [lo, hi] (bounds included, as PyTorch), 0 outside.
template <typename T>
Var<T> clamp(const Var<T>& a, T lo, T hi) {
  LZ_PROFILE_OP;
  if (!(lo <= hi))
    throw std::invalid_argument("clamp: lower bound " + std::to_string(lo) + " exceeds upper bound " +
                                std::to_string(hi));
  const Tensor<T> av = a.value();
  Tensor<T> out = lz::map(av, [lo, hi](auto x) {
    using B = decltype(x);
    using std::max, std::min;
    using xsimd::max, xsimd::min;
    return min(max(x, B(lo)), B(hi));
  });
  return Var<T>::record(out, {a}, "clamp", [av, lo, hi](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, av, [lo, hi](auto gi, auto x) {
            using B = decltype(x);
            return vec::select(x >= B(lo), vec::select(x <= B(hi), gi, B(0)), B(0));
          }, "clamp"));
  });
}

// mask:[S] a,b broadcast to S -> [S]; out = mask != 0 ? a : b.
template <typename T>
Var<T> where(const Tensor<T>& mask, const Var<T>& a, const Var<T>& b) {
  LZ_PROFILE_OP;
  const Shape& ms = mask.shape();
  auto check = [&](const Tensor<T>& v, const char* which) {
    if (v.shape() != ms && broadcast_shapes(v.shape(), ms, "where") != ms)
      throw ShapeError(std::string("where: ") + which + " of shape " + shape_str(v.shape()) +
                       " does not broadcast to the mask's shape " + shape_str(ms));
  };
  check(a.value(), "a");
  check(b.value(), "b");
  const Tensor<T> ea = broadcast_to(a.value(), ms), eb = broadcast_to(b.value(), ms);
  Tensor<T> out = Tensor<T>::empty(ms);
  vec::zip3(out.numel(), mask.data(), ea.data(), eb.data(), out.data(),
            [](auto m, auto x, auto y) { return vec::select(m != zero_like(m), x, y); });
  return Var<T>::record(std::move(out), {a, b}, "where", [mask](const Tensor<T>& g, GradSink<T>& s) {
    if (s.needs(0))
      s.add(0, lz::zip(mask, g, [](auto m, auto gi) { return vec::select(m != zero_like(m), gi, zero_like(m)); },
                       "where"));
    if (s.needs(1))
      s.add(1, lz::zip(mask, g, [](auto m, auto gi) { return vec::select(m != zero_like(m), zero_like(m), gi); },
                       "where"));
  });
}

#define LZ_INSTANTIATE(T)                                                \
  template Var<T> tanh(const Var<T>&);                                   \
  template Var<T> sigmoid(const Var<T>&);                                \
  template Var<T> relu(const Var<T>&);                                   \
  template Var<T> leaky_relu(const Var<T>&, T);                          \
  template Var<T> softplus(const Var<T>&);                               \
  template Var<T> log_sigmoid(const Var<T>&);                            \
  template Var<T> clamp(const Var<T>&, T, T);                            \
  template Var<T> where(const Tensor<T>&, const Var<T>&, const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
