// RealNVP's affine coupling after its network, one fused pass per direction. With σ = +1 forward,
// −1 inverse, k = keep, a = tanh(raw[:, :D]), s = k ⊙ scale ⊙ a, t = k ⊙ raw[:, D:], e = exp(σ s):
//   forward  out = x e + t,          q := ∂out/∂s = x e
//   inverse  out = (x − t) e,        q := ∂out/∂s = −out
//   log|det| = σ Σ_j s_j
// The VJPs, from the output's gradient g [N,D]:
//   gx = g e,  gs = g q,  graw[:, j] = gs k_j scale_j (1 − a²),  graw[:, D+j] = k_j (g forward, −g e inverse),
//   gscale_j = Σ_n gs k_j a;
// and from the log-determinant's gradient gl [N]: gs = σ gl_n in the same chain (no shift term).
// The composed form records ten nodes per coupling (chunk, tanh, three products, exp, add, sum) and
// ten temporaries of [N,D]; a flow on 2-D data (D = 2, N = 256) spends its step on exactly that
// per-node overhead, so the coupling is one op. The cache holds a and e.
#include <cmath>
#include <memory>
#include <string>

#include "autodiff/ops.hpp"
#include "tensor/profile.hpp"
#include "tensor/vec.hpp"

namespace lz {

namespace {

template <typename T>
struct Cache {
  int64_t N = 0, D = 0;
  bool inverse = false;
  Tensor<T> x, out, keep, scale, a, e;  // a = tanh(raw[:, :D]), e = exp(σ s)
};

template <typename T>
void check_shapes(const char* op, const Var<T>& x, const Var<T>& raw, const Var<T>& scale, const Tensor<T>& keep) {
  const Shape& xs = x.shape();
  auto fail = [&](const std::string& what) {
    throw ShapeError(std::string(op) + ": " + what + " (x " + shape_str(xs) + ", raw " + shape_str(raw.shape()) +
                     ", scale " + shape_str(scale.shape()) + ", keep " + shape_str(keep.shape()) + ")");
  };
  if (xs.size() != 2) fail("expected x:[N,D]");
  const int64_t N = xs[0], D = xs[1];
  if (raw.shape() != Shape{N, 2 * D}) fail("expected raw:[N,2D], the log-scale half then the shift half");
  if (scale.shape() != Shape{D}) fail("expected scale:[D]");
  if (keep.shape() != Shape{D}) fail("expected keep:[D]");
}

// One node's VJP. g is the output's gradient [N,D] or null; gl the log-determinant's [N] or null.
template <typename T>
void backprop(const Cache<T>& C, const T* g, const T* gl, GradSink<T>& sink) {
  LZ_PROFILE_OP;
  const int64_t N = C.N, D = C.D;
  const T sigma = C.inverse ? T(-1) : T(1);
  const T *k = C.keep.data(), *sc = C.scale.data(), *a = C.a.data(), *e = C.e.data();
  const bool need_x = g && sink.needs(0), need_raw = sink.needs(1), need_scale = sink.needs(2);
  if (need_x) {
    Tensor<T> gx = Tensor<T>::empty({N, D});
    for (int64_t i = 0; i < N * D; ++i) gx[i] = g[i] * e[i];
    sink.add(0, std::move(gx));
  }
  if (!need_raw && !need_scale) return;
  Tensor<T> graw = need_raw ? Tensor<T>::zeros({N, 2 * D}) : Tensor<T>();
  Tensor<T> gscale = need_scale ? Tensor<T>::zeros({D}) : Tensor<T>();
  const T *xv = C.x.data(), *ov = C.out.data();
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t j = 0; j < D; ++j) {
      const int64_t i = n * D + j;
      T gs = gl ? sigma * gl[n] : T(0);  // ∂L/∂s_ij
      if (g) gs += g[i] * (C.inverse ? -ov[i] : xv[i] * e[i]);
      gs *= k[j];
      if (need_raw) {
        graw[n * 2 * D + j] = gs * sc[j] * (T(1) - a[i] * a[i]);
        if (g) graw[n * 2 * D + D + j] = k[j] * (C.inverse ? -g[i] * e[i] : g[i]);
      }
      if (need_scale) gscale[j] += gs * a[i];
    }
  }
  if (need_raw) sink.add(1, std::move(graw));
  if (need_scale) sink.add(2, std::move(gscale));
}

