// Shuffled minibatches and dynamic binarisation.
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/dataset.hpp"

namespace lz {

// One epoch's batches: a fresh permutation of 0..n-1 from `rng` cut into batches of `batch_size`;
// the last, partial batch is kept, so every index appears exactly once. shuffle=false keeps order.
std::vector<std::vector<int64_t>> epoch_batches(int64_t n, int64_t batch_size, Rng& rng, bool shuffle = true);

// Number of batches epoch_batches gives: ceil(n / batch_size).
inline int64_t batches_per_epoch(int64_t n, int64_t batch_size) { return (n + batch_size - 1) / batch_size; }

struct Batch {
  TensorF x;               // [B, D]
  std::vector<int64_t> y;  // [B] or empty
  std::vector<int64_t> rows;
};
// The rows of `d` as a batch (copies x rows; labels if any).
Batch make_batch(const Dataset& d, const std::vector<int64_t>& rows);

// Dynamic binarisation: each pixel p in [0,1] becomes 1 with probability p, else 0 (a fresh draw
// each call, as the VAE literature binarises MNIST every epoch). Throws if a value is outside [0,1].
TensorF binarize(const TensorF& x, Rng& rng);
// Fixed binarisation at a threshold (x > threshold -> 1).
TensorF binarize_threshold(const TensorF& x, float threshold = 0.5f);

}  // namespace lz
