// The fast E and M steps (models/gmm_steps.cpp, with and without screening) held to the steps
// written as the equations (models/gmm_reference.cpp) on every covariance type, the reference
// itself held to closed forms, and the comparison shown to catch a perturbed parameter.
#define BOOST_TEST_MODULE gmm_reference
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "models/gmm.hpp"
#include "models/gmm_reference.hpp"
#include "models/gmm_steps.hpp"
#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "thrown.hpp"

using namespace lz;
namespace ref = lz::gmm::reference;

namespace {

const CovarianceType kTypes[] = {CovarianceType::full, CovarianceType::tied, CovarianceType::diag,
                                 CovarianceType::spherical};
constexpr double kTol = 1e-10;
constexpr double kReg = 1e-4;  // large enough that a step adding it wrongly is off by far more than kTol

// max_i |a_i - b_i| / max(|b_i|, floor): relative where b_i is not small, absolute (scaled by
// floor) where it is, e.g. off-diagonal covariances near 0 or screened responsibilities.
double rel_err(const TensorD& a, const TensorD& b, double floor) {
  BOOST_REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), floor));
  return worst;
}
double max_abs(const TensorD& a) { return std::max(max_all(a), -max_all(scale(a, -1.0))); }

// N points from three full-covariance clusters in D dimensions, means N(0, spread² I).
TensorD make_data(int64_t D, int64_t N, double spread, uint64_t seed) {
  Rng rng(seed);
  GmmParams t;
  t.type = CovarianceType::full;
  t.weights = TensorD::from({0.5, 0.3, 0.2});
  t.means = TensorD::normal({3, D}, 0.0, spread, rng);
  t.covariances = TensorD::empty({3, D, D});
  for (int64_t k = 0; k < 3; ++k) {  // Σ = 0.3 I + A A^T / D: correlated, well conditioned
    const TensorD A = TensorD::normal({D, D}, 0.0, 1.0, rng);
    const TensorD S = scale(matmul(A, A, false, true), 1.0 / D);
    for (int64_t i = 0; i < D * D; ++i) t.covariances[k * D * D + i] = S[i] + (i % (D + 1) == 0 ? 0.3 : 0.0);
  }
  GmmOptions o;
  o.n_components = 3;
  GaussianMixture g(o);
  g.set_params(t);
  return g.sample(N, rng);
}

struct DataSet {
  std::string name;
  TensorD X;
};
// D = 1, 3, 16 as asked, and D = 40 because the E-step screens only from D = 32 on
// (gmm_screen.cpp's screen_rows); its spread puts many pairs 50-700 nats below their point's
// best, the ones screening zeroes although double still represents their r_nk.
const std::vector<DataSet>& data_sets() {
  static const std::vector<DataSet> sets = {{"D=1", make_data(1, 300, 3.0, 11)},
                                            {"D=3", make_data(3, 300, 2.0, 12)},
                                            {"D=16", make_data(16, 400, 1.0, 13)},
                                            {"D=40", make_data(40, 400, 0.8, 14)}};
  return sets;
}

// Realistic parameters: GaussianMixture's own start (k-means++, Lloyd, one M-step).
GmmParams start(const TensorD& X, CovarianceType type, int64_t K, uint64_t seed) {
  GmmOptions o;
  o.n_components = K;
  o.covariance_type = type;
  o.reg_covar = kReg;
  Rng rng(seed);
  return GaussianMixture(o).initialize(X, rng);
}

struct Fast {
  TensorD resp, log_px;  // resp as the reference lays it out, [N,K]
  double total;
};
// packed: with diag's panel copies of the points (gmm::pack_diag), as EM runs it.
Fast fast_e_step(const TensorD& X, const GmmParams& p, bool screen, bool packed = false) {
  gmm::Points x = gmm::points(X);
  if (packed) gmm::pack_diag(x);
  TensorD R = TensorD::empty({p.n_components(), x.N}), log_px = TensorD::empty({x.N});
  const double total = gmm::e_step(x, p, gmm::factorize(p), &R, &log_px, screen);
  return {transpose(R), log_px, total};
}
GmmParams fast_m_step(const TensorD& X, const TensorD& resp, CovarianceType type, double reg,
                      std::vector<double>* Nk = nullptr) {
  GmmParams p;
  p.type = type;
  const std::vector<double> n = gmm::m_step(gmm::points(X), transpose(resp), reg, p);
  if (Nk) *Nk = n;
  return p;
}

