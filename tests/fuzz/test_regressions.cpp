// Replays every kept fuzz input (crashes found and fixed: tests/fuzz/regressions/<target>/)
// and the seed corpora (fuzz/corpus/<target>/) through the fuzz targets' bodies, so a fixed crash
// stays fixed in every build, including the ASan+UBSan one.
#define BOOST_TEST_MODULE fuzz_regressions
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "fuzz/targets.hpp"

namespace fs = std::filesystem;

namespace {
int replay(const std::string& target, const std::function<bool(const uint8_t*, size_t)>& check) {
  int n = 0;
  for (const std::string root : {"/tests/fuzz/regressions/", "/fuzz/corpus/"}) {
    const fs::path dir = std::string(LZ_SOURCE_DIR) + root + target;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::ifstream f(e.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      BOOST_TEST_INFO(e.path().string());
      BOOST_TEST(check(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      ++n;
    }
  }
  return n;
}
}  // namespace

BOOST_AUTO_TEST_CASE(idx) { BOOST_TEST(replay("idx", lz::fuzz::check_idx) >= 4); }
BOOST_AUTO_TEST_CASE(csv) { BOOST_TEST(replay("csv", lz::fuzz::check_csv) >= 4); }
BOOST_AUTO_TEST_CASE(digits) { BOOST_TEST(replay("digits", lz::fuzz::check_digits) >= 2); }
BOOST_AUTO_TEST_CASE(safetensors) { BOOST_TEST(replay("safetensors", lz::fuzz::check_safetensors) >= 2); }
BOOST_AUTO_TEST_CASE(config) { BOOST_TEST(replay("config", lz::fuzz::check_config) >= 2); }

// The seeds must be accepted, not merely survived: a seed the parser rejects fuzzes nothing deep.
BOOST_AUTO_TEST_CASE(seeds_parse) {
  const std::string c = std::string(LZ_SOURCE_DIR) + "/fuzz/corpus/";
  auto read = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  const std::string img = read(c + "idx/images_gz");
  const auto raw = lz::gunzip_if_needed(std::vector<uint8_t>(img.begin() + 1, img.end()), "seed");
  BOOST_TEST(lz::parse_idx(raw.data(), raw.size(), lz::kIdxImagesMagic, "seed").dims == (std::vector<int64_t>{2, 2, 3}),
             boost::test_tools::per_element());
  BOOST_TEST(lz::parse_digits_json(read(c + "digits/two"), "seed").size() == 2u * 784u);
  const auto st = lz::parse_safetensors(read(c + "safetensors/f32"), "seed");
  BOOST_TEST(st.tensors.size() == 2u);
  const std::string csv = read(c + "csv/header_label");
  lz::CsvOptions o;
  o.label = "label";
  BOOST_TEST(lz::parse_csv(csv.substr(1), "seed", o).size() == 2);
  // the config seeds set every kind of flag (an accepted seed, not a rejected one)
  lz::Flags flags("seed", "seed");
  int64_t epochs = 10;
  flags.add("--epochs", epochs, "");
  std::string data = "digits", arch = "400";
  double lr = 0;
  bool learn_var = false;
  flags.add("--data", data, "");
  flags.add("--arch", arch, "");
  flags.add("--lr", lr, "");
  flags.flag("--learn-var", learn_var, "");
  flags.apply_config(nlohmann::json::parse(read(c + "config/all_kinds")), "seed");
  BOOST_TEST(epochs == 5);
  BOOST_TEST(data == "fashion");
  BOOST_TEST(arch == "400,200");
  BOOST_TEST(lr == 0.01);
  BOOST_TEST(learn_var);
  BOOST_TEST(flags.seed == 7u);
  BOOST_TEST(flags.threads == 2);
}
