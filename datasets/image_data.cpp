#include "datasets/image_data.hpp"

#include <stdexcept>

#include "datasets/digits.hpp"
#include "datasets/idx.hpp"

namespace lz {

std::pair<Dataset, Dataset> load_image_data(const std::string& name, const std::string& dir) {
  if (name == "digits") return load_digits(dir.empty() ? default_digits_dir() : dir);
  if (name == "fashion") {
    const std::string d = dir.empty() ? std::string(kFashionMnistDir) : dir;
    return {load_fashion_mnist("train", d), load_fashion_mnist("test", d)};
  }
  throw std::invalid_argument("load_image_data: unknown data set '" + name + "' (expected digits or fashion)");
}

TensorF one_hot(const std::vector<int64_t>& labels, int64_t classes) {
  TensorF c({static_cast<int64_t>(labels.size()), classes});
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes)
      throw std::out_of_range("one_hot: label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                              " is outside [0, " + std::to_string(classes) + ")");
    c[static_cast<int64_t>(i) * classes + labels[i]] = 1.f;
  }
  return c;
}

QuadrantSplit quadrant_split(int64_t h, int64_t w, int64_t observed) {
  if (observed < 1 || observed > 3)
    throw std::invalid_argument("quadrant_split: observed quadrants must be 1, 2 or 3, got " + std::to_string(observed));
  if (h < 2 || w < 2)
    throw std::invalid_argument("quadrant_split: an image of " + std::to_string(h) + "x" + std::to_string(w) +
                                " has no quadrants");
  const int64_t order[3] = {2, 3, 1};  // bottom-left, bottom-right, top-right
  bool seen_q[4] = {false, false, false, false};
  for (int64_t i = 0; i < observed; ++i) seen_q[order[i]] = true;
  QuadrantSplit s{h, w, observed, {}, {}};
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const int64_t q = (r >= h / 2 ? 2 : 0) + (c >= w / 2 ? 1 : 0);
      (seen_q[q] ? s.seen : s.missing).push_back(r * w + c);
    }
  return s;
}

TensorF select_columns(const TensorF& x, const std::vector<int64_t>& cols) {
  const int64_t N = x.size(0), D = x.size(1), C = static_cast<int64_t>(cols.size());
  TensorF out({N, C});
  for (int64_t j = 0; j < C; ++j)
    if (cols[j] < 0 || cols[j] >= D)
      throw std::out_of_range("select_columns: column " + std::to_string(cols[j]) + " of a [" + std::to_string(N) +
                              "," + std::to_string(D) + "] tensor");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < C; ++j) out[n * C + j] = x[n * D + cols[j]];
  return out;
}

TensorF scatter_columns(const TensorF& base, const TensorF& part, const std::vector<int64_t>& cols) {
  TensorF out = base.clone();
  const int64_t N = base.size(0), D = base.size(1), C = static_cast<int64_t>(cols.size());
  if (part.dim() != 2 || part.size(0) != N || part.size(1) != C)
    throw std::invalid_argument("scatter_columns: expected part:[" + std::to_string(N) + "," + std::to_string(C) +
                                "], got " + shape_str(part.shape()));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < C; ++j) out[n * D + cols[j]] = part[n * C + j];
  return out;
}

}  // namespace lz