// The largest relative differences between a fast and a reference E-step.
struct EErr {
  double resp, log_px, total;
  double worst() const { return std::max({resp, log_px, total}); }
};
EErr e_err(const Fast& f, const ref::EStep& r) {
  // r below 1e-10 compared absolutely to 1e-20: screening zeroes those below 2e-22
  return {rel_err(f.resp, r.resp, 1e-10), rel_err(f.log_px, r.log_px, 1.0),
          std::abs(f.total - r.log_likelihood) / std::abs(r.log_likelihood)};
}
// ... and between two sets of parameters: covariances relative to their largest entry.
double param_err(const GmmParams& a, const GmmParams& b) {
  return std::max({rel_err(a.weights, b.weights, 0.0), rel_err(a.means, b.means, 1.0),
                   rel_err(a.covariances, b.covariances, max_abs(b.covariances))});
}

// Soft random responsibilities: every point shared by every component.
TensorD random_resp(int64_t N, int64_t K, uint64_t seed) {
  Rng rng(seed);
  const TensorD u = TensorD::uniform({N, K}, 0.05, 1.0, rng);
  return div(u, sum(u, 1, true));
}

}  // namespace

BOOST_AUTO_TEST_CASE(e_step_matches_the_reference_on_every_type_with_and_without_screening) {
  int64_t screened_pairs = 0;  // pairs screening zeroed that double still represents
  EErr worst{0, 0, 0};
  for (const DataSet& ds : data_sets())
    for (CovarianceType type : kTypes)
      for (int64_t K = 1; K <= 5; ++K) {
        const GmmParams p = start(ds.X, type, K, 100 + K);
        const ref::EStep r = ref::e_step(ds.X, p);
        for (bool screen : {false, true})
          for (bool packed : {false, true}) {
          if (packed && type != CovarianceType::diag) continue;
          const Fast f = fast_e_step(ds.X, p, screen, packed);
          const EErr e = e_err(f, r);
          worst = {std::max(worst.resp, e.resp), std::max(worst.log_px, e.log_px), std::max(worst.total, e.total)};
          BOOST_TEST_CONTEXT(ds.name << " " << to_string(type) << " K=" << K << " screen=" << screen
                                     << " packed=" << packed) {
            BOOST_TEST(e.resp < kTol);
            BOOST_TEST(e.log_px < kTol);
            BOOST_TEST(e.total < kTol);
          }
          if (screen)
            for (int64_t i = 0; i < r.resp.numel(); ++i) screened_pairs += f.resp[i] == 0 && r.resp[i] > 0;
          }
      }
  BOOST_TEST_MESSAGE("E-step, worst relative error: r " << worst.resp << ", log p(x_n) " << worst.log_px
                                                          << ", log-likelihood " << worst.total
                                                          << "; pairs zeroed by screening: " << screened_pairs);
  BOOST_TEST(screened_pairs > 100);  // else "screening on" tested nothing
}

