// Reductions. A reduced gradient is broadcast back over the reduced axis.
#include <cmath>
#include <limits>
#include <vector>

#include "autodiff/ops.hpp"
#include "tensor/math.hpp"

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
  LZ_PROFILE_OP;
  const Shape in = a.shape();
  return Var<T>::record(Tensor<T>::scalar(lz::sum_all(a.value())), {a}, "sum",
                        [in](const Tensor<T>& g, GradSink<T>& s) { s.add(0, Tensor<T>::full(in, g[0])); });
}

// a:[..., n, ...] -> [..., (1), ...]
template <typename T>
Var<T> sum(const Var<T>& a, int64_t axis, bool keepdim) {
  LZ_PROFILE_OP;
  const Shape in = a.shape();
  return Var<T>::record(lz::sum(a.value(), axis, keepdim), {a}, "sum_axis",
                        [in, axis](const Tensor<T>& g, GradSink<T>& s) {
                          s.add(0, lz::broadcast_to(unsqueeze_reduced(g, in, axis), in));
                        });
}

template <typename T>
Var<T> mean(const Var<T>& a) {
  LZ_PROFILE_OP;
  const Shape in = a.shape();
  const T inv = T(1) / static_cast<T>(a.numel());
  return Var<T>::record(Tensor<T>::scalar(lz::sum_all(a.value()) * inv), {a}, "mean",
                        [in, inv](const Tensor<T>& g, GradSink<T>& s) { s.add(0, Tensor<T>::full(in, g[0] * inv)); });
}

template <typename T>
Var<T> mean(const Var<T>& a, int64_t axis, bool keepdim) {
  LZ_PROFILE_OP;
  return mul(sum(a, axis, keepdim), T(1) / static_cast<T>(a.size(axis)));
}

namespace {
// out[o,k] = log Σ_j exp(x[o,j,k]) - offset (tensor/math.hpp's kernels, one slice at a time).
template <typename T>
void logsumexp_kernel(const T* x, T* out, const AxisSplit& sp, T offset) {
  if (sp.inner == 1) {
    for (int64_t o = 0; o < sp.outer; ++o) out[o] = math::logsumexp(sp.n, x + o * sp.n) - offset;
    return;
  }
  std::vector<T> sums(sp.inner);
  for (int64_t o = 0; o < sp.outer; ++o) {
    T* r = out + o * sp.inner;
    math::logsumexp_cols(sp.n, sp.inner, x + o * sp.n * sp.inner, r, sums.data());
    if (offset != T(0))
      for (int64_t k = 0; k < sp.inner; ++k) r[k] -= offset;
  }
}

// Gradient of out = log Σ exp(x) - offset: g * exp(x - y) with y = out + offset, broadcast over the axis.
// Where y = -inf (every entry -inf) the gradient is 0, not exp(-inf + inf) = NaN.
template <typename T>
Tensor<T> logsumexp_grad(const Tensor<T>& g, const Tensor<T>& x, const Tensor<T>& out, const AxisSplit& sp, T offset) {
  const Tensor<T> y_kept = offset == T(0) ? out : lz::map(out, [offset](auto v) { return v + decltype(v)(offset); });
  Tensor<T> r = Tensor<T>::empty(x.shape());
  const T* gp = g.data();
  const T* yp = y_kept.data();
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  auto grad = [](auto v, auto y, auto gi) {
    using std::exp;
    using xsimd::exp;
    return gi * exp(v - y);
  };
  for (int64_t o = 0; o < sp.outer; ++o) {
    if (sp.inner == 1) {  // one output per row: a scalar y and g for the whole row
      const int64_t off = o * sp.n;
      const T y = yp[o], gi = gp[o];
      if (y == ninf)
        vec::fill(sp.n, r.data() + off, T(0));
      else
        vec::map(sp.n, x.data() + off, r.data() + off, [&](auto v) { return grad(v, decltype(v)(y), decltype(v)(gi)); });
      continue;
    }
    for (int64_t j = 0; j < sp.n; ++j) {
      const int64_t off = (o * sp.n + j) * sp.inner;
      vec::zip3(sp.inner, x.data() + off, yp + o * sp.inner, gp + o * sp.inner, r.data() + off,
                [&](auto v, auto y, auto gi) {
                  using B = decltype(v);
                  return vec::select(y == B(ninf), B(0), grad(v, y, gi));
                });
    }
  }
  return r;
}

template <typename T>
Var<T> logsumexp_like(const Var<T>& a, int64_t axis, bool keepdim, T offset, const char* op) {
  LZ_PROFILE_OP;
  const AxisSplit sp = split_axis(a.shape(), axis, op);
  if (sp.n == 0) throw ShapeError(std::string(op) + ": reduction over an empty axis of shape " + shape_str(a.shape()));
  Tensor<T> out = Tensor<T>::empty(keepdim ? sp.kept : sp.squeezed);
  logsumexp_kernel(a.value().data(), out.data(), sp, offset);
  const Tensor<T> av = a.value();
  return Var<T>::record(out, {a}, op, [av, out, sp, offset](const Tensor<T>& g, GradSink<T>& s) {
    s.add(0, logsumexp_grad(g, av, out, sp, offset));
  });
}
}  // namespace

