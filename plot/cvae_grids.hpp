// The conditional VAE's image grids (apps/cvae): samples per class, and completions of images of
// which some quadrants are seen. Each grid is written as a PNG with a caption saying what it shows.
#pragma once

#include <cstdint>
#include <string>

#include "datasets/image_data.hpp"
#include "models/vae.hpp"
#include "nn/mlp.hpp"
#include "tensor/rng.hpp"

namespace lz {

// One row per class c = 0 .. classes−1, 10 samples each: decoder means for z ~ p(z|c), with c the
// one-hot label; images h × w.
void write_class_samples(VAE<float>& cvae, int64_t classes, int64_t h, int64_t w, const std::string& path, Rng& rng);

// For each of the first n rows of images:[N, h·w], one row of the grid: the observed part (the
// missing pixels dark grey, unlike the padding), the truth, the baseline's mean (sigmoid of its
// logits given the seen pixels), then `samples` CVAE completions (decoder means for z ~ p(z|c)).
void write_completions(VAE<float>& cvae, MLP<float>& baseline, const QuadrantSplit& split, const TensorF& images,
                       int64_t n, int64_t samples, const std::string& path, Rng& rng);

}  // namespace lz
