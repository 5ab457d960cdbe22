// The monotonic rational-quadratic spline of Durkan et al. (2019, "Neural Spline Flows"), with
// identity tails, as one fused op per direction (nflows' unconstrained_rational_quadratic_spline
// with tails = "linear"). Per element, K bins with knots (X_j, Y_j), j = 0..K, on [−B, B]:
//   X_j = −B + 2B Σ_{i<j} w_i,  w = m_w + (1 − K m_w) softmax(raw widths)     (X_0 = −B, X_K = B)
//   Y_j likewise from the raw heights;  D_j = m_d + softplus(raw_{j−1}) for 0 < j < K, D_0 = D_K = 1
// In bin k (X_k <= x < X_{k+1}; x = B falls in bin K−1), with w = X_{k+1} − X_k, h = Y_{k+1} − Y_k,
// s = h / w, θ = (x − X_k) / w, τ = θ(1 − θ), d0 = D_k, d1 = D_{k+1}:
//   y = Y_k + h (s θ² + d0 τ) / Dn,                      Dn = s + (d0 + d1 − 2s) τ
//   log dy/dx = 2 log s + log M − 2 log Dn,              M  = d1 θ² + 2 s τ + d0 (1 − θ)²
// Outside [−B, B]: y = x, log-derivative 0 (D_0 = D_K = 1 make the join C¹).
// Inverse: y − Y_k = h(sθ² + d0τ)/Dn is the quadratic aθ² + bθ + c = 0 with
//   a = h(s − d0) + (y − Y_k)(d0 + d1 − 2s),  b = h d0 − (y − Y_k)(d0 + d1 − 2s),  c = −s (y − Y_k),
// whose root in [0, 1] is taken in the form θ = 2c / (−b − √(b² − 4ac)): no cancellation (b > 0 near
// θ = 0 where the textbook (−b + √·)/2a loses every digit), and no division by a, which is 0 for a
// bin where the spline is linear (s = d0 = d1). b² − 4ac is clamped at 0 against rounding.
//
// Finite everywhere: each element first decides tail or bin, and the spline formulas run only for
// an element inside [−B, B], in its own bin, where s > 0, M > 0, Dn > 0; a tail element never
// evaluates them, so no NaN of a branch not taken reaches a gradient (the bug of the
// where(inside, spline(x), x) form, whose untaken branch still back-propagates 0 · NaN).
//
// The VJPs: the local partials with respect to (input, X_k, w, Y_k, h, d0, d1) in closed form, then
// chained to the raw values (knots → cumulative sums → softmax; D → softplus). Through the inverse,
// by the implicit function theorem: ∂θ/∂p = −(∂y/∂p) / (∂y/∂θ). The arithmetic is in double for both
// T (a float flow's round trip then loses only the storage rounding). Two nodes (the output and the
// log-derivative) share one forward pass and its cache.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "tensor/math.hpp"
#include "tensor/profile.hpp"

namespace lz {

namespace {

struct Cache {
  int64_t E = 0, K = 0;
  RqSplineOptions o;
  bool inverse = false;
  std::vector<uint8_t> inside;
  std::vector<int32_t> bin;
  std::vector<double> theta;       // [E]
  std::vector<double> local;       // [E, 6]: X_k, w, Y_k, h, d0, d1
  std::vector<double> sw, sh, sd;  // softmax of the raw widths, heights [E, K]; sigmoid of the raw derivatives [E, K−1]
};

// softmax of raw[0..K) into sm, then the knots: knots[0] = −B, knots[K] = B.
template <typename T>
void knots_of(const T* raw, int64_t K, double B, double min_bin, double* sm, double* knots) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < K; ++i) mx = std::max(mx, static_cast<double>(raw[i]));
  double z = 0;
  for (int64_t i = 0; i < K; ++i) z += (sm[i] = std::exp(static_cast<double>(raw[i]) - mx));
  for (int64_t i = 0; i < K; ++i) sm[i] /= z;
  double cum = 0;
  knots[0] = -B;
  for (int64_t j = 1; j < K; ++j) {
    cum += min_bin + (1 - min_bin * static_cast<double>(K)) * sm[j - 1];
    knots[j] = -B + 2 * B * cum;
  }
  knots[K] = B;
}

// The bin of v among knots[0..K]: the number of interior knots X_j (0 < j < K) with v >= X_j.
int32_t bin_of(double v, const double* knots, int64_t K) {
  return static_cast<int32_t>(std::upper_bound(knots + 1, knots + K, v) - (knots + 1));
}

