// The checks every Transform passes (tests/models/test_transforms.cpp runs them over its
// registry). Each returns a CheckResult instead of asserting, so that a test can also show that a
// deliberately wrong transform fails them.
//
//   check_round_trip      inverse(forward(x)) = x and forward(inverse(x)) = x
//   check_log_dets_cancel forward log-det + inverse log-det at the image = 0, both ways round
//   check_log_det_jacobian the full [N·D, N·D] Jacobian by autodiff (one backward per output
//                         element): zero between different rows, and log|det| of each row's
//                         [D, D] block (LU, partial pivoting) equal to the reported log-det
//   check_log_det_by_differences  the same per-row log|det J| from a Jacobian taken by central
//                         differences of the map's values alone (no autodiff), through forward
//                         and through inverse
//   check_gradients       central differences against one backward, w.r.t. x, c and every
//                         parameter, through forward and through inverse
#pragma once

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "models/transform.hpp"

namespace lz::test {

struct CheckResult {
  bool ok = true;
  std::string message;
  explicit operator bool() const { return ok; }
};

inline CheckResult fail(const std::string& m) { return {false, m}; }

// log|det A| of a row-major n x n matrix by LU with partial pivoting; -inf if A is singular.
inline double log_abs_det(std::vector<double> a, int64_t n) {
  double acc = 0;
  for (int64_t k = 0; k < n; ++k) {
    int64_t p = k;
    for (int64_t i = k + 1; i < n; ++i)
      if (std::abs(a[i * n + k]) > std::abs(a[p * n + k])) p = i;
    if (a[p * n + k] == 0.0) return -INFINITY;
    if (p != k)
      for (int64_t j = 0; j < n; ++j) std::swap(a[k * n + j], a[p * n + j]);
    acc += std::log(std::abs(a[k * n + k]));
    for (int64_t i = k + 1; i < n; ++i) {
      const double f = a[i * n + k] / a[k * n + k];
      for (int64_t j = k; j < n; ++j) a[i * n + j] -= f * a[k * n + j];
    }
  }
  return acc;
}

// Moves every parameter away from its (often identity) initialisation, so no check passes
// because a scale happens to be 1 or a shift 0.
template <typename T>
void perturb_parameters(Module<T>& m, Rng& rng, double scale = 0.5) {
  for (auto& [name, p] : m.named_parameters())
    for (int64_t i = 0; i < p.numel(); ++i) p.value_mut()[i] += static_cast<T>(scale * rng.normal());
}

template <typename T>
Var<T> maybe(const Tensor<T>& c) {
  return c.defined() ? Var<T>(c) : Var<T>();
}

// |a - b| <= tol (1 + |b|) elementwise; on failure names the first bad element.
template <typename T>
CheckResult close(const Tensor<T>& a, const Tensor<T>& b, double tol, const std::string& what) {
  if (a.shape() != b.shape()) return fail(what + ": shape " + shape_str(a.shape()) + " vs " + shape_str(b.shape()));
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (!(d <= tol * (1 + std::abs(static_cast<double>(b[i]))))) {
      std::ostringstream m;
      m.precision(17);
      m << what << ": element " << i << " is " << a[i] << ", expected " << b[i] << " (|diff| " << d << " > tol "
        << tol << ")";
      return fail(m.str());
    }
  }
  return {};
}

template <typename T>
CheckResult check_round_trip(Transform<T>& t, const Tensor<T>& x, const Tensor<T>& c, double tol) {
  NoGrad ng;
  const Var<T> cv = maybe(c);
  const Tensor<T> fx = t.inverse(t.forward(Var<T>(x), cv).out, cv).out.value();
  if (auto r = close(fx, x, tol, "inverse(forward(x)) vs x"); !r) return r;
  const Tensor<T> xf = t.forward(t.inverse(Var<T>(x), cv).out, cv).out.value();
  return close(xf, x, tol, "forward(inverse(x)) vs x");
}

