// Per-example noise for a loss: the ε of a VAE and the binarisation of its pixels, drawn from a
// generator that belongs to the example's position in the global batch, not to the process.
//
// Why. Under data parallelism (train/trainer.hpp) rank r computes the loss of its share of each
// batch. Had every rank its own stream (Rng::stream(seed, rank)), a rank-1 example would get other
// ε than in a one-process run, and the result would depend on the number of ranks; had every rank
// drawn the whole batch's ε from the shared generator and kept its rows, each would pay for the
// noise of all (for IWAE-50 on a 100 batch that is 250,000 normals a step) and the noise would
// not scale. Instead the trainer gives every step a 64-bit key (a hash of the epoch's generator
// state and the batch's position: the same on every rank, restored by a checkpoint), and example i of the global batch draws from
// Rng(mix(key, i, purpose)): each rank draws exactly its own rows' noise, streams of different
// examples, steps and purposes are unrelated (splitmix64 mixing, then xoshiro256**), and
// 1 rank × batch B sees the same ε per example as N ranks × B/N, so they train the same model
// up to rounding (tests/apps/test_mpi.cpp holds them to 1e-10 in double).
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"
#include "train/trainer.hpp"

namespace lz {

enum NoisePurpose : uint64_t { kNoiseEpsilon = 1, kNoiseBinarize = 2, kNoiseDequantize = 3 };

// The generator of local row i (global position ctx.first + i) for one purpose.
inline Rng example_rng(const StepContext& ctx, int64_t i, uint64_t purpose) {
  return Rng(Rng::mix64(ctx.noise_key ^ Rng::mix64(static_cast<uint64_t>(ctx.first + i) * 4 + purpose)));
}

// Standard normal noise for `rows` examples: [rows, dim] (k = 0) or [k, rows, dim] (k samples
// each, IWAE); example b's k·dim values come from its own generator, in (k, dim) order.
template <typename T>
Tensor<T> example_normal(const StepContext& ctx, int64_t rows, int64_t dim, int64_t k = 0) {
  const int64_t kk = k == 0 ? 1 : k;
  Tensor<T> out = k == 0 ? Tensor<T>::empty({rows, dim}) : Tensor<T>::empty({k, rows, dim});
  T* o = out.data();
  for (int64_t b = 0; b < rows; ++b) {
    Rng r = example_rng(ctx, b, kNoiseEpsilon);
    for (int64_t s = 0; s < kk; ++s)
      for (int64_t j = 0; j < dim; ++j) o[(s * rows + b) * dim + j] = static_cast<T>(r.normal());
  }
  return out;
}

// Dynamic binarisation of x:[rows, D] (values in [0,1]; pixel p becomes 1 with probability p),
// example b's pixels from its own generator. Throws naming the row and column of a bad value.
template <typename T>
Tensor<T> example_binarize(const Tensor<T>& x, const StepContext& ctx) {
  const int64_t rows = x.size(0), D = x.numel() / std::max<int64_t>(1, rows);
  Tensor<T> out = Tensor<T>::empty(x.shape());
  const T* in = x.data();
  T* o = out.data();
  for (int64_t b = 0; b < rows; ++b) {
    Rng r = example_rng(ctx, b, kNoiseBinarize);
    for (int64_t j = 0; j < D; ++j) {
      const T p = in[b * D + j];
      if (!(p >= T(0) && p <= T(1)))
        throw std::invalid_argument("binarize: expected values in [0,1], found " + std::to_string(double(p)) +
                                    " at row " + std::to_string(b) + ", column " + std::to_string(j));
      o[b * D + j] = r.uniform() < double(p) ? T(1) : T(0);
    }
  }
  return out;
}

}  // namespace lz