// The spline's pieces at θ in one bin.
struct Piece {
  double s, tau, M, Dn, N;
  Piece(double theta, double w, double h, double d0, double d1)
      : s(h / w), tau(theta * (1 - theta)),
        M(d1 * theta * theta + 2 * s * tau + d0 * (1 - theta) * (1 - theta)),
        Dn(s + (d0 + d1 - 2 * s) * tau), N(h * (s * theta * theta + d0 * tau)) {}
  double log_deriv() const { return 2 * std::log(s) + std::log(M) - 2 * std::log(Dn); }
};

template <typename T>
void check_shapes(const char* op, const Var<T>& x, const Var<T>& w, const Var<T>& h, const Var<T>& d,
                  const RqSplineOptions& o) {
  const Shape& xs = x.shape();
  const int64_t K = w.dim() > 0 ? w.shape().back() : 0;
  auto with = [&](int64_t last) {
    Shape s = xs;
    s.push_back(last);
    return s;
  };
  if (K < 1 || w.shape() != with(K) || h.shape() != with(K) || d.shape() != with(K - 1))
    throw ShapeError(std::string(op) + ": expected x [...] with widths, heights [..., K] and derivatives [..., K-1], got x " +
                     shape_str(xs) + ", widths " + shape_str(w.shape()) + ", heights " + shape_str(h.shape()) +
                     ", derivatives " + shape_str(d.shape()));
  if (!(o.tail_bound > 0) || !(o.min_bin_width >= 0) || !(o.min_bin_height >= 0) || !(o.min_derivative >= 0) ||
      !(o.min_bin_width * static_cast<double>(K) < 1) || !(o.min_bin_height * static_cast<double>(K) < 1))
    throw std::invalid_argument(std::string(op) + ": needs tail_bound > 0, minimum bin sizes in [0, 1/K) for K = " +
                                std::to_string(K) + " and min_derivative >= 0");
}

