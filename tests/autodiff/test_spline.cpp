// The rational-quadratic spline op at its edges (the gradient check is in test_ops_gradcheck.cpp):
// inputs exactly at ±B, exactly on every knot and far in the tails give finite values and finite
// gradients, the tails are the identity with log-derivative 0, the knots land where the formulas put
// them, the stable inverse undoes the forward even for extreme bins, and zero raw values with the
// derivative offset are the identity.
#define BOOST_TEST_MODULE spline
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "autodiff/ops.hpp"
#include "thrown.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {

constexpr double kB = 3.0;
constexpr int64_t kK = 6;

// The knots of one element by the formulas (not the op's code): X_0 = −B, X_j = −B + 2B Σ_{i<j} wn_i.
std::vector<double> knots(const double* raw, double min_bin) {
  double mx = raw[0], z = 0;
  for (int64_t i = 1; i < kK; ++i) mx = std::max(mx, raw[i]);
  for (int64_t i = 0; i < kK; ++i) z += std::exp(raw[i] - mx);
  std::vector<double> k{-kB};
  double cum = 0;
  for (int64_t i = 0; i < kK - 1; ++i) {
    cum += min_bin + (1 - min_bin * kK) * std::exp(raw[i] - mx) / z;
    k.push_back(-kB + 2 * kB * cum);
  }
  k.push_back(kB);
  return k;
}

struct Raw {
  TensorD w, h, d;
};

// One row of raw values, uneven on purpose.
Raw raw_row(Rng& rng, double spread) {
  return {TensorD::normal({kK}, 0, spread, rng), TensorD::normal({kK}, 0, spread, rng),
          TensorD::normal({kK - 1}, 0, spread, rng)};
}

// E elements sharing `one` (copied out, as a coupling's net would give them).
Raw replicate(const Raw& one, int64_t E) {
  Raw r{TensorD({E, kK}), TensorD({E, kK}), TensorD({E, kK - 1})};
  for (int64_t e = 0; e < E; ++e) {
    for (int64_t i = 0; i < kK; ++i) r.w[e * kK + i] = one.w[i], r.h[e * kK + i] = one.h[i];
    for (int64_t i = 0; i < kK - 1; ++i) r.d[e * (kK - 1) + i] = one.d[i];
  }
  return r;
}

Raw raw_for(int64_t E, Rng& rng, double spread) { return replicate(raw_row(rng, spread), E); }

bool finite(const TensorD& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t[i])) return false;
  return true;
}

struct Run {
  TensorD out, logd, gx, gw, gh, gd;
};

