#include "datasets/flow_data.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "autodiff/var.hpp"
#include "models/evaluate.hpp"
#include "tensor/math.hpp"

namespace lz {

namespace {
// Row by row, each row's noise from next(row): one generator for all rows or one per row.
template <typename Next>
TensorF dequantize_rows(const TensorF& x01, Next next) {
  if (x01.dim() != 2) throw ShapeError("dequantize: expected images [N, D], got " + shape_str(x01.shape()));
  TensorF u(x01.shape());
  const int64_t n = x01.size(0), d = x01.size(1);
  for (int64_t r = 0; r < n; ++r) {
    Rng& rng = next(r);
    for (int64_t j = 0; j < d; ++j) {
      const int64_t i = r * d + j;
      const float v = x01[i];
      if (!std::isfinite(v) || v < 0 || v > 1)
        throw std::invalid_argument("dequantize: expected 8-bit pixel values in [0, 1], found " + std::to_string(v) +
                                    " at row " + std::to_string(r) + ", column " + std::to_string(j));
      // round(255 v) recovers the 8-bit level (the digits are stored to 3 decimals: within 0.13 of it)
      u[i] = static_cast<float>((std::round(255.0 * v) + rng.uniform()) / 256.0);
    }
  }
  return u;
}
}  // namespace

TensorF dequantize(const TensorF& x01, Rng& rng) {
  return dequantize_rows(x01, [&](int64_t) -> Rng& { return rng; });
}

TensorF dequantize(const TensorF& x01, const std::function<Rng(int64_t)>& row_rng) {
  Rng current(0);
  return dequantize_rows(x01, [&](int64_t r) -> Rng& { return current = row_rng(r); });
}

PixelPreprocess::PixelPreprocess(int64_t dim, double lambda) : dim_(dim), logit_(dim, lambda) {}

PixelPreprocess::Batch PixelPreprocess::logit(const TensorF& u) {
  NoGrad ng;
  const TransformOut<float> r = logit_.forward(VarF(u));
  Batch b{r.out.value(), {}};
  const TensorF& ld = r.log_det.value();
  b.log_det.assign(ld.data(), ld.data() + ld.numel());
  return b;
}

PixelPreprocess::Batch PixelPreprocess::operator()(const TensorF& x01, Rng& rng) { return logit(dequantize(x01, rng)); }

PixelPreprocess::Batch PixelPreprocess::operator()(const TensorF& x01, const std::function<Rng(int64_t)>& row_rng) {
  return logit(dequantize(x01, row_rng));
}

TensorF PixelPreprocess::to_images(const TensorF& y) {
  NoGrad ng;
  TensorF u = logit_.inverse(VarF(y)).out.value();
  for (int64_t i = 0; i < u.numel(); ++i) u[i] = std::clamp(u[i], 0.0f, 1.0f);
  return u;
}

MeanEstimate PixelPreprocess::bits_per_dim(const std::vector<double>& log_p_y,
                                                          const std::vector<double>& log_det) const {
  if (log_p_y.size() != log_det.size() || log_p_y.empty())
    throw std::invalid_argument("bits_per_dim: " + std::to_string(log_p_y.size()) + " log-likelihoods for " +
                                std::to_string(log_det.size()) + " log-determinants (expected equal, > 0)");
  const double scale = 1.0 / (dim_ * std::numbers::ln2);
  std::vector<double> bits(log_p_y.size());
  for (size_t i = 0; i < log_p_y.size(); ++i) bits[i] = -(log_p_y[i] + log_det[i] - dim_ * std::log(256.0)) * scale;
  return estimate_mean(bits);
}

PcaProjection::PcaProjection(const TensorF& train01, int64_t components) : pca_(components) {
  pca_.fit(tensor_cast<double>(train01));
}

TensorF PcaProjection::project(const TensorF& x01) const { return tensor_cast<float>(pca_.transform(tensor_cast<double>(x01))); }

TensorF PcaProjection::reconstruct(const TensorF& z) const {
  TensorF x = tensor_cast<float>(pca_.inverse_transform(tensor_cast<double>(z)));
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = std::clamp(x[i], 0.0f, 1.0f);
  return x;
}

std::vector<double> PcaProjection::gaussian_log_prob(const TensorF& z) const {
  const TensorD& var = pca_.explained_variance();
  const int64_t d = var.numel();
  if (z.dim() != 2 || z.size(1) != d)
    throw std::invalid_argument("PcaProjection::gaussian_log_prob: expected [N," + std::to_string(d) + "], got " +
                                shape_str(z.shape()));
  std::vector<double> out(static_cast<size_t>(z.size(0)));
  for (int64_t i = 0; i < z.size(0); ++i) {
    double lp = 0;  // Σ_j log N(z_j; 0, var_j)
    for (int64_t j = 0; j < d; ++j) lp += math::gaussian_log_density(double(z[i * d + j]), std::log(var[j]));
    out[static_cast<size_t>(i)] = lp;
  }
  return out;
}

double PcaProjection::explained_variance_ratio() const {
  double s = 0;
  for (int64_t j = 0; j < pca_.explained_variance_ratio().numel(); ++j) s += pca_.explained_variance_ratio()[j];
  return s;
}

}  // namespace lz