// a + b = 0 within tol (1 + |a|) elementwise.
template <typename T>
CheckResult cancel(const Tensor<T>& a, const Tensor<T>& b, double tol, const std::string& what) {
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double s = static_cast<double>(a[i]) + static_cast<double>(b[i]);
    if (!(std::abs(s) <= tol * (1 + std::abs(static_cast<double>(a[i]))))) {
      std::ostringstream m;
      m.precision(17);
      m << what << ": row " << i << " gives " << a[i] << " + " << b[i] << " = " << s << " (tol " << tol << ")";
      return fail(m.str());
    }
  }
  return {};
}

template <typename T>
CheckResult check_log_dets_cancel(Transform<T>& t, const Tensor<T>& x, const Tensor<T>& c, double tol) {
  NoGrad ng;
  const Var<T> cv = maybe(c);
  const TransformOut<T> f = t.forward(Var<T>(x), cv);
  const Tensor<T> back = t.inverse(f.out, cv).log_det.value();
  if (auto r = cancel(f.log_det.value(), back, tol, "forward log-det at x + inverse log-det at forward(x)"); !r)
    return r;
  const TransformOut<T> i = t.inverse(Var<T>(x), cv);
  const Tensor<T> fwd = t.forward(i.out, cv).log_det.value();
  return cancel(i.log_det.value(), fwd, tol, "inverse log-det at x + forward log-det at inverse(x)");
}

inline CheckResult check_log_det_jacobian(Transform<double>& t, const TensorD& x, const TensorD& c,
                                          double tol = 1e-8) {
  const int64_t n = x.size(0), d = x.size(1), nd = n * d;
  const VarD cv = maybe(c);
  std::vector<double> jac(static_cast<size_t>(nd * nd));  // jac[r][s] = ∂y_r / ∂x_s, flat row-major indices
  TensorD log_det;
  for (int64_t r = 0; r < nd; ++r) {
    const VarD xv(x.clone(), true);
    const TransformOut<double> f = t.forward(xv, cv);
    if (r == 0) log_det = f.log_det.value().clone();
    if (!f.out.requires_grad()) return fail("forward output does not depend on x through the graph");
    TensorD seed({n, d});
    seed[r] = 1;
    f.out.backward(seed);
    if (xv.grad().defined())
      for (int64_t s = 0; s < nd; ++s) jac[r * nd + s] = xv.grad()[s];
  }
  t.zero_grad();
  std::ostringstream m;
  m.precision(17);
  for (int64_t r = 0; r < nd; ++r)
    for (int64_t s = 0; s < nd; ++s)
      if (r / d != s / d && !(std::abs(jac[r * nd + s]) <= tol)) {
        m << "row " << r / d << " of y depends on row " << s / d << " of x (dy[" << r / d << "," << r % d
          << "]/dx[" << s / d << "," << s % d << "] = " << jac[r * nd + s]
          << "): a per-row log-det does not describe this map";
        return fail(m.str());
      }
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> block(static_cast<size_t>(d * d));
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b) block[a * d + b] = jac[(i * d + a) * nd + (i * d + b)];
    const double want = log_abs_det(block, d);
    if (!(std::abs(log_det[i] - want) <= tol * (1 + std::abs(want)))) {
      m << "row " << i << ": forward log-det " << log_det[i] << " but log|det J| of the autodiff Jacobian is "
        << want << " (|diff| " << std::abs(log_det[i] - want) << " > tol " << tol << ")";
      return fail(m.str());
    }
  }
  return {};
}

