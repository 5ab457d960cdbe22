#include "datasets/batch.hpp"

#include <stdexcept>

#include "tensor/ops.hpp"

namespace lz {

std::vector<std::vector<int64_t>> epoch_batches(int64_t n, int64_t batch_size, Rng& rng, bool shuffle) {
  if (batch_size < 1) throw std::invalid_argument("epoch_batches: batch size must be >= 1, got " + std::to_string(batch_size));
  if (n < 0) throw std::invalid_argument("epoch_batches: n must be >= 0, got " + std::to_string(n));
  std::vector<int64_t> order;
  if (shuffle) {
    order = permutation(n, rng);
  } else {
    order.resize(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  std::vector<std::vector<int64_t>> out;
  out.reserve(batches_per_epoch(n, batch_size));
  for (int64_t s = 0; s < n; s += batch_size)
    out.emplace_back(order.begin() + s, order.begin() + std::min(n, s + batch_size));
  return out;
}

Batch make_batch(const Dataset& d, const std::vector<int64_t>& rows) {
  Batch b;
  for (int64_t r : rows)
    if (r < 0 || r >= d.size())
      throw std::out_of_range(d.name + ": batch row " + std::to_string(r) + " outside [0, " + std::to_string(d.size()) + ")");
  b.x = index_select(d.x, rows);
  if (d.labelled())
    for (int64_t r : rows) b.y.push_back(d.y[r]);
  b.rows = rows;
  return b;
}

TensorF binarize(const TensorF& x, Rng& rng) {
  TensorF out = TensorF::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float p = x[i];
    if (!(p >= 0.0f && p <= 1.0f))
      throw std::invalid_argument("binarize: expected values in [0,1], found " + std::to_string(p) + " at index " +
                                  std::to_string(i));
    out[i] = rng.uniform() < p ? 1.0f : 0.0f;
  }
  return out;
}

TensorF binarize_threshold(const TensorF& x, float threshold) {
  TensorF out = TensorF::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) out[i] = x[i] > threshold ? 1.0f : 0.0f;
  return out;
}

}  // namespace lz