// a:[..., n, ...] -> [..., (1), ...]; the gradient goes to the first maximum of each slice.
template <typename T>
Var<T> max(const Var<T>& a, int64_t axis, bool keepdim) {
  LZ_PROFILE_OP;
  const AxisSplit sp = split_axis(a.shape(), axis, "max");
  if (sp.n == 0) throw ShapeError("max: reduction over an empty axis of shape " + shape_str(a.shape()));
  const T* p = a.value().data();
  Tensor<T> out = Tensor<T>::empty(keepdim ? sp.kept : sp.squeezed);
  // Flat input index of each winner; NaN wins (and propagates) like in lz::max.
  std::vector<int64_t> arg(static_cast<size_t>(sp.outer * sp.inner));
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t k = 0; k < sp.inner; ++k) {
      int64_t best = o * sp.n * sp.inner + k;
      for (int64_t j = 1; j < sp.n && !std::isnan(p[best]); ++j) {
        const int64_t i = (o * sp.n + j) * sp.inner + k;
        if (p[i] > p[best] || std::isnan(p[i])) best = i;
      }
      arg[o * sp.inner + k] = best;
      out[o * sp.inner + k] = p[best];
    }
  const Shape in = a.shape();
  return Var<T>::record(std::move(out), {a}, "max", [in, arg = std::move(arg)](const Tensor<T>& g, GradSink<T>& s) {
    Tensor<T> r(in);
    for (size_t i = 0; i < arg.size(); ++i) r[arg[i]] += g[static_cast<int64_t>(i)];
    s.add(0, std::move(r));
  });
}

template <typename T>
Var<T> logsumexp(const Var<T>& a, int64_t axis, bool keepdim) {
  LZ_PROFILE_OP;
  return logsumexp_like(a, axis, keepdim, T(0), "logsumexp");
}

// log (1/n) Σ exp(a) = logsumexp(a) - log n
template <typename T>
Var<T> log_mean_exp(const Var<T>& a, int64_t axis, bool keepdim) {
  LZ_PROFILE_OP;
  return logsumexp_like(a, axis, keepdim, static_cast<T>(std::log(static_cast<double>(a.size(axis)))),
                        "log_mean_exp");
}