// log|det ∂y/∂x| of each row, from central differences of the map (forward, or with `inverse` the
// inverse) with no graph: perturb x[i, b] by ±eps, read y[i, :]. Independent of autodiff, so a VJP
// and a log-det that are wrong together cannot agree here.
inline CheckResult check_log_det_by_differences(Transform<double>& t, const TensorD& x, const TensorD& c,
                                                bool inverse, double eps = 1e-6, double tol = 1e-6) {
  NoGrad ng;
  const int64_t n = x.size(0), d = x.size(1);
  const VarD cv = maybe(c);
  auto map = [&](const TensorD& at) { return inverse ? t.inverse(VarD(at), cv) : t.forward(VarD(at), cv); };
  const TensorD log_det = map(x).log_det.value().clone();
  std::vector<double> jac(static_cast<size_t>(n * d * d));  // jac[i][a][b] = ∂y[i,a] / ∂x[i,b]
  for (int64_t b = 0; b < d; ++b) {
    TensorD xp = x.clone(), xm = x.clone();
    for (int64_t i = 0; i < n; ++i) xp[i * d + b] += eps, xm[i * d + b] -= eps;
    const TensorD yp = map(xp).out.value(), ym = map(xm).out.value();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t a = 0; a < d; ++a) jac[(i * d + a) * d + b] = (yp[i * d + a] - ym[i * d + a]) / (2 * eps);
  }
  std::ostringstream m;
  m.precision(17);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<double> block(jac.begin() + i * d * d, jac.begin() + (i + 1) * d * d);
    const double want = log_abs_det(block, d);
    if (!(std::abs(log_det[i] - want) <= tol * (1 + std::abs(want)))) {
      m << "row " << i << ": " << (inverse ? "inverse" : "forward") << " log-det " << log_det[i]
        << " but log|det J| of the finite-difference Jacobian is " << want << " (|diff| " << std::abs(log_det[i] - want)
        << " > tol " << tol << ")";
      return fail(m.str());
    }
  }
  return {};
}

// <v, [out | log_det]> for a fixed random v, so the check covers the whole VJP of both outputs.
inline CheckResult check_gradients(Transform<double>& t, const TensorD& x0, const TensorD& c0, bool inverse,
                                   const GradcheckOptions& opt = {}) {
  const char* dir = inverse ? "inverse" : "forward";
  TensorD x = x0.clone(), c = c0.defined() ? c0.clone() : TensorD();
  auto eval = [&](const VarD& xv, const VarD& cv) {
    const TransformOut<double> r = inverse ? t.inverse(xv, cv) : t.forward(xv, cv);
    return concat<double>({r.out, reshape(r.log_det, {-1, 1})}, 1);
  };
  Rng rng(opt.seed);
  const TensorD v = TensorD::normal({x.size(0), x.size(1) + 1}, 0, 1, rng);
  auto objective = [&] {
    NoGrad ng;
    const TensorD o = eval(VarD(x), maybe(c)).value();
    double acc = 0;
    for (int64_t i = 0; i < o.numel(); ++i) acc += v[i] * o[i];
    return acc;
  };

  // Analytic, one backward; then every element of every input perturbed in place.
  t.zero_grad();
  const VarD xv(x, true), cv = c.defined() ? VarD(c, true) : VarD();
  eval(xv, cv).backward(v);
  struct Input {
    std::string name;
    Tensor<double>* value;
    TensorD grad;
  };
  std::vector<Input> inputs{{inverse ? "y" : "x", &x, xv.grad()}};
  if (c.defined()) inputs.push_back({"c", &c, cv.grad()});
  for (auto& [name, p] : t.named_parameters()) inputs.push_back({name, &p.value_mut(), p.grad()});
  for (auto& in : inputs) {
    if (in.grad.defined()) in.grad = in.grad.clone();
    for (int64_t i = 0; i < in.value->numel(); ++i) {
      double& e = (*in.value)[i];
      const double e0 = e;
      e = e0 + opt.eps;
      const double fp = objective();
      e = e0 - opt.eps;
      const double fm = objective();
      e = e0;
      const double numeric = (fp - fm) / (2 * opt.eps), analytic = in.grad.defined() ? in.grad[i] : 0.0;
      if (!(std::abs(analytic - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) {
        std::ostringstream m;
        m.precision(10);
        m << "gradient through " << dir << " w.r.t. " << in.name << " element " << i << ": analytic " << analytic
          << " vs numeric " << numeric << (in.grad.defined() ? "" : " (no gradient arrived)");
        t.zero_grad();
        return fail(m.str());
      }
    }
  }
  t.zero_grad();
  return {};
}

}  // namespace lz::test