// gin: the incoming gradient of the op's output (y, or x for the inverse) or null; glog: that of the
// log-derivative or null. Adds the gradients of <gin, out> + <glog, log-derivative> to the inputs.
template <typename T>
void backprop(const Cache& C, const T* gin, const T* glog, GradSink<T>& sink, const Shape& xs, const Shape& ws,
              const Shape& ds) {
  const int64_t E = C.E, K = C.K;
  const double B = C.o.tail_bound;
  Tensor<T> gx = Tensor<T>::zeros(xs), gw = Tensor<T>::zeros(ws), gh = Tensor<T>::zeros(ws), gd = Tensor<T>::zeros(ds);
  std::vector<double> gwn(static_cast<size_t>(K)), ghn(static_cast<size_t>(K));
  for (int64_t e = 0; e < E; ++e) {
    const double go = gin ? static_cast<double>(gin[e]) : 0.0, gl = glog ? static_cast<double>(glog[e]) : 0.0;
    if (!C.inside[e]) {
      gx[e] = static_cast<T>(go);
      continue;
    }
    const double* L = &C.local[6 * e];
    const double w = L[1], h = L[3], d0 = L[4], d1 = L[5], th = C.theta[e];
    const Piece p(th, w, h, d0, d1);
    const double s = p.s, tau = p.tau, Dn2 = p.Dn * p.Dn;
    const double y_th = w * s * s * p.M / Dn2;
    const double y_s = h * th * th / p.Dn - p.N * (1 - 2 * tau) / Dn2;
    const double y_h = (s * th * th + d0 * tau) / p.Dn;
    const double y_d0 = h * tau / p.Dn - p.N * tau / Dn2, y_d1 = -p.N * tau / Dn2;
    const double M_th = 2 * d1 * th + 2 * s * (1 - 2 * th) - 2 * d0 * (1 - th);
    const double Dn_th = (d0 + d1 - 2 * s) * (1 - 2 * th);
    const double L_th = M_th / p.M - 2 * Dn_th / p.Dn;
    const double L_s = 2 / s + 2 * tau / p.M - 2 * (1 - 2 * tau) / p.Dn;
    const double L_d0 = (1 - th) * (1 - th) / p.M - 2 * tau / p.Dn, L_d1 = th * th / p.M - 2 * tau / p.Dn;
    double G_in, G_a, G_w, G_c, G_h, G_d0, G_d1;
    if (!C.inverse) {  // y(θ(x, X_k, w), s(h, w), h, Y_k, d0, d1)
      const double G_th = go * y_th + gl * L_th, G_s = go * y_s + gl * L_s;
      G_in = G_th / w;
      G_a = -G_th / w;
      G_w = -G_th * th / w - G_s * s / w;
      G_c = go;
      G_h = go * y_h + G_s / w;
      G_d0 = go * y_d0 + gl * L_d0;
      G_d1 = go * y_d1 + gl * L_d1;
    } else {  // x = X_k + w θ(y, ...), log-derivative −L(θ, ...); ∂θ/∂p = −(∂y/∂p) / (∂y/∂θ)
      const double q = (go * w - gl * L_th) / y_th;
      const double G_s = -q * y_s - gl * L_s;
      G_in = q;
      G_a = go;
      G_w = go * th - G_s * s / w;
      G_c = -q;
      G_h = -q * y_h + G_s / w;
      G_d0 = -q * y_d0 - gl * L_d0;
      G_d1 = -q * y_d1 - gl * L_d1;
    }
    gx[e] = static_cast<T>(G_in);
    // Knot gradients: X_k gets G_a − G_w, X_{k+1} gets G_w (w = X_{k+1} − X_k); only interior knots
    // depend on the raw values, X_j = −B + 2B Σ_{i<j} wn_i, so ∂/∂wn_i = 2B Σ_{0<j<K, j>i} ∂/∂X_j.
    const int64_t k = C.bin[e];
    const double gX[2] = {G_a - G_w, G_w}, gY[2] = {G_c - G_h, G_h}, gD[2] = {G_d0, G_d1};
    for (int64_t i = 0; i < K; ++i) {
      double a = 0, b = 0;
      for (int64_t t = 0; t < 2; ++t) {
        const int64_t j = k + t;
        if (j > 0 && j < K && j > i) {
          a += gX[t];
          b += gY[t];
        }
      }
      gwn[i] = 2 * B * a;
      ghn[i] = 2 * B * b;
    }
    // wn = m + (1 − K m) softmax(u): ∂/∂u_i = (1 − K m) sm_i (g_i − Σ_j sm_j g_j)
    const double* sw = &C.sw[K * e];
    const double* sh = &C.sh[K * e];
    double dw = 0, dh = 0;
    for (int64_t i = 0; i < K; ++i) {
      dw += sw[i] * gwn[i];
      dh += sh[i] * ghn[i];
    }
    const double fw = 1 - static_cast<double>(K) * C.o.min_bin_width, fh = 1 - static_cast<double>(K) * C.o.min_bin_height;
    for (int64_t i = 0; i < K; ++i) {
      gw[K * e + i] = static_cast<T>(fw * sw[i] * (gwn[i] - dw));
      gh[K * e + i] = static_cast<T>(fh * sh[i] * (ghn[i] - dh));
    }
    for (int64_t t = 0; t < 2; ++t) {
      const int64_t j = k + t;  // D_j = m_d + softplus(raw_{j−1}) for 0 < j < K
      if (j > 0 && j < K) gd[(K - 1) * e + j - 1] += static_cast<T>(gD[t] * C.sd[(K - 1) * e + j - 1]);
    }
  }
  if (sink.needs(0)) sink.add(0, std::move(gx));
  if (sink.needs(1)) sink.add(1, std::move(gw));
  if (sink.needs(2)) sink.add(2, std::move(gh));
  if (sink.needs(3)) sink.add(3, std::move(gd));
}

