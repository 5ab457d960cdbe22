// What a flow is fitted to when the data are images, and how its likelihood is then reported.
//
// Pixels (RealNVP §4.1, MAF §4.3): 8-bit values v are dequantised, u = (v + U(0, 1)) / 256, and
// mapped to the real line by LogitTransform (models/transform.hpp); the flow models y = logit(u').
// The log-likelihood of the discrete image is then bounded below by
//   log P(v) ≥ E_U[ log p_y(y) + log|det ∂y/∂u| ] − D log 256,
// and reported in bits per dimension, −(that) / (D ln 2): the preprocessing's Jacobian counted,
// as every flow paper reports it.
//
// Principal components: the pixels in [0, 1] projected on the D leading principal components of
// the training set (models/pca.hpp). The flow's density is in nats per example in that space; the
// baseline beside it is the best Gaussian there, N(0, diag(explained variance)) (the projection
// is centred and decorrelated), whose log-density is written out in closed form.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/evaluate.hpp"
#include "models/pca.hpp"
#include "models/transform.hpp"
#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace lz {

// x01:[N, D] 8-bit images as loaded (v / 255, in [0, 1]) -> u = (v + U(0, 1)) / 256 in [0, 1),
// row i's noise from row_rng(i) (training: train/noise.hpp's per-example generators, so the
// result does not depend on how a batch is split over ranks) or all rows' from one rng.
// Throws naming the first entry that is not finite or outside [0, 1].
TensorF dequantize(const TensorF& x01, const std::function<Rng(int64_t)>& row_rng);
TensorF dequantize(const TensorF& x01, Rng& rng);

// Dequantisation and the logit map, with the log-determinant the bits per dimension need.
class PixelPreprocess {
 public:
  explicit PixelPreprocess(int64_t dim, double lambda = 1e-6);

  struct Batch {
    TensorF y;                    // [N, D]: the flow's input
    std::vector<double> log_det;  // [N]: log|det ∂y/∂u| per image
  };
  // x01 as dequantize takes it, with its noise as dequantize draws it.
  Batch operator()(const TensorF& x01, Rng& rng);
  Batch operator()(const TensorF& x01, const std::function<Rng(int64_t)>& row_rng);
  // y:[N, D] (flow samples) -> images in [0, 1], clamped (σ(y) may round to 0 or 1 in float).
  TensorF to_images(const TensorF& y);
  // Per image: log p_y(y) + log|det ∂y/∂u| (nats) -> mean bits per dimension with its standard error.
  MeanEstimate bits_per_dim(const std::vector<double>& log_p_y, const std::vector<double>& log_det) const;

  int64_t dim() const { return dim_; }
  double lambda() const { return logit_.lambda(); }

 private:
  Batch logit(const TensorF& u);
  int64_t dim_;
  LogitTransform<float> logit_;
};

// The D leading principal components of images, fitted on the training set.
class PcaProjection {
 public:
  PcaProjection(const TensorF& train01, int64_t components);
  TensorF project(const TensorF& x01) const;         // [N, 784] -> [N, D]
  TensorF reconstruct(const TensorF& z) const;       // [N, D] -> [N, 784], clamped to [0, 1]
  // Per row of z:[N, D]: log N(z; 0, diag(explained variance)), the best Gaussian baseline.
  std::vector<double> gaussian_log_prob(const TensorF& z) const;
  double explained_variance_ratio() const;           // of all D components together
  const PCA& pca() const { return pca_; }

 private:
  PCA pca_;
};

}  // namespace lz