// y = x - logsumexp(x);  dx = g - softmax(x) Σ_axis g, with softmax = exp(y)
template <typename T>
Var<T> log_softmax(const Var<T>& a, int64_t axis) {
  LZ_PROFILE_OP;
  const AxisSplit sp = split_axis(a.shape(), axis, "log_softmax");
  Tensor<T> lse = Tensor<T>::empty(sp.kept);
  logsumexp_kernel(a.value().data(), lse.data(), sp, T(0));
  Tensor<T> out = sp.inner == 1 ? Tensor<T>::empty(a.shape()) : lz::sub(a.value(), lse);
  if (sp.inner == 1)
    for (int64_t o = 0; o < sp.outer; ++o)
      vec::zip_scalar_right(sp.n, a.value().data() + o * sp.n, lse[o], out.data() + o * sp.n,
                            [](auto x, auto l) { return x - l; });
  return Var<T>::record(out, {a}, "log_softmax", [out, sp](const Tensor<T>& g, GradSink<T>& s) {
    Tensor<T> r = Tensor<T>::empty(out.shape());
    if (sp.inner == 1) {
      for (int64_t o = 0; o < sp.outer; ++o) {
        const int64_t off = o * sp.n;
        const T gs = vec::sum(sp.n, g.data() + off);
        vec::zip(sp.n, g.data() + off, out.data() + off, r.data() + off, [gs](auto gi, auto y) {
          using std::exp;
          using xsimd::exp;
          return gi - exp(y) * decltype(y)(gs);
        });
      }
    } else {
      const Tensor<T> gs = lz::sum(g, sp.axis, true);
      r = lz::zip(g, lz::zip(out, gs, [](auto y, auto si) {
                    using std::exp;
                    using xsimd::exp;
                    return exp(y) * si;
                  }, "log_softmax"),
                  [](auto gi, auto t) { return gi - t; }, "log_softmax");
    }
    s.add(0, std::move(r));
  });
}

// y = exp(x - logsumexp(x));  dx = y (g - Σ_axis g y)
template <typename T>
Var<T> softmax(const Var<T>& a, int64_t axis) {
  LZ_PROFILE_OP;
  const AxisSplit sp = split_axis(a.shape(), axis, "softmax");
  Tensor<T> lse = Tensor<T>::empty(sp.kept);
  logsumexp_kernel(a.value().data(), lse.data(), sp, T(0));
  auto expdiff = [](auto x, auto l) {
    using std::exp;
    using xsimd::exp;
    return exp(x - l);
  };
  Tensor<T> out = sp.inner == 1 ? Tensor<T>::empty(a.shape()) : lz::zip(a.value(), lse, expdiff, "softmax");
  if (sp.inner == 1)
    for (int64_t o = 0; o < sp.outer; ++o)
      vec::zip_scalar_right(sp.n, a.value().data() + o * sp.n, lse[o], out.data() + o * sp.n, expdiff);
  return Var<T>::record(out, {a}, "softmax", [out, sp](const Tensor<T>& g, GradSink<T>& s) {
    Tensor<T> r = Tensor<T>::empty(out.shape());
    if (sp.inner == 1) {
      for (int64_t o = 0; o < sp.outer; ++o) {
        const int64_t off = o * sp.n;
        const T gy = vec::dot(sp.n, g.data() + off, out.data() + off);
        vec::zip(sp.n, g.data() + off, out.data() + off, r.data() + off,
                 [gy](auto gi, auto y) { return y * (gi - decltype(y)(gy)); });
      }
    } else {
      const Tensor<T> gy = lz::sum(lz::mul(g, out), sp.axis, true);
      r = lz::mul(out, lz::sub(g, gy));
    }
    s.add(0, std::move(r));
  });
}

#define LZ_INSTANTIATE(T)                                       \
  template Var<T> sum(const Var<T>&);                           \
  template Var<T> sum(const Var<T>&, int64_t, bool);            \
  template Var<T> mean(const Var<T>&);                          \
  template Var<T> mean(const Var<T>&, int64_t, bool);           \
  template Var<T> max(const Var<T>&, int64_t, bool);            \
  template Var<T> logsumexp(const Var<T>&, int64_t, bool);      \
  template Var<T> log_mean_exp(const Var<T>&, int64_t, bool);   \
  template Var<T> log_softmax(const Var<T>&, int64_t);          \
  template Var<T> softmax(const Var<T>&, int64_t);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
