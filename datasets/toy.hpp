// Seeded 2-D toy distributions for density models, clustering and pictures.
//
// Each returns x:[n,2] and, where the data has natural classes, labels. `noise` is the standard
// deviation of the Gaussian noise added (in the toy's units); pass a negative value for the default.
// Shapes follow the usual definitions (scikit-learn's moons/circles, FFJORD's 8 Gaussians,
// pinwheel, checkerboard and spirals) but are sampled from lz::Rng, so they match no other library.
#pragma once

#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace lz {

// Two interleaved half circles (radius 1): upper arc (label 0) centred at (0,0), lower arc (label 1)
// centred at (1,0.5); angles uniform. Mean (0.5, 0.25). Default noise 0.1.
Dataset two_moons(int64_t n, Rng& rng, double noise = -1);
// Two concentric circles of radius 1 (label 0) and 0.5 (label 1), angles uniform. Default noise 0.05.
Dataset circles(int64_t n, Rng& rng, double noise = -1);
// Eight Gaussians on the circle of radius 2 at angles k*pi/4 (label k). Default noise 0.1.
Dataset eight_gaussians(int64_t n, Rng& rng, double noise = -1);
// Five curved arms (label = arm): radial std 0.3, tangential std `noise` (default 0.1), scaled by 2.
Dataset pinwheel(int64_t n, Rng& rng, double noise = -1);
// Uniform on the black squares of a 4x4 board covering [-4,4]^2 (unlabelled; noise unused).
Dataset checkerboard(int64_t n, Rng& rng, double noise = -1);
// Two interleaved spirals (labels 0, 1) of 1.5 turns each, reaching radius ~3.3. Default noise 0.1.
Dataset two_spirals(int64_t n, Rng& rng, double noise = -1);

// Bishop's inverted sine (Pattern Recognition and Machine Learning, §5.6), a regression toy rather
// than a density one: y ~ U(0, 1), x = y + 0.3 sin(2πy) + ε with ε ~ U(−noise, noise) as Bishop draws
// it (default noise 0.1), returned as x:[n, 2] with columns (x, y). Predicting y from x is the
// inverse problem: for x in about (0.3, 0.7) three values of y fit, so p(y | x) is multimodal and
// E[y | x] falls between the branches. Not in make_toy: its columns are input and target.
Dataset inverted_sine(int64_t n, Rng& rng, double noise = -1);

// The names make_toy accepts, in this order: two_moons circles eight_gaussians pinwheel checkerboard two_spirals.
const std::vector<std::string>& toy_names();
// Dispatch by name; throws std::invalid_argument "unknown toy 'x' (valid: ...)".
Dataset make_toy(const std::string& name, int64_t n, Rng& rng, double noise = -1);

}  // namespace lz