template <typename T>
WithLogDet<T> run(const Var<T>& xin, const Var<T>& raw, const Var<T>& scale, const Tensor<T>& keep, bool inverse) {
  LZ_PROFILE_OP;
  const char* op = inverse ? "affine_coupling_inverse" : "affine_coupling";
  check_shapes(op, xin, raw, scale, keep);
  const int64_t N = xin.shape()[0], D = xin.shape()[1];
  auto C = std::make_shared<Cache<T>>();
  C->N = N;
  C->D = D;
  C->inverse = inverse;
  C->x = xin.value();
  C->keep = keep;
  C->scale = scale.value();
  C->a = Tensor<T>::empty({N, D});
  C->e = Tensor<T>::empty({N, D});
  Tensor<T> out = Tensor<T>::empty({N, D}), ld = Tensor<T>::empty({N});
  const T *xv = C->x.data(), *rv = raw.value().data(), *k = keep.data(), *sc = C->scale.data();
  T *a = C->a.data(), *e = C->e.data();
  for (int64_t n = 0; n < N; ++n) {
    vec::serial::map(D, rv + n * 2 * D, a + n * D, [](auto v) {
      using std::tanh;
      using xsimd::tanh;
      return tanh(v);
    });
    T sum = 0;
    for (int64_t j = 0; j < D; ++j) {
      const T s = k[j] * sc[j] * a[n * D + j];
      sum += s;
      e[n * D + j] = inverse ? -s : s;
    }
    ld[n] = inverse ? -sum : sum;
  }
  vec::map(N * D, e, e, [](auto v) {
    using std::exp;
    using xsimd::exp;
    return exp(v);
  });
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < D; ++j) {
      const int64_t i = n * D + j;
      const T t = k[j] * rv[n * 2 * D + D + j];
      out[i] = inverse ? (xv[i] - t) * e[i] : xv[i] * e[i] + t;
    }
  C->out = out;
  std::shared_ptr<const Cache<T>> c = C;
  Var<T> y = Var<T>::record(std::move(out), {xin, raw, scale}, op, [c](const Tensor<T>& g, GradSink<T>& s) {
    backprop<T>(*c, g.data(), nullptr, s);
  });
  Var<T> l = Var<T>::record(std::move(ld), {xin, raw, scale},
                            inverse ? "affine_coupling_inverse_log_det" : "affine_coupling_log_det",
                            [c](const Tensor<T>& g, GradSink<T>& s) { backprop<T>(*c, nullptr, g.data(), s); });
  return {std::move(y), std::move(l)};
}

}  // namespace

template <typename T>
WithLogDet<T> affine_coupling(const Var<T>& x, const Var<T>& raw, const Var<T>& scale, const Tensor<T>& keep) {
  return run(x, raw, scale, keep, false);
}

template <typename T>
WithLogDet<T> affine_coupling_inverse(const Var<T>& y, const Var<T>& raw, const Var<T>& scale,
                                      const Tensor<T>& keep) {
  return run(y, raw, scale, keep, true);
}

#define LZ_INSTANTIATE(T)                                                                              \
  template WithLogDet<T> affine_coupling(const Var<T>&, const Var<T>&, const Var<T>&, const Tensor<T>&); \
  template WithLogDet<T> affine_coupling_inverse(const Var<T>&, const Var<T>&, const Var<T>&,            \
                                                 const Tensor<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)
#undef LZ_INSTANTIATE

}  // namespace lz