// Values and the gradients of Σ out + Σ log-derivative with respect to every input.
Run run(const TensorD& x, const Raw& r, bool inverse) {
  VarD xv(x, true), wv(r.w, true), hv(r.h, true), dv(r.d, true);
  const RqSplineOptions o{.tail_bound = kB};
  const WithLogDet<double> s = inverse ? rq_spline_inverse(xv, wv, hv, dv, o) : rq_spline(xv, wv, hv, dv, o);
  (sum(s.out) + sum(s.log_abs_det)).backward();
  return {s.out.value(), s.log_abs_det.value(), xv.grad(), wv.grad(), hv.grad(), dv.grad()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(bounds_knots_and_tails_give_finite_values_and_gradients) {
  Rng rng(1);
  for (double spread : {0.5, 4.0}) {
    const Raw probe = raw_row(rng, spread);
    const std::vector<double> X = knots(probe.w.data(), 1e-3), Y = knots(probe.h.data(), 1e-3);
    const double inf = std::numeric_limits<double>::infinity();
    // every knot (both ends included), just outside both ends, far tails
    std::vector<double> xs(X.begin(), X.end());
    for (double v : {std::nextafter(kB, inf), std::nextafter(-kB, -inf), 5.0, -40.0, 1e6, -1e300}) xs.push_back(v);
    for (bool inverse : {false, true}) {
      std::vector<double> in = xs;
      if (inverse) std::copy(Y.begin(), Y.end(), in.begin());  // the knots of the inverse are the Y_j
      const int64_t E = static_cast<int64_t>(in.size());
      const Run o = run(TensorD::from(in), replicate(probe, E), inverse);
      BOOST_TEST_CONTEXT("spread " << spread << (inverse ? " inverse" : " forward")) {
        BOOST_TEST(finite(o.out));
        BOOST_TEST(finite(o.logd));
        BOOST_TEST(finite(o.gx));
        BOOST_TEST(finite(o.gw));
        BOOST_TEST(finite(o.gh));
        BOOST_TEST(finite(o.gd));
        // On knot j the spline passes through the other knot, with derivative D_j: log D_j; D_0 = D_K = 1.
        for (int64_t j = 0; j <= kK; ++j) {
          const double want = inverse ? X[j] : Y[j];
          BOOST_TEST(o.out[j] == want, tt::tolerance(1e-12));
          const double Dj = (j == 0 || j == kK) ? 1.0 : 1e-3 + std::log1p(std::exp(probe.d[j - 1]));
          BOOST_TEST(o.logd[j] == (inverse ? -1 : 1) * std::log(Dj), tt::tolerance(1e-9));
        }
        // log D_0 = log D_K = 0 to rounding: the inverse puts θ at exactly 0 and 1 on its bin's
        // knots (the quadratic's root alone missed 1 by rounding times the bin slopes, up to e^4
        // here: 2.8e-12 in the unoptimised build).
        BOOST_TEST(std::abs(o.logd[0]) < 1e-13);
        BOOST_TEST(std::abs(o.logd[kK]) < 1e-13);
        // Tails: exactly the identity, log-derivative exactly 0, gradient 1 to x and 0 to the raw values.
        for (int64_t e = kK + 1; e < E; ++e) {
          BOOST_TEST(o.out[e] == in[e]);
          BOOST_TEST(o.logd[e] == 0.0);
          BOOST_TEST(o.gx[e] == 1.0);
          for (int64_t i = 0; i < kK; ++i) BOOST_TEST(o.gw[e * kK + i] == 0.0);
          for (int64_t i = 0; i < kK - 1; ++i) BOOST_TEST(o.gd[e * (kK - 1) + i] == 0.0);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(value_and_slope_are_continuous_across_the_bounds) {
  // Just inside and just outside ±B: the same value and the same log-derivative (0), to first order.
  Rng rng(2);
  const Raw r = raw_for(4, rng, 2.0);
  const double h = 1e-9;
  const Run o = run(TensorD::from({kB - h, kB + h, -kB + h, -kB - h}), r, false);
  for (int64_t i = 0; i < 4; i += 2) {
    BOOST_TEST(std::abs(o.out[i] - o.out[i + 1]) < 3 * h);
    BOOST_TEST(std::abs(o.logd[i]) < 1e-6);  // slope e^0 = 1 on both sides
  }
}

BOOST_AUTO_TEST_CASE(inverse_undoes_forward_for_extreme_bins) {
  // Raw values of spread 6 give bins of width ~1e-3 next to wide ones and derivatives from 1e-3 to
  // ~e^6: the stable root keeps the round trip at rounding times the inverse's condition, where
  // (−b + √·)/2a would lose digits wherever b² >> |4ac|.
  Rng rng(3);
  for (double spread : {1.0, 6.0}) {
    const int64_t E = 400;
    const Raw r = raw_for(E, rng, spread);
    TensorD x = TensorD::uniform({E}, -kB * 1.2, kB * 1.2, rng);
    const RqSplineOptions o{.tail_bound = kB};
    const WithLogDet<double> f = rq_spline(VarD(x), VarD(r.w), VarD(r.h), VarD(r.d), o);
    const WithLogDet<double> b = rq_spline_inverse(f.out, VarD(r.w), VarD(r.h), VarD(r.d), o);
    // The error allowed is rounding times the condition of the inverse, max(1, dx/dy).
    double worst = 0, worst_ld = 0;
    for (int64_t e = 0; e < E; ++e) {
      const double cond = std::max(1.0, std::exp(-f.log_abs_det.value()[e]));
      worst = std::max(worst, std::abs(b.out.value()[e] - x[e]) / cond);
      worst_ld = std::max(worst_ld, std::abs(b.log_abs_det.value()[e] + f.log_abs_det.value()[e]));
    }
    BOOST_TEST(worst < 1e-13, "spread " << spread << ": round trip error / condition " << worst);
    BOOST_TEST(worst_ld < 1e-8, "spread " << spread << ": log-derivatives do not cancel by " << worst_ld);
  }
}

BOOST_AUTO_TEST_CASE(zero_raw_values_with_the_derivative_offset_are_the_identity) {
  // Uniform bins (zero raw widths and heights) and D_j = 1 (raw = log(e^{1−m} − 1)): s = d0 = d1 = 1,
  // so y = Y_k + h θ = x and the quadratic's a is 0: the inverse's stable form still divides by nothing.
  const double c = std::log(std::expm1(1 - 1e-3));
  TensorD d({5, kK - 1}, c);
  const TensorD x = TensorD::from({-3.0, -1.7, 0.0, 0.49, 3.0});
  for (bool inverse : {false, true}) {
    const Run o = run(x, Raw{TensorD::zeros({5, kK}), TensorD::zeros({5, kK}), d}, inverse);
    for (int64_t e = 0; e < 5; ++e) {
      BOOST_TEST(o.out[e] == x[e], tt::tolerance(1e-14));
      BOOST_TEST(std::abs(o.logd[e]) < 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(float_edges_are_finite) {
  Rng rng(4);
  const float B = 3.0f;
  const TensorF x = TensorF::from({-B, B, -B - 1e-6f, B + 1e-6f, 0.0f, 1e30f, -1e30f, 2.999999f});
  const TensorF w = TensorF::normal({8, kK}, 0, 5, rng), h = TensorF::normal({8, kK}, 0, 5, rng),
                d = TensorF::normal({8, kK - 1}, 0, 5, rng);
  for (bool inverse : {false, true}) {
    VarF xv(x, true), wv(w, true), hv(h, true), dv(d, true);
    const WithLogDet<float> s = inverse ? rq_spline_inverse(xv, wv, hv, dv) : rq_spline(xv, wv, hv, dv);
    (sum(s.out) + sum(s.log_abs_det)).backward();
    for (const TensorF* t : {&s.out.value(), &s.log_abs_det.value(), &xv.grad(), &wv.grad(), &hv.grad(), &dv.grad()})
      for (int64_t i = 0; i < t->numel(); ++i) BOOST_TEST(std::isfinite((*t)[i]), "element " << i);
  }
}

BOOST_AUTO_TEST_CASE(bad_shapes_and_options_are_named) {
  const VarD x(TensorD::zeros({2, 3}));
  const std::string m = test::thrown_message([&] {
    rq_spline(x, VarD(TensorD::zeros({2, 3, 4})), VarD(TensorD::zeros({2, 3, 4})), VarD(TensorD::zeros({2, 3, 4})));
  });
  BOOST_TEST(m == "rq_spline: expected x [...] with widths, heights [..., K] and derivatives [..., K-1], got x [2,3], "
                  "widths [2,3,4], heights [2,3,4], derivatives [2,3,4]");
  const std::string b = test::thrown_message([&] {
    rq_spline_inverse(x, VarD(TensorD::zeros({2, 3, 4})), VarD(TensorD::zeros({2, 3, 4})),
                      VarD(TensorD::zeros({2, 3, 3})), {.tail_bound = 1.0, .min_bin_width = 0.3});
  });
  BOOST_TEST(b.find("rq_spline_inverse: needs tail_bound > 0, minimum bin sizes in [0, 1/K) for K = 4") == 0u, b);
}
