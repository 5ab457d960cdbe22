// The mixture's four covariance constraints as policies, one type each (as mlpack's constraint
// classes): FullCov, DiagCov, SphericalCov, TiedCov. Internal to models/.
//
// CovarianceType stays the user-facing setting (flags, params.json, GmmParams::type). The fast
// path turns it into a policy once, at the top (with_policy below: the one switch over the
// type), and the E-step, M-step, EM loop and sampling are written once over the policy
// (gmm_steps.cpp, gmm.cpp). Everything that differs between the constraints is in its policy,
// defined together in gmm_covariance.cpp:
//   name, shape(K,D)       what GmmParams::covariances holds
//   n_parameters(K,D)      the free covariance parameters (bic, aic)
//   from_precisions(P)     covariances from scikit-learn's precisions (precisions_init)
//   factorize(p)           Factors: Cholesky via LAPACKE (full, tied), precisions (diag, spherical)
//   block(x, m)            points per E-step block
//   LogTerms               the E-step's block: lp[k,n] = log w_k + log N(x_n; μ_k, Σ_k)
//   m_step(sums)           the new covariances from the M-step's sums, with reg_covar
//   sample(p, f, k, z, s)  s = L_k z, for a draw x = μ_k + L_k z (z standard normal)
//   squares                the M-step needs Σ_n r_kn (x_n - c)² as well as Σ_n r_kn (x_n - c)
//   packs                  the E-step reads the data packed in panels (pack_diag)
//   screens                the E-step may screen out improbable pairs (gmm_screen.hpp)
//   per_component          one covariance per component (a re-seeded component takes the others' average)
// The readable steps (gmm_reference.cpp) keep their plain switch: they are the teaching form.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/gmm_screen.hpp"
#include "models/gmm_steps.hpp"