template <typename T>
WithLogDet<T> run(const Var<T>& xin, const Var<T>& w, const Var<T>& h, const Var<T>& d, const RqSplineOptions& o,
                  bool inverse) {
  LZ_PROFILE_OP;
  const char* op = inverse ? "rq_spline_inverse" : "rq_spline";
  check_shapes(op, xin, w, h, d, o);
  auto C = std::make_shared<Cache>();
  const int64_t E = xin.numel(), K = w.shape().back();
  C->E = E;
  C->K = K;
  C->o = o;
  C->inverse = inverse;
  C->inside.assign(static_cast<size_t>(E), 0);
  C->bin.assign(static_cast<size_t>(E), 0);
  C->theta.assign(static_cast<size_t>(E), 0.0);
  C->local.assign(static_cast<size_t>(6 * E), 0.0);
  C->sw.assign(static_cast<size_t>(K * E), 0.0);
  C->sh.assign(static_cast<size_t>(K * E), 0.0);
  C->sd.assign(static_cast<size_t>((K - 1) * E), 0.0);
  const double B = o.tail_bound;
  const T *xv = xin.value().data(), *wv = w.value().data(), *hv = h.value().data(), *dv = d.value().data();
  Tensor<T> out = Tensor<T>::empty(xin.shape()), logd = Tensor<T>::zeros(xin.shape());
  std::vector<double> X(static_cast<size_t>(K + 1)), Y(static_cast<size_t>(K + 1)), D(static_cast<size_t>(K + 1));
  for (int64_t e = 0; e < E; ++e) {
    const double v = static_cast<double>(xv[e]);
    if (!(v >= -B && v <= B)) {  // a tail (or NaN): the identity, and nothing of the spline is computed
      out[e] = xv[e];
      continue;
    }
    C->inside[e] = 1;
    knots_of(wv + K * e, K, B, o.min_bin_width, &C->sw[K * e], X.data());
    knots_of(hv + K * e, K, B, o.min_bin_height, &C->sh[K * e], Y.data());
    D[0] = D[K] = 1;
    for (int64_t j = 1; j < K; ++j) {
      const double r = static_cast<double>(dv[(K - 1) * e + j - 1]);
      D[j] = o.min_derivative + math::softplus(r);
      C->sd[(K - 1) * e + j - 1] = math::sigmoid(r);
    }
    const int32_t k = bin_of(v, inverse ? Y.data() : X.data(), K);
    const double bw = X[k + 1] - X[k], bh = Y[k + 1] - Y[k], d0 = D[k], d1 = D[k + 1];
    double th;
    if (!inverse) {
      th = (v - X[k]) / bw;
    } else {
      const double s = bh / bw, r = v - Y[k], slope = d0 + d1 - 2 * s;
      const double qa = bh * (s - d0) + r * slope, qb = bh * d0 - r * slope, qc = -s * r;
      // At the bin's upper knot θ is 1 exactly; the root formula gives it only up to rounding times
      // the inverse's condition (bin slopes up to e^spread), which log D_K = 0 would carry.
      th = v >= Y[k + 1] ? 1.0 : 2 * qc / (-qb - std::sqrt(std::max(0.0, qb * qb - 4 * qa * qc)));
    }
    const Piece p(th, bw, bh, d0, d1);
    out[e] = static_cast<T>(inverse ? X[k] + th * bw : Y[k] + p.N / p.Dn);
    logd[e] = static_cast<T>(inverse ? -p.log_deriv() : p.log_deriv());
    C->bin[e] = k;
    C->theta[e] = th;
    double* L = &C->local[6 * e];
    L[0] = X[k], L[1] = bw, L[2] = Y[k], L[3] = bh, L[4] = d0, L[5] = d1;
  }
  const Shape xs = xin.shape(), ws = w.shape(), ds = d.shape();
  std::shared_ptr<const Cache> c = C;
  Var<T> y = Var<T>::record(std::move(out), {xin, w, h, d}, op, [c, xs, ws, ds](const Tensor<T>& g, GradSink<T>& s) {
    backprop<T>(*c, g.data(), nullptr, s, xs, ws, ds);
  });
  Var<T> l = Var<T>::record(std::move(logd), {xin, w, h, d}, inverse ? "rq_spline_inverse_log_det" : "rq_spline_log_det",
                            [c, xs, ws, ds](const Tensor<T>& g, GradSink<T>& s) {
                              backprop<T>(*c, nullptr, g.data(), s, xs, ws, ds);
                            });
  return {std::move(y), std::move(l)};
}

}  // namespace

template <typename T>
WithLogDet<T> rq_spline(const Var<T>& x, const Var<T>& widths, const Var<T>& heights, const Var<T>& derivatives,
                        const RqSplineOptions& o) {
  return run(x, widths, heights, derivatives, o, false);
}

template <typename T>
WithLogDet<T> rq_spline_inverse(const Var<T>& y, const Var<T>& widths, const Var<T>& heights,
                                const Var<T>& derivatives, const RqSplineOptions& o) {
  return run(y, widths, heights, derivatives, o, true);
}

#define LZ_INSTANTIATE(T)                                                                                  \
  template WithLogDet<T> rq_spline(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,             \
                                   const RqSplineOptions&);                                                \
  template WithLogDet<T> rq_spline_inverse(const Var<T>&, const Var<T>&, const Var<T>&, const Var<T>&,     \
                                           const RqSplineOptions&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)
#undef LZ_INSTANTIATE

}  // namespace lz
