// Principal component analysis through the eigendecomposition of the sample covariance
// (LAPACKE dsyevd), in double. Components are the eigenvectors of largest eigenvalue, each with
// the sign that makes its largest-magnitude entry positive (so results do not flip between runs).
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace lz {

class PCA {
 public:
  explicit PCA(int64_t n_components);

  // X:[N,D], N >= 2, n_components <= D. Throws std::invalid_argument otherwise.
  void fit(const TensorD& X);
  // X:[M,D] -> [M,n_components]: (X - mean) components^T
  TensorD transform(const TensorD& X) const;
  // Z:[M,n_components] -> [M,D]: Z components + mean
  TensorD inverse_transform(const TensorD& Z) const;

  const TensorD& mean() const { return mean_; }                      // [D]
  const TensorD& components() const { return components_; }          // [n,D], orthonormal rows
  const TensorD& explained_variance() const { return variance_; }    // [n], decreasing (N-1 divisor)
  const TensorD& explained_variance_ratio() const { return ratio_; } // [n], of the total variance

 private:
  int64_t n_;
  TensorD mean_, components_, variance_, ratio_;
};

}  // namespace lz