BOOST_AUTO_TEST_CASE(m_step_matches_the_reference_on_every_type) {
  double worst[3] = {0, 0, 0};
  for (const DataSet& ds : data_sets())
    for (CovarianceType type : kTypes)
      for (int64_t K = 1; K <= 5; ++K) {
        const int64_t N = ds.X.size(0);
        // hard-ish responsibilities from an E-step, and soft random ones
        const TensorD from_e = ref::e_step(ds.X, start(ds.X, type, K, 200 + K)).resp;
        for (const TensorD& resp : {from_e, random_resp(N, K, 300 + K)}) {
          std::vector<double> Nk;
          const GmmParams f = fast_m_step(ds.X, resp, type, kReg, &Nk);
          const GmmParams r = ref::m_step(ds.X, resp, type, kReg);
          const double e[3] = {rel_err(f.weights, r.weights, 0.0), rel_err(f.means, r.means, 1.0),
                               rel_err(f.covariances, r.covariances, max_abs(r.covariances))};
          for (int i = 0; i < 3; ++i) worst[i] = std::max(worst[i], e[i]);
          BOOST_TEST_CONTEXT(ds.name << " " << to_string(type) << " K=" << K) {
            BOOST_TEST(e[0] < kTol);
            BOOST_TEST(e[1] < kTol);
            BOOST_TEST(e[2] < kTol);
            BOOST_TEST(rel_err(TensorD::from(Nk), sum(resp, 0), 0.0) < kTol);
          }
        }
      }
  BOOST_TEST_MESSAGE("M-step, worst relative error: weights " << worst[0] << ", means " << worst[1]
                                                              << ", covariances " << worst[2]);
}

// EM's M-step reads Σ_n r_kn x_n (and for diag/spherical Σ_n r_kn x_n²) from the E-step, which
// sums them block by block (gmm::e_step's `moments`): held to the reference M-step on the same
// responsibilities, with the points over several E-step blocks (4096 for diag) and two threads;
// diag also from its panel copies (gmm::pack_diag; 9001 points: the last panel holds one).
BOOST_AUTO_TEST_CASE(the_m_step_from_the_e_steps_moments_matches_the_reference) {
  const TensorD X = make_data(16, 9001, 1.0, 15);
  const gmm::Points x = gmm::points(X);
  gmm::Points xp = gmm::points(X);
  gmm::pack_diag(xp);
  BOOST_TEST(xp.packed());
  BOOST_TEST(!x.packed());
  for (int threads : {1, 2}) {
    set_threads(threads);
    for (CovarianceType type : kTypes)
      for (bool packed : {false, true}) {
      if (packed && type != CovarianceType::diag) continue;
      const GmmParams p = start(X, type, 3, 500);
      TensorD R = TensorD::empty({3, x.N});
      std::vector<double> moments;
      gmm::e_step(packed ? xp : x, p, gmm::factorize(p), &R, nullptr, true, &moments);
      BOOST_TEST(static_cast<int64_t>(moments.size()) == 3 * gmm::moment_width(type, 16));
      GmmParams f;
      f.type = type;
      gmm::m_step(x, R, kReg, f, {}, &moments);
      const GmmParams r = ref::m_step(X, transpose(R), type, kReg);
      BOOST_TEST_CONTEXT(to_string(type) << " threads=" << threads << " packed=" << packed) {
        BOOST_TEST(param_err(f, r) < kTol);
      }
      }
  }
  set_threads(1);
  std::vector<double> wrong(5, 0.0);  // moments of another shape are refused, not read past
  GmmParams f;
  f.type = CovarianceType::diag;
  BOOST_CHECK_THROW(gmm::m_step(x, TensorD::zeros({3, x.N}), kReg, f, {}, &wrong), std::logic_error);
}

BOOST_AUTO_TEST_CASE(em_iterations_agree) {
  double worst_ll_all = 0, worst_param = 0;
  for (const DataSet& ds : data_sets())
    for (CovarianceType type : kTypes) {
      const int64_t K = 4;
      GmmParams pf = start(ds.X, type, K, 400), pr = pf;
      double worst_ll = 0;
      for (int it = 0; it < 15; ++it) {
        const Fast f = fast_e_step(ds.X, pf, true);
        const ref::EStep r = ref::e_step(ds.X, pr);
        worst_ll = std::max(worst_ll, std::abs(f.total - r.log_likelihood) / std::abs(r.log_likelihood));
        pf = fast_m_step(ds.X, f.resp, type, kReg);
        pr = ref::m_step(ds.X, r.resp, type, kReg);
      }
      worst_ll_all = std::max(worst_ll_all, worst_ll);
      worst_param = std::max(worst_param, param_err(pf, pr));
      BOOST_TEST_CONTEXT(ds.name << " " << to_string(type)) {
        BOOST_TEST(worst_ll < kTol);
        // 15 iterations compound the rounding of each; still far below any real difference
        BOOST_TEST(param_err(pf, pr) < 1e-8);
      }
    }
  BOOST_TEST_MESSAGE("15 EM iterations, worst relative error: log-likelihood " << worst_ll_all << ", parameters "
                                                                               << worst_param);
}

