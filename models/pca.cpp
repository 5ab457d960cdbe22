#include "models/pca.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace lz {

PCA::PCA(int64_t n_components) : n_(n_components) {
  if (n_ < 1) throw std::invalid_argument("PCA: n_components must be >= 1, found " + std::to_string(n_));
}

void PCA::fit(const TensorD& X) {
  if (X.dim() != 2) throw ShapeError("PCA::fit: X must be [N,D], found " + shape_str(X.shape()));
  const int64_t N = X.size(0), D = X.size(1);
  if (N < 2) throw std::invalid_argument("PCA::fit: need at least 2 points, found " + std::to_string(N));
  if (n_ > D)
    throw std::invalid_argument("PCA::fit: n_components=" + std::to_string(n_) + " exceeds the " +
                                std::to_string(D) + " columns of X");
  mean_ = TensorD({D});
  for (int64_t i = 0; i < N * D; ++i) {
    if (!std::isfinite(X[i]))
      throw std::invalid_argument("PCA::fit: X has a non-finite value at row " + std::to_string(i / D) +
                                  ", column " + std::to_string(i % D));
    mean_[i % D] += X[i];
  }
  for (int64_t d = 0; d < D; ++d) mean_[d] /= static_cast<double>(N);
  // C = (X - mean)^T (X - mean) / (N - 1), lower triangle, one syrk over blocks of rows
  TensorD C({D, D});
  const int64_t BR = 4096;
  TensorD Y = TensorD::empty({std::min(BR, N), D});
  for (int64_t r0 = 0; r0 < N; r0 += BR) {
    const int64_t B = std::min(BR, N - r0);
    for (int64_t i = 0; i < B * D; ++i) Y[i] = X[r0 * D + i] - mean_[i % D];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, D, B, 1.0 / static_cast<double>(N - 1), Y.data(), D, 1.0,
                C.data(), D);
  }
  double total = 0;
  for (int64_t d = 0; d < D; ++d) total += C[d * D + d];
  TensorD w({D});  // eigenvalues ascending; C's columns become the eigenvectors
  const lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'L', D, C.data(), D, w.data());
  if (info != 0) throw std::runtime_error("PCA::fit: LAPACKE_dsyevd failed (info=" + std::to_string(info) + ")");
  components_ = TensorD({n_, D});
  variance_ = TensorD({n_});
  ratio_ = TensorD({n_});
  for (int64_t i = 0; i < n_; ++i) {
    const int64_t col = D - 1 - i;
    int64_t big = 0;
    for (int64_t d = 0; d < D; ++d)
      if (std::abs(C[d * D + col]) > std::abs(C[big * D + col])) big = d;
    const double sign = C[big * D + col] < 0 ? -1.0 : 1.0;
    for (int64_t d = 0; d < D; ++d) components_[i * D + d] = sign * C[d * D + col];
    variance_[i] = std::max(w[col], 0.0);
    ratio_[i] = total > 0 ? variance_[i] / total : 0.0;
  }
}

TensorD PCA::transform(const TensorD& X) const {
  if (!components_.defined()) throw std::logic_error("PCA::transform: not fitted (call fit first)");
  const int64_t D = components_.size(1);
  if (X.dim() != 2 || X.size(1) != D)
    throw ShapeError("PCA::transform: expected X [N," + std::to_string(D) + "], found " + shape_str(X.shape()));
  const int64_t N = X.size(0);
  TensorD Z({N, n_});
  const int64_t BR = 4096;
  TensorD Y = TensorD::empty({std::min(BR, N), D});
  for (int64_t r0 = 0; r0 < N; r0 += BR) {
    const int64_t B = std::min(BR, N - r0);
    for (int64_t i = 0; i < B * D; ++i) Y[i] = X[r0 * D + i] - mean_[i % D];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_, D, 1.0, Y.data(), D, components_.data(), D, 0.0,
                Z.data() + r0 * n_, n_);
  }
  return Z;
}

TensorD PCA::inverse_transform(const TensorD& Z) const {
  if (!components_.defined()) throw std::logic_error("PCA::inverse_transform: not fitted (call fit first)");
  if (Z.dim() != 2 || Z.size(1) != n_)
    throw ShapeError("PCA::inverse_transform: expected Z [N," + std::to_string(n_) + "], found " + shape_str(Z.shape()));
  const int64_t N = Z.size(0), D = components_.size(1);
  TensorD X = TensorD::empty({N, D});
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, D, n_, 1.0, Z.data(), n_, components_.data(), D, 0.0,
              X.data(), D);
  for (int64_t i = 0; i < N * D; ++i) X[i] += mean_[i % D];
  return X;
}

}  // namespace lz
