#include "models/gmm_sgd.hpp"

#include <chrono>
#include <limits>
#include <cmath>
#include <stdexcept>

#include "autodiff/ops.hpp"
#include "models/gmm_steps.hpp"
#include "nn/optim.hpp"
#include "tensor/math.hpp"

namespace lz {

VarD gmm_mean_log_likelihood(const TensorD& X, const VarD& logits, const VarD& means, const VarD& off,
                             const VarD& log_diag) {
  const int64_t N = X.size(0), D = X.size(1), K = means.size(0);
  const VarD x(X.reshape({1, N, D}));
  const VarD diff = x - reshape(means, {K, 1, D});  // [K,N,D]
  VarD maha;                                        // [K,N]: ||L_k^{-1}(x_n - μ_k)||²
  if (off.defined()) {
    TensorD eye({D, D}), strict({D, D});
    for (int64_t i = 0; i < D; ++i) {
      eye[i * D + i] = 1.0;
      for (int64_t j = 0; j < i; ++j) strict[i * D + j] = 1.0;
    }
    const VarD L = off * VarD(strict) + reshape(exp(log_diag), {K, D, 1}) * VarD(eye);  // [K,D,D]
    maha = sum(square(tri_solve_rows(L, diff)), 2);
  } else {
    maha = sum(square(diff * reshape(exp(-log_diag), {K, 1, D})), 2);
  }
  const VarD log_norm = sum(log_diag, 1, true) + 0.5 * static_cast<double>(D) * math::kLog2Pi;  // [K,1]
  const VarD lp = reshape(log_softmax(logits, 0), {K, 1}) - 0.5 * maha - log_norm;      // [K,N]
  return mean(logsumexp(lp, 0));
}

GmmGradientAscent::GmmGradientAscent(GmmSgdOptions opt) : opt_(opt) {
  if (opt_.covariance_type != CovarianceType::full && opt_.covariance_type != CovarianceType::diag)
    throw std::invalid_argument(std::string("gradient ascent: covariance_type must be full or diag, found ") +
                                to_string(opt_.covariance_type));
  if (opt_.steps < 1) throw std::invalid_argument("gradient ascent: steps must be >= 1");
  if (!(opt_.lr > 0)) throw std::invalid_argument("gradient ascent: lr must be > 0");
}

const GmmSgdReport& GmmGradientAscent::fit_from(const TensorD& X, const GmmParams& init) {
  if (init.type != opt_.covariance_type)
    throw std::invalid_argument(std::string("gradient ascent: initial parameters are ") + to_string(init.type) +
                                " but covariance_type is " + to_string(opt_.covariance_type));
  if (X.dim() != 2 || X.size(1) != init.n_features())
    throw ShapeError("gradient ascent: expected X [N," + std::to_string(init.n_features()) + "], found " +
                     shape_str(X.shape()));
  const int64_t K = init.n_components(), D = init.n_features();
  logits_ = VarD(map(init.weights, [](auto w) {
                   using std::log;
                   using xsimd::log;
                   return log(w);
                 }),
                 true);
  means_ = VarD(init.means.clone(), true);
  TensorD ld({K, D});
  if (opt_.covariance_type == CovarianceType::full) {
    const gmm::Factors f = gmm::factorize(init);  // Σ = L L^T: off-diagonal of L, log of its diagonal
    TensorD off = f.chol.clone();
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < D; ++i) {
        ld[k * D + i] = std::log(off[(k * D + i) * D + i]);
        off[(k * D + i) * D + i] = 0;
      }
    off_ = VarD(off, true);
  } else {
    for (int64_t i = 0; i < K * D; ++i) ld[i] = 0.5 * std::log(init.covariances[i]);
    off_ = VarD();
  }
  log_diag_ = VarD(ld, true);
  std::vector<VarD> params = {logits_, means_, log_diag_};
  if (off_.defined()) params.push_back(off_);
  AdamOptions ao;
  ao.lr = opt_.lr;
  Adam<double> adam(params, ao);

  report_ = {};
  const auto t0 = std::chrono::steady_clock::now();
  double prev = -std::numeric_limits<double>::infinity();
  for (int step = 1; step <= opt_.steps; ++step) {
    adam.zero_grad();
    const VarD ll = gmm_mean_log_likelihood(X, logits_, means_, off_, log_diag_);
    const double v = ll.item();
    if (!std::isfinite(v))
      throw std::runtime_error("gradient ascent: mean log-likelihood is " + std::to_string(v) + " at step " +
                               std::to_string(step) + "; lower lr");
    neg(ll).backward();  // Adam minimises: ascend the likelihood by descending its negative
    adam.step();
    report_.log_likelihood.push_back(v);
    report_.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    report_.steps = step;
    if (opt_.tol > 0 && std::abs(v - prev) < opt_.tol) break;
    prev = v;
  }
  NoGrad ng;
  report_.final_log_likelihood = gmm_mean_log_likelihood(X, logits_, means_, off_, log_diag_).item();
  return report_;
}

GmmParams GmmGradientAscent::params() const {
  if (!means_.defined()) throw std::logic_error("GmmGradientAscent::params: not fitted (call fit_from first)");
  const int64_t K = means_.size(0), D = means_.size(1);
  GmmParams p;
  p.type = opt_.covariance_type;
  p.means = means_.value().clone();
  p.weights = TensorD::empty({K});
  const double m = max_all(logits_.value());
  double s = 0;
  for (int64_t k = 0; k < K; ++k) s += (p.weights[k] = std::exp(logits_.value()[k] - m));
  for (int64_t k = 0; k < K; ++k) p.weights[k] /= s;
  const TensorD& ld = log_diag_.value();
  if (!off_.defined()) {  // diag: Σ_k = diag(exp(2 log_diag_k))
    p.covariances = map(ld, [](auto v) {
      using std::exp;
      using xsimd::exp;
      return exp(2.0 * v);
    });
    return p;
  }
  p.covariances = TensorD({K, D, D});
  const TensorD& off = off_.value();
  auto Lij = [&](int64_t k, int64_t i, int64_t j) {
    return i == j ? std::exp(ld[k * D + i]) : (j < i ? off[(k * D + i) * D + j] : 0.0);
  };
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < D; ++j) {
        double v = 0;
        for (int64_t l = 0; l <= std::min(i, j); ++l) v += Lij(k, i, l) * Lij(k, j, l);
        p.covariances[(k * D + i) * D + j] = v;
      }
  return p;
}

}  // namespace lz