namespace lz::gmm {

// What every policy's LogTerms starts from, computed by the E-step once per call. Every formula
// works on centred points x - c and means μ - c: the densities are the same, and diag/spherical's
// expanded x² - 2xμ + μ² keeps its digits when data sit far from 0.
struct LogTermInputs {
  const Points& x;
  const GmmParams& p;
  const Factors& f;
  std::vector<double> bias;  // [K] log w_k - ½ D log 2π - ½ log|Σ_k|
  std::vector<double> M;     // [K,D] μ_k - c
  int64_t m = 0;             // full only: rows screened on (gmm_screen.hpp), 0 for none
  int64_t K = 0, D = 0;
};

// What every policy's m_step reads, from the M-step: the sums over this share of the points
// (add_shares adds them over every share, GmmOptions::sum) and the new centred means.
struct MStepSums {
  const Points& x;
  const TensorD& R;                 // [K,N] responsibilities
  const std::vector<double>& M;     // [K,D] μ_k - c (all shares)
  std::vector<double> V2;           // squares only: [K,D] Σ_n r_kn (x_nd - c_d)², this share's
  const std::vector<double>& nk;    // [K] N_k + 10 ε (all shares)
  double total = 0;                 // Σ_k nk
  double reg_covar = 0;
  const Sum& sum;
  int T = 1;                        // threads
  int64_t BR = 0;                   // points per block
  std::vector<double> add_shares(std::vector<double> v) const {
    if (sum) sum(v.data(), static_cast<int64_t>(v.size()));
    return v;
  }
};

// Σ_k = L_k L_k^T, one [D,D] per component.
struct FullCov {
  static constexpr CovarianceType type = CovarianceType::full;
  static constexpr const char* name = "full";
  static constexpr bool squares = false, packs = false, screens = true, per_component = true;
  static Shape shape(int64_t K, int64_t D) { return {K, D, D}; }
  static int64_t n_parameters(int64_t K, int64_t D) { return K * D * (D + 1) / 2; }
  static TensorD from_precisions(const TensorD& P);
  static Factors factorize(const GmmParams& p);
  static int64_t block(const Points& x, int64_t m);
  // ||L_k^{-1}(x - μ_k)||², one triangular solve per component, screened block by block.
  struct LogTerms {
    struct Scratch {
      std::vector<double> q;
      ScreenScratch screen;
      bool screen_block;  // decided block by block, from the last one (gmm_screen.hpp)
    };
    explicit LogTerms(LogTermInputs inputs) : in(std::move(inputs)) {}
    Scratch scratch(int64_t BR) const;
    void operator()(int64_t r0, int64_t B, double* lp, Scratch& s) const;
    LogTermInputs in;
  };
  static TensorD m_step(const MStepSums& s);
  static void sample(const GmmParams& p, const Factors& f, int64_t k, const double* z, double* s);
};

// One Σ = L L^T shared by every component.
struct TiedCov {
  static constexpr CovarianceType type = CovarianceType::tied;
  static constexpr const char* name = "tied";
  static constexpr bool squares = false, packs = false, screens = false, per_component = false;
  static Shape shape(int64_t, int64_t D) { return {D, D}; }
  static int64_t n_parameters(int64_t, int64_t D) { return D * (D + 1) / 2; }
  static TensorD from_precisions(const TensorD& P);
  static Factors factorize(const GmmParams& p);
  static int64_t block(const Points& x, int64_t m);
  // One solve for all components: ||L^{-1}(x-c) - L^{-1}(μ_k-c)||².
  struct LogTerms {
    struct Scratch {
      std::vector<double> Yt, q;
    };
    explicit LogTerms(LogTermInputs in);  // in.M becomes L^{-1}(μ_k - c)
    Scratch scratch(int64_t BR) const;
    void operator()(int64_t r0, int64_t B, double* lp, Scratch& s) const;
    LogTermInputs in;
  };
  static TensorD m_step(const MStepSums& s);
  static void sample(const GmmParams& p, const Factors& f, int64_t k, const double* z, double* s);
};

// Σ_k = diag(σ²_k1 .. σ²_kD).
struct DiagCov {
  static constexpr CovarianceType type = CovarianceType::diag;
  static constexpr const char* name = "diag";
  static constexpr bool squares = true, packs = true, screens = false, per_component = true;
  static Shape shape(int64_t K, int64_t D) { return {K, D}; }
  static int64_t n_parameters(int64_t K, int64_t D) { return K * D; }
  static TensorD from_precisions(const TensorD& P);
  static Factors factorize(const GmmParams& p);
  static int64_t block(const Points& x, int64_t m);
  // Σ_d P_kd (x_d - μ_kd)² = -2 (μ_k∘P_k)·x + P_k·(x∘x) + μ_k·P_k μ_k: one product per block.
  struct LogTerms {
    struct Scratch {};
    explicit LogTerms(LogTermInputs in);
    Scratch scratch(int64_t) const { return {}; }
    void operator()(int64_t r0, int64_t B, double* lp, Scratch& s) const;
    LogTermInputs in;
    std::vector<double> AP;    // [K,2D]: [-2 (μ_k-c)∘P_k | P_k] per row
    std::vector<double> bias;  // [K] in.bias - ½ Σ_d (μ_kd-c_d)² P_kd
  };
  static TensorD m_step(const MStepSums& s);
  static void sample(const GmmParams& p, const Factors& f, int64_t k, const double* z, double* s);
};

// Σ_k = σ²_k I.
struct SphericalCov {
  static constexpr CovarianceType type = CovarianceType::spherical;
  static constexpr const char* name = "spherical";
  static constexpr bool squares = true, packs = false, screens = false, per_component = true;
  static Shape shape(int64_t K, int64_t) { return {K}; }
  static int64_t n_parameters(int64_t K, int64_t) { return K; }
  static TensorD from_precisions(const TensorD& P);
  static Factors factorize(const GmmParams& p);
  static int64_t block(const Points& x, int64_t m);
  // P_k (||x||² - 2 μ_k·x + ||μ_k||²): one product per block.
  struct LogTerms {
    struct Scratch {
      std::vector<double> q;
    };
    explicit LogTerms(LogTermInputs in);
    Scratch scratch(int64_t BR) const { return {std::vector<double>(BR)}; }
    void operator()(int64_t r0, int64_t B, double* lp, Scratch& s) const;
    LogTermInputs in;
    std::vector<double> mm;  // [K] ||μ_k - c||²
  };
  static TensorD m_step(const MStepSums& s);
  static void sample(const GmmParams& p, const Factors& f, int64_t k, const double* z, double* s);
};

// fn(policy) for the policy of `type`: the one place the fast path switches on CovarianceType.
template <typename F>
auto with_policy(CovarianceType type, F&& fn) {
  switch (type) {
    case CovarianceType::full: return fn(FullCov{});
    case CovarianceType::diag: return fn(DiagCov{});
    case CovarianceType::spherical: return fn(SphericalCov{});
    case CovarianceType::tied: return fn(TiedCov{});
  }
  throw std::invalid_argument("covariance type " + std::to_string(static_cast<int>(type)) +
                              " is none of full, diag, spherical, tied");
}

// The steps of gmm_steps.hpp with the policy already chosen (GaussianMixture's EM loop
// dispatches once per fit); instantiated in gmm_steps.cpp for the four policies.
template <class Cov>
double e_step(Cov, const Points& x, const GmmParams& p, const Factors& f, TensorD* R, TensorD* log_px,
              bool screen = true, std::vector<double>* moments = nullptr);
template <class Cov>
std::vector<double> m_step(Cov, const Points& x, const TensorD& R, double reg_covar, GmmParams& p,
                           const Sum& sum = {}, const std::vector<double>* moments = nullptr);
template <class Cov>
int64_t moment_width(Cov, int64_t D) {
  return Cov::squares ? 2 * D : D;
}

}  // namespace lz::gmm
