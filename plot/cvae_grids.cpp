#include "plot/cvae_grids.hpp"

#include <vector>

#include "autodiff/var.hpp"
#include "plot/caption.hpp"
#include "plot/png.hpp"
#include "tensor/math.hpp"

namespace lz {

namespace {

TensorF decode_mean(VAE<float>& m, const TensorF& z, const TensorF& c) {
  NoGrad ng;
  return m.mean_of_output(m.decode(VarF(z), VarF(c)));
}

}  // namespace

void write_class_samples(VAE<float>& cvae, int64_t classes, int64_t h, int64_t w, const std::string& path, Rng& rng) {
  const int64_t per = 10;
  std::vector<int64_t> labels;
  for (int64_t k = 0; k < classes; ++k)
    for (int64_t i = 0; i < per; ++i) labels.push_back(k);
  const TensorF c = one_hot(labels, classes);
  NoGrad ng;
  const TensorF z = cvae.sample_prior(1, rng, VarF(c)).reshape({classes * per, cvae.z_dim()});
  write_png(path, with_caption(image_grid(decode_mean(cvae, z, c), h, w, per, 2, 2),
                              "CVAE: one row per class c = 0, 1, ..., " + std::to_string(per) +
                                  " samples each, decoder means for z ~ p(z|c)"));
}

void write_completions(VAE<float>& cvae, MLP<float>& baseline, const QuadrantSplit& split, const TensorF& images,
                       int64_t n, int64_t samples, const std::string& path, Rng& rng) {
  NoGrad ng;
  const int64_t D = images.size(1), cols = 3 + samples;
  const TensorF x = narrow(images, 0, 0, n);
  const TensorF c = select_columns(x, split.seen);
  const TensorF grey = scatter_columns(x, TensorF::full({n, static_cast<int64_t>(split.missing.size())}, 0.3f), split.missing);
  const TensorF base =
      scatter_columns(x, lz::map(baseline.forward(VarF(c)).value(), [](auto l) { return math::sigmoid(l); }), split.missing);
  std::vector<TensorF> draws;
  for (int64_t s = 0; s < samples; ++s) {
    const TensorF z = cvae.sample_prior(1, rng, VarF(c)).reshape({n, cvae.z_dim()});
    draws.push_back(scatter_columns(x, decode_mean(cvae, z, c), split.missing));
  }
  TensorF grid({n * cols, D});
  for (int64_t i = 0; i < n; ++i) {
    const TensorF* row[3] = {&grey, &x, &base};
    for (int64_t j = 0; j < cols; ++j) {
      const TensorF& src = j < 3 ? *row[j] : draws[j - 3];
      for (int64_t d = 0; d < D; ++d) grid[(i * cols + j) * D + d] = src[i * D + d];
    }
  }
  write_png(path, with_caption(image_grid(grid, split.h, split.w, cols, 2, 2),
                              "Per row: the observed part (missing pixels dark grey), the truth, the baseline's mean, then " +
                                  std::to_string(samples) + " CVAE completions (z ~ p(z|c), decoder means)"));
}

}  // namespace lz
