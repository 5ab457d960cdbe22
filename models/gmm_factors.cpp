// The covariances' factors, computed once per parameter update (gmm_steps.hpp's Factors):
// a LAPACK Cholesky for full and tied covariances, the precisions for diag and spherical.
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "models/gmm_blas.hpp"
#include "models/gmm_steps.hpp"

namespace lz::gmm {

TensorD cholesky(const TensorD& a, const std::string& what) {
  const int64_t D = a.size(0);
  TensorD L = a.clone();
  const lapack_int info =
      LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', static_cast<lapack_int>(D), L.data(), static_cast<lapack_int>(D));
  if (info != 0)
    throw std::invalid_argument(what + ": covariance is not positive definite (LAPACKE_dpotrf info=" +
                                std::to_string(info) + "); increase reg_covar or check the data");
  for (int64_t i = 0; i < D; ++i)
    for (int64_t j = i + 1; j < D; ++j) L[i * D + j] = 0.0;
  return L;
}

Factors factorize(const GmmParams& p) {
  const SerialBlas serial;
  const int64_t K = p.n_components(), D = p.n_features();
  Factors f;
  f.half_logdet.assign(K, 0.0);
  auto half_logdet_of = [D](const double* L) {
    double s = 0;
    for (int64_t i = 0; i < D; ++i) s += std::log(L[i * D + i]);
    return s;
  };
  switch (p.type) {
    case CovarianceType::full:
      f.chol = TensorD::empty({K, D, D});
      for (int64_t k = 0; k < K; ++k) {
        TensorD Sk = TensorD::empty({D, D});
        std::copy(p.covariances.data() + k * D * D, p.covariances.data() + (k + 1) * D * D, Sk.data());
        const TensorD L = cholesky(Sk, "component " + std::to_string(k));
        std::copy(L.data(), L.data() + D * D, f.chol.data() + k * D * D);
        f.half_logdet[k] = half_logdet_of(L.data());
      }
      break;
    case CovarianceType::tied:
      f.chol = cholesky(p.covariances, "tied covariance");
      std::fill(f.half_logdet.begin(), f.half_logdet.end(), half_logdet_of(f.chol.data()));
      break;
    case CovarianceType::diag:
    case CovarianceType::spherical: {
      f.prec = TensorD::empty(p.covariances.shape());
      const int64_t per = p.type == CovarianceType::diag ? D : 1;
      for (int64_t k = 0; k < K; ++k) {
        double s = 0;
        for (int64_t d = 0; d < per; ++d) {
          const double v = p.covariances[k * per + d];
          if (!(v > 0))
            throw std::invalid_argument("component " + std::to_string(k) + ": variance " + std::to_string(v) +
                                        " is not positive; increase reg_covar or check the data");
          f.prec[k * per + d] = 1.0 / v;
          s += std::log(v);
        }
        f.half_logdet[k] = 0.5 * s * static_cast<double>(D / per);
      }
      break;
    }
  }
  return f;
}

}  // namespace lz::gmm
