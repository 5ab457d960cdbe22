// The fuzz targets' bodies, shared by the libFuzzer executables (fuzz_*.cpp) and the regression
// test that replays kept inputs (tests/fuzz/test_regressions.cpp).
// Each returns false when a parser ACCEPTED an input but broke an invariant of its result; an
// std::exception is a clean rejection (true); a crash or sanitizer report is a bug by itself.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/flags.hpp"
#include "datasets/csv.hpp"
#include "datasets/digits.hpp"
#include "datasets/idx.hpp"
#include "nn/safetensors.hpp"

namespace lz::fuzz {

// First byte: odd = images magic, even = labels magic. Rest: IDX bytes, gzip or raw.
inline bool check_idx(const uint8_t* data, size_t size) {
  if (size < 1) return true;
  const uint32_t magic = (data[0] & 1) ? kIdxImagesMagic : kIdxLabelsMagic;
  try {
    const std::vector<uint8_t> raw(data + 1, data + size);
    // A small inflate limit: a gzip bomb must be rejected, not exhaust the fuzzer's memory.
    const std::vector<uint8_t> bytes = gunzip_if_needed(raw, "fuzz", size_t(1) << 24);
    const IdxArray a = parse_idx(bytes.data(), bytes.size(), magic, "fuzz");
    uint64_t n = 1;
    for (auto d : a.dims) n *= static_cast<uint64_t>(d);
    if (n != a.data.size()) return false;
    if (a.dims.size() != (magic == kIdxImagesMagic ? 3u : 1u)) return false;
  } catch (const std::exception&) {
  }
  return true;
}

// First byte: header mode (%3), label column choice, ';' delimiter if the top bit is set.
inline bool check_csv(const uint8_t* data, size_t size) {
  if (size < 1) return true;
  CsvOptions o;
  o.header = static_cast<CsvOptions::Header>(data[0] % 3);
  static const char* labels[] = {"", "0", "-1", "label", "1", "-3"};
  o.label = labels[(data[0] / 3) % 6];
  if (data[0] & 0x80) o.delimiter = ';';
  try {
    const Dataset d = parse_csv(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), "fuzz.csv", o);
    if (d.x.dim() != 2 || d.x.size(0) < 1 || d.x.size(1) < 1) return false;
    for (int64_t i = 0; i < d.x.numel(); ++i)
      if (!std::isfinite(d.x[i])) return false;
    if (d.labelled()) {
      if (static_cast<int64_t>(d.y.size()) != d.x.size(0)) return false;
      for (auto y : d.y)
        if (y < 0 || y >= d.num_classes) return false;
    }
  } catch (const std::exception&) {
  }
  return true;
}

inline bool check_digits(const uint8_t* data, size_t size) {
  try {
    const auto v = parse_digits_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    if (v.empty() || v.size() % kDigitPixels != 0) return false;
    for (float x : v)
      if (!(x >= 0.0f && x <= 1.0f)) return false;
  } catch (const std::exception&) {
  }
  return true;
}

inline bool check_safetensors(const uint8_t* data, size_t size) {
  try {
    const SafeTensors st = parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    size_t bytes = 0;
    for (const auto& [name, t] : st.tensors) {
      int64_t n = 1;
      for (auto d : any_shape(t)) n *= d;
      const int64_t numel = std::visit([](const auto& x) { return x.numel(); }, t);
      if (n != numel) return false;
      bytes += static_cast<size_t>(numel) * (std::holds_alternative<TensorF>(t) ? 4 : 8);
    }
    if (bytes > size) return false;  // tensor data cannot come from nowhere
  } catch (const std::exception&) {
  }
  return true;
}

// A --config file, read as Flags::parse reads it (nlohmann's parse, then apply_config), against
// flags of every kind a driver has: integers and reals with ranges, a choice, free text, a switch,
// the built-in --seed and --threads. Whatever is accepted must satisfy every flag's own check.
inline bool check_config(const uint8_t* data, size_t size) {
  Flags flags("fuzz", "fuzz");
  int64_t epochs = 10;
  int latent = 2;
  double lr = 1e-3;
  std::string set = "digits", arch = "400";
  bool learn_var = false;
  flags.add("--epochs", epochs, "").check(Range(int64_t(1), int64_t(100000)));
  flags.add("--latent", latent, "").check(Range(1, 4096));
  flags.add("--lr", lr, "").check(Range(1e-8, 10.0));
  flags.add("--data", set, "").check(OneOf({"digits", "fashion"}));
  flags.add("--arch", arch, "");
  flags.flag("--learn-var", learn_var, "");
  try {
    const nlohmann::json j = nlohmann::json::parse(reinterpret_cast<const char*>(data),
                                                   reinterpret_cast<const char*>(data) + size);
    flags.apply_config(j, "fuzz.json");
  } catch (const std::exception&) {
    return true;
  }
  if (epochs < 1 || epochs > 100000 || latent < 1 || latent > 4096) return false;
  if (!(std::isfinite(lr) && lr >= 1e-8 && lr <= 10.0)) return false;
  if (set != "digits" && set != "fashion") return false;
  if (flags.threads < 1 || flags.threads > 256) return false;
  return true;
}

}  // namespace lz::fuzz