// K = 1: r_n1 = 1, so the M-step is the sample mean and the biased sample covariance + reg_covar.
BOOST_AUTO_TEST_CASE(one_component_is_the_sample_mean_and_covariance) {
  const TensorD X = data_sets()[1].X;  // D = 3
  const int64_t N = X.size(0), D = X.size(1);
  std::vector<double> mean(D, 0.0), cov(D * D, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < D; ++i) mean[i] += X[n * D + i] / N;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < D; ++j) cov[i * D + j] += (X[n * D + i] - mean[i]) * (X[n * D + j] - mean[j]) / N;
  for (int64_t i = 0; i < D; ++i) cov[i * D + i] += kReg;

  const TensorD ones = TensorD::ones({N, 1});
  for (CovarianceType type : kTypes) {
    const GmmParams p = ref::m_step(X, ones, type, kReg);
    BOOST_TEST_CONTEXT(to_string(type)) {
      BOOST_TEST(p.weights[0] == 1.0, boost::test_tools::tolerance(1e-14));
      for (int64_t i = 0; i < D; ++i) BOOST_TEST(p.means[i] == mean[i], boost::test_tools::tolerance(1e-12));
      double trace = 0;
      for (int64_t i = 0; i < D; ++i) trace += cov[i * D + i];
      for (int64_t i = 0; i < D; ++i)
        for (int64_t j = 0; j < D; ++j) {
          double want = cov[i * D + j], got = 0;
          switch (type) {
            case CovarianceType::full: got = p.covariances[i * D + j]; break;
            case CovarianceType::tied: got = p.covariances[i * D + j]; break;
            case CovarianceType::diag:
              if (i != j) continue;
              got = p.covariances[i];
              break;
            case CovarianceType::spherical:
              if (i != j) continue;
              want = trace / D, got = p.covariances[0];
              break;
          }
          BOOST_TEST(got == want, boost::test_tools::tolerance(1e-12));
        }
    }
  }
  // and its E-step: every r_n1 = 1
  const ref::EStep e = ref::e_step(X, ref::m_step(X, ones, CovarianceType::full, kReg));
  BOOST_TEST(rel_err(e.resp, ones, 1.0) < 1e-15);
}

