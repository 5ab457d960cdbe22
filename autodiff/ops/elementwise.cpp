// Arithmetic ops. Pattern for every op file: compute `out` with a tensor kernel, then record
// the node with a VJP capturing only what it needs.
#include <cmath>

#include "autodiff/ops.hpp"

namespace lz {

// a, b broadcast -> broadcast shape
template <typename T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  LZ_PROFILE_OP;
  return Var<T>::record(lz::add(a.value(), b.value()), {a, b}, "add",
                        [](const Tensor<T>& g, GradSink<T>& s) {
                          s.add(0, g);
                          s.add(1, g);
                        });
}

template <typename T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  LZ_PROFILE_OP;
  return Var<T>::record(lz::sub(a.value(), b.value()), {a, b}, "sub",
                        [](const Tensor<T>& g, GradSink<T>& s) {
                          s.add(0, g);
                          if (s.needs(1)) s.add(1, lz::map(g, [](auto x) { return -x; }));
                        });
}

template <typename T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value(), bv = b.value();
  return Var<T>::record(lz::mul(av, bv), {a, b}, "mul", [av, bv](const Tensor<T>& g, GradSink<T>& s) {
    if (s.needs(0)) s.add(0, lz::mul(g, bv));
    if (s.needs(1)) s.add(1, lz::mul(g, av));
  });
}

template <typename T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  LZ_PROFILE_OP;
  const Tensor<T> bv = b.value();
  Tensor<T> out = lz::div(a.value(), bv);
  return Var<T>::record(out, {a, b}, "div", [out, bv](const Tensor<T>& g, GradSink<T>& s) {
    const Tensor<T> ga = lz::div(g, bv);  // d(a/b)/da = 1/b
    if (s.needs(1)) s.add(1, lz::zip(ga, out, [](auto x, auto y) { return -x * y; }, "div"));  // -a/b² = -(1/b)(a/b)
    if (s.needs(0)) s.add(0, ga);
  });
}

template <typename T>
Var<T> add(const Var<T>& a, T c) {
  LZ_PROFILE_OP;
  return Var<T>::record(lz::map(a.value(), [c](auto x) { return x + c; }), {a}, "add_scalar",
                        [](const Tensor<T>& g, GradSink<T>& s) { s.add(0, g); });
}

template <typename T>
Var<T> mul(const Var<T>& a, T c) {
  LZ_PROFILE_OP;
  return Var<T>::record(lz::scale(a.value(), c), {a}, "mul_scalar",
                        [c](const Tensor<T>& g, GradSink<T>& s) { s.add(0, lz::scale(g, c)); });
}

template <typename T>
Var<T> sub(T c, const Var<T>& a) {
  LZ_PROFILE_OP;
  return Var<T>::record(lz::map(a.value(), [c](auto x) { return c - x; }), {a}, "scalar_sub",
                        [](const Tensor<T>& g, GradSink<T>& s) { s.add(0, lz::scale(g, T(-1))); });
}

template <typename T>
Var<T> neg(const Var<T>& a) {
  LZ_PROFILE_OP;
  return Var<T>::record(lz::scale(a.value(), T(-1)), {a}, "neg",
                        [](const Tensor<T>& g, GradSink<T>& s) { s.add(0, lz::scale(g, T(-1))); });
}

// d x^p / dx = p x^(p-1)
template <typename T>
Var<T> pow(const Var<T>& a, T p) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value();
  Tensor<T> out = lz::map(av, [p](auto x) {
    using std::pow;
    using xsimd::pow;
    return pow(x, decltype(x)(p));
  });
  return Var<T>::record(out, {a}, "pow", [av, p](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, av, [p](auto gi, auto x) {
            using std::pow;
            using xsimd::pow;
            return gi * decltype(x)(p) * pow(x, decltype(x)(p - 1));
          }, "pow"));
  });
}

template <typename T>
Var<T> square(const Var<T>& a) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value();
  return Var<T>::record(lz::map(av, [](auto x) { return x * x; }), {a}, "square",
                        [av](const Tensor<T>& g, GradSink<T>& s) {
                          s.add(0, lz::zip(g, av, [](auto gi, auto x) { return gi * x * decltype(x)(2); }, "square"));
                        });
}

// exp keeps its result (d e^x = e^x), not its input.
template <typename T>
Var<T> exp(const Var<T>& a) {
  LZ_PROFILE_OP;
  Tensor<T> out = lz::map(a.value(), [](auto x) {
    using std::exp;
    using xsimd::exp;
    return exp(x);
  });
  return Var<T>::record(out, {a}, "exp", [out](const Tensor<T>& g, GradSink<T>& s) { s.add(0, lz::mul(g, out)); });
}

template <typename T>
Var<T> log(const Var<T>& a) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value();
  Tensor<T> out = lz::map(av, [](auto x) {
    using std::log;
    using xsimd::log;
    return log(x);
  });
  return Var<T>::record(out, {a}, "log", [av](const Tensor<T>& g, GradSink<T>& s) { s.add(0, lz::div(g, av)); });
}

template <typename T>
Var<T> sqrt(const Var<T>& a) {
  LZ_PROFILE_OP;
  Tensor<T> out = lz::map(a.value(), [](auto x) {
    using std::sqrt;
    using xsimd::sqrt;
    return sqrt(x);
  });
  return Var<T>::record(out, {a}, "sqrt", [out](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, lz::zip(g, out, [](auto gi, auto y) { return gi / (y + y); }, "sqrt"));
  });
}

template <typename T>
Var<T> abs(const Var<T>& a) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value();
  Tensor<T> out = lz::map(av, [](auto x) {
    using std::abs;
    using xsimd::abs;
    return abs(x);
  });
  return Var<T>::record(out, {a}, "abs", [av](const Tensor<T>& g, GradSink<T>& s) {
    Tensor<T> r = Tensor<T>::empty(av.shape());
    for (int64_t i = 0; i < av.numel(); ++i) r[i] = av[i] > 0 ? g[i] : (av[i] < 0 ? -g[i] : T(0));
    s.add(0, std::move(r));
  });
}

#define LZ_INSTANTIATE(T)                                 \
  template Var<T> add(const Var<T>&, const Var<T>&);      \
  template Var<T> sub(const Var<T>&, const Var<T>&);      \
  template Var<T> mul(const Var<T>&, const Var<T>&);      \
  template Var<T> div(const Var<T>&, const Var<T>&);      \
  template Var<T> add(const Var<T>&, T);                  \
  template Var<T> mul(const Var<T>&, T);                  \
  template Var<T> sub(T, const Var<T>&);                    \
  template Var<T> neg(const Var<T>&);                     \
  template Var<T> pow(const Var<T>&, T);                  \
  template Var<T> square(const Var<T>&);                  \
  template Var<T> exp(const Var<T>&);                     \
  template Var<T> log(const Var<T>&);                     \
  template Var<T> sqrt(const Var<T>&);                    \
  template Var<T> abs(const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
