// Losses and log-densities, each in its numerically stable form and as one node, so that a
// model's objective reads as its equation and no intermediate overflows.
#include <cmath>

#include "autodiff/ops.hpp"
#include "tensor/math.hpp"

namespace lz {

// x, t broadcast -> S: max(x,0) - x t + log1p(e^{-|x|});  dx = g (σ(x) - t), dt = -g x
template <typename T>
Var<T> bce_with_logits(const Var<T>& logits, const Var<T>& targets) {
  LZ_PROFILE_OP;
  const Tensor<T> xv = logits.value(), tv = targets.value();
  Tensor<T> out = lz::zip(xv, tv, [](auto x, auto t) { return math::bce_with_logits(x, t); }, "bce_with_logits");
  return Var<T>::record(std::move(out), {logits, targets}, "bce_with_logits",
                        [xv, tv](const Tensor<T>& g, GradSink<T>& s) {
                          if (s.needs(0)) {
                            if (xv.shape() == g.shape() && tv.shape() == g.shape()) {
                              Tensor<T> r = Tensor<T>::empty(g.shape());
                              vec::zip3(g.numel(), g.data(), xv.data(), tv.data(), r.data(),
                                        [](auto gi, auto x, auto t) { return gi * (math::sigmoid(x) - t); });
                              s.add(0, std::move(r));
                            } else {
                              s.add(0, lz::mul(g, lz::zip(xv, tv, [](auto x, auto t) { return math::sigmoid(x) - t; },
                                                          "bce_with_logits")));
                            }
                          }
                          if (s.needs(1)) s.add(1, lz::zip(g, xv, [](auto gi, auto x) { return -gi * x; }, "bce_with_logits"));
                        });
}

// x, mean, logvar broadcast -> S: -½(log 2π + lv + (x-μ)² e^{-lv})
//   with w = (x-μ) e^{-lv}:  dx = -g w,  dμ = g w,  dlv = -½ g (1 - (x-μ) w)
template <typename T>
Var<T> gaussian_log_density(const Var<T>& x, const Var<T>& mean, const Var<T>& logvar) {
  LZ_PROFILE_OP;
  const Tensor<T> d = lz::sub(x.value(), mean.value());
  const Tensor<T> lv = logvar.value();
  Tensor<T> out = lz::zip(d, lv, [](auto di, auto l) { return math::gaussian_log_density(di, l); },
                          "gaussian_log_density");
  return Var<T>::record(std::move(out), {x, mean, logvar}, "gaussian_log_density",
                        [d, lv](const Tensor<T>& g, GradSink<T>& s) {
                          const Tensor<T> w = lz::zip(d, lv, [](auto di, auto l) {
                            using std::exp;
                            using xsimd::exp;
                            return di * exp(-l);
                          }, "gaussian_log_density");
                          if (s.needs(0) || s.needs(1)) {
                            const Tensor<T> gw = lz::mul(g, w);
                            if (s.needs(0)) s.add(0, lz::scale(gw, T(-1)));
                            if (s.needs(1)) s.add(1, gw);
                          }
                          if (s.needs(2)) {
                            if (d.shape() == g.shape() && w.shape() == g.shape()) {
                              Tensor<T> r = Tensor<T>::empty(g.shape());
                              vec::zip3(g.numel(), g.data(), d.data(), w.data(), r.data(), [](auto gi, auto di, auto wi) {
                                using B = decltype(gi);
                                return B(-0.5) * gi * (B(1) - di * wi);
                              });
                              s.add(2, std::move(r));
                            } else {
                              const Tensor<T> u = lz::zip(d, w, [](auto di, auto wi) { return decltype(di)(1) - di * wi; },
                                                          "gaussian_log_density");
                              s.add(2, lz::zip(g, u, [](auto gi, auto ui) { return decltype(gi)(-0.5) * gi * ui; },
                                               "gaussian_log_density"));
                            }
                          }
                        });
}

// mean, logvar broadcast -> S: ½(e^{lv} + μ² - 1 - lv);  dμ = g μ,  dlv = ½ g (e^{lv} - 1)
template <typename T>
Var<T> kl_std_normal(const Var<T>& mean, const Var<T>& logvar) {
  LZ_PROFILE_OP;
  const Tensor<T> mv = mean.value(), lv = logvar.value();
  Tensor<T> out = lz::zip(mv, lv, [](auto m, auto l) {
    using B = decltype(m);
    using std::expm1;
    using xsimd::expm1;
    // e^{lv} - 1 - lv through expm1: no cancellation when lv is near 0 (a posterior near the prior)
    return B(0.5) * (expm1(l) - l + m * m);
  }, "kl_std_normal");
  return Var<T>::record(std::move(out), {mean, logvar}, "kl_std_normal", [mv, lv](const Tensor<T>& g, GradSink<T>& s) {
    if (s.needs(0)) s.add(0, lz::mul(g, mv));
    if (s.needs(1))
      s.add(1, lz::zip(g, lv, [](auto gi, auto l) {
              using B = decltype(gi);
              using std::expm1;
              using xsimd::expm1;
              return B(0.5) * gi * expm1(l);
            }, "kl_std_normal"));
  });
}

// mq, lvq, mp, lvp: one shape -> that shape. With d = lvq − lvp and r = (mq − mp)² e^{−lvp}:
//   KL = ½(e^d − 1 − d + r)     (expm1: no cancellation when q is near p)
//   ∂/∂mq = (mq − mp) e^{−lvp} = −∂/∂mp,   ∂/∂lvq = ½ expm1(d),   ∂/∂lvp = −½(expm1(d) + r).
template <typename T>
Var<T> kl_diag_gaussians(const Var<T>& mean_q, const Var<T>& logvar_q, const Var<T>& mean_p, const Var<T>& logvar_p) {
  LZ_PROFILE_OP;
  const Shape& s = mean_q.shape();
  if (logvar_q.shape() != s || mean_p.shape() != s || logvar_p.shape() != s)
    throw ShapeError("kl_diag_gaussians: expected mean_q, logvar_q, mean_p, logvar_p of one shape, got " + shape_str(s) +
                     ", " + shape_str(logvar_q.shape()) + ", " + shape_str(mean_p.shape()) + ", " +
                     shape_str(logvar_p.shape()));
  const int64_t n = mean_q.numel();
  // Per element: the scaled difference (mq − mp) e^{−lvp}, expm1(d) and r, kept for the VJP.
  Tensor<T> out(s), diff(s), em1(s), r(s);
  const T *mq = mean_q.value().data(), *lq = logvar_q.value().data(), *mp = mean_p.value().data(),
          *lp = logvar_p.value().data();
  for (int64_t i = 0; i < n; ++i) {
    const T d = lq[i] - lp[i], inv_vp = std::exp(-lp[i]), dm = mq[i] - mp[i];
    diff[i] = dm * inv_vp;
    em1[i] = std::expm1(d);
    r[i] = dm * diff[i];
    out[i] = T(0.5) * (em1[i] - d + r[i]);
  }
  return Var<T>::record(std::move(out), {mean_q, logvar_q, mean_p, logvar_p}, "kl_diag_gaussians",
                        [diff, em1, r](const Tensor<T>& g, GradSink<T>& sink) {
                          if (sink.needs(0)) sink.add(0, lz::mul(g, diff));
                          if (sink.needs(1)) sink.add(1, lz::scale(lz::mul(g, em1), T(0.5)));
                          if (sink.needs(2)) sink.add(2, lz::scale(lz::mul(g, diff), T(-1)));
                          if (sink.needs(3)) sink.add(3, lz::scale(lz::mul(g, lz::add(em1, r)), T(-0.5)));
                        });
}

// a, b broadcast -> []: mean over the broadcast shape of (a-b)²;  da = 2 g (a-b) / n, db = -da
template <typename T>
Var<T> mse(const Var<T>& a, const Var<T>& b) {
  LZ_PROFILE_OP;
  const Tensor<T> d = lz::sub(a.value(), b.value());
  const int64_t n = d.numel();
  const T inv = n ? T(1) / static_cast<T>(n) : T(0);
  Tensor<T> out = Tensor<T>::scalar(vec::dot(n, d.data(), d.data()) * inv);
  return Var<T>::record(std::move(out), {a, b}, "mse", [d, inv](const Tensor<T>& g, GradSink<T>& s) {
    const T c = T(2) * g[0] * inv;
    if (s.needs(0)) s.add(0, lz::scale(d, c));
    if (s.needs(1)) s.add(1, lz::scale(d, -c));
  });
}

// logp:[N,C] labels:[N] -> []: -(1/N) Σ_i logp[i, labels[i]]
template <typename T>
Var<T> nll(const Var<T>& logp, const std::vector<int64_t>& labels) {
  LZ_PROFILE_OP;
  const Shape in = logp.shape();
  if (in.size() != 2 || in[0] != static_cast<int64_t>(labels.size()))
    throw ShapeError("nll: expected logp:[N,C] with N = " + std::to_string(labels.size()) +
                     " labels, got logp:" + shape_str(in));
  const int64_t N = in[0], C = in[1];
  const T* p = logp.value().data();
  T acc = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t y = labels[i];
    if (y < 0 || y >= C)
      throw std::out_of_range("nll: label " + std::to_string(y) + " at index " + std::to_string(i) +
                              " out of range for " + std::to_string(C) + " classes");
    acc += p[i * C + y];
  }
  const T inv = N ? T(1) / static_cast<T>(N) : T(0);
  return Var<T>::record(Tensor<T>::scalar(-acc * inv), {logp}, "nll", [in, labels, inv](const Tensor<T>& g, GradSink<T>& s) {
    Tensor<T> r(in);
    const T v = -g[0] * inv;
    for (size_t i = 0; i < labels.size(); ++i) r[static_cast<int64_t>(i) * in[1] + labels[i]] = v;
    s.add(0, std::move(r));
  });
}

#define LZ_INSTANTIATE(T)                                                              \
  template Var<T> bce_with_logits(const Var<T>&, const Var<T>&);                       \
  template Var<T> gaussian_log_density(const Var<T>&, const Var<T>&, const Var<T>&);   \
  template Var<T> kl_std_normal(const Var<T>&, const Var<T>&);                         \
  template Var<T> kl_diag_gaussians(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> mse(const Var<T>&, const Var<T>&);                                   \
  template Var<T> nll(const Var<T>&, const std::vector<int64_t>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