// The reference E-step against the textbook density with the explicit 2x2 inverse and determinant.
BOOST_AUTO_TEST_CASE(e_step_is_the_textbook_density_in_2d) {
  GmmParams p;
  p.weights = TensorD::from({0.3, 0.7});
  p.means = TensorD::from({-1.0, 0.5, 2.0, -0.5}, {2, 2});
  const TensorD X = TensorD::from({0.0, 0.0, -1.5, 1.0, 2.5, -1.0, 1.0, 3.0}, {4, 2});
  const TensorD covs[] = {TensorD::from({1.0, 0.6, 0.6, 2.0, 0.5, -0.2, -0.2, 1.5}, {2, 2, 2}),
                          TensorD::from({1.2, 0.3, 0.3, 0.8}, {2, 2}), TensorD::from({1.0, 2.0, 0.5, 1.5}, {2, 2}),
                          TensorD::from({0.7, 1.3})};
  for (CovarianceType type : kTypes) {
    p.type = type;
    p.covariances = covs[type == CovarianceType::full ? 0 : type == CovarianceType::tied ? 1
                         : type == CovarianceType::diag ? 2 : 3];
    const ref::EStep e = ref::e_step(X, p);
    for (int64_t n = 0; n < 4; ++n) {
      double dens[2];
      for (int64_t k = 0; k < 2; ++k) {
        double a, b, d;  // Σ_k = [[a b][b d]]
        const TensorD& c = p.covariances;
        switch (type) {
          case CovarianceType::full: a = c[k * 4], b = c[k * 4 + 1], d = c[k * 4 + 3]; break;
          case CovarianceType::tied: a = c[0], b = c[1], d = c[3]; break;
          case CovarianceType::diag: a = c[k * 2], b = 0, d = c[k * 2 + 1]; break;
          default: a = d = c[k], b = 0;
        }
        const double det = a * d - b * b, u = X[n * 2] - p.means[k * 2], v = X[n * 2 + 1] - p.means[k * 2 + 1];
        const double q = (d * u * u - 2 * b * u * v + a * v * v) / det;
        dens[k] = p.weights[k] * std::exp(-0.5 * q) / (2 * std::numbers::pi * std::sqrt(det));
      }
      BOOST_TEST_CONTEXT(to_string(type) << " n=" << n) {
        BOOST_TEST(e.log_px[n] == std::log(dens[0] + dens[1]), boost::test_tools::tolerance(1e-13));
        BOOST_TEST(e.resp[n * 2] == dens[0] / (dens[0] + dens[1]), boost::test_tools::tolerance(1e-13));
      }
    }
  }
}

// The comparisons above would catch a real error: a parameter moved by 1e-7 of itself, one
// responsibility moved by 1e-5, or reg_covar off by 1%, each shows well above kTol.
BOOST_AUTO_TEST_CASE(the_comparison_detects_a_perturbed_parameter) {
  const TensorD& X = data_sets()[2].X;  // D = 16
  const int64_t D = X.size(1), K = 3;
  double smallest = 1;
  for (CovarianceType type : kTypes) {
    BOOST_TEST_CONTEXT(to_string(type)) {
      const GmmParams p = start(X, type, K, 500);
      const ref::EStep r = ref::e_step(X, p);
      BOOST_TEST(e_err(fast_e_step(X, p, true), r).worst() < kTol);
      auto perturbed = [&](TensorD GmmParams::*field, int64_t i) {
        GmmParams q = p;
        q.*field = (p.*field).clone();
        (q.*field)[i] *= 1 + 1e-7;
        return e_err(fast_e_step(X, q, true), r).worst();
      };
      const GmmParams m = ref::m_step(X, r.resp, type, kReg);
      BOOST_TEST(param_err(fast_m_step(X, r.resp, type, kReg), m) < kTol);
      TensorD moved = r.resp.clone();
      moved[7 * K + 1] += 1e-5;
      const double caught[] = {perturbed(&GmmParams::weights, 1), perturbed(&GmmParams::means, D + 2),
                               perturbed(&GmmParams::covariances, 0),
                               param_err(fast_m_step(X, r.resp, type, kReg * 1.01), m),
                               param_err(fast_m_step(X, moved, type, kReg), m)};
      for (double e : caught) BOOST_TEST(e > 100 * kTol);
      smallest = std::min(smallest, *std::min_element(std::begin(caught), std::end(caught)));
    }
  }
  BOOST_TEST_MESSAGE("smallest error a perturbation showed: " << smallest);
}

BOOST_AUTO_TEST_CASE(bad_shapes_are_named) {
  const TensorD X = TensorD::zeros({5, 3});
  GmmParams p;
  p.type = CovarianceType::diag;
  p.weights = TensorD::from({0.5, 0.5});
  p.means = TensorD::zeros({2, 3});
  p.covariances = TensorD::ones({2, 2});
  BOOST_TEST(test::thrown_message([&] { ref::e_step(X, p); }) ==
             "gmm::reference: diag covariances expected shape [2,3], found [2,2]");
  BOOST_TEST(test::thrown_message([&] { ref::m_step(X, TensorD::ones({4, 2}), CovarianceType::full, kReg); }) ==
             "gmm::reference: resp expected [5,K], found [4,2]");
}
