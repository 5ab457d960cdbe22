// Dataset: a float design matrix with optional integer labels, and the ways to cut it.
//
// Every reader in train/ (IDX, digits JSON, CSV, toys) returns one of these, so drivers and
// models see one shape of data: x:[N,D] float, y:[N] labels in [0, num_classes) or empty.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace lz {

struct Dataset {
  TensorF x;                  // [N, D]
  std::vector<int64_t> y;     // [N] labels, or empty when unlabelled
  int64_t num_classes = 0;    // 0 when unlabelled
  std::string name;
  int64_t image_h = 0, image_w = 0;  // set for image data (D = image_h * image_w)

  int64_t size() const { return x.defined() ? x.size(0) : 0; }
  int64_t dim() const { return x.defined() ? x.size(1) : 0; }
  bool labelled() const { return !y.empty(); }
};

// The rows `rows` (in that order; repeats allowed). Throws std::out_of_range naming a bad row.
Dataset subset(const Dataset& d, const std::vector<int64_t>& rows);

// A seeded random split into (train, test) with `n_test` rows in test. With `stratify` (labelled data
// only) each class is split in proportion, so both parts keep the class balance.
std::pair<Dataset, Dataset> train_test_split(const Dataset& d, int64_t n_test, Rng& rng, bool stratify = false);

// A random permutation of 0..n-1 (Fisher-Yates with rng.below).
std::vector<int64_t> permutation(int64_t n, Rng& rng);

// Per-column standardisation fitted on one set (usually train) and applied to others:
// apply(x) = (x - mean) / std, with std of a constant column taken as 1 (no division by zero).
struct Standardiser {
  std::vector<float> mean, stddev;
  static Standardiser fit(const TensorF& x);  // x:[N,D]
  TensorF apply(const TensorF& x) const;      // x:[M,D] -> [M,D]
  TensorF invert(const TensorF& z) const;     // inverse of apply
};

// Checks the invariants (x 2-D, y empty or x.size(0) long, labels in range); throws naming `where`.
void validate(const Dataset& d, const std::string& where);

}  // namespace lz
