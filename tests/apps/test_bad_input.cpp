// Bad input, reader by reader and through the classify driver: every failure must say what was
// expected and where (file, line, index, key or flag), exit non-zero from a driver, and leave no
// half-written file behind.
#define BOOST_TEST_MODULE bad_input
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <functional>

#include "datasets/csv.hpp"
#include "datasets/digits.hpp"
#include "datasets/idx.hpp"
#include "nn/checkpoint.hpp"
#include "nn/mlp.hpp"
#include "nn/safetensors.hpp"
#include "tests/helpers.hpp"

using namespace lz;
using namespace lz::testing;
namespace fs = std::filesystem;

namespace {

// fn must throw; its message must contain every one of `parts`.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
  } catch (const std::exception& e) {
    const std::string m = e.what();
    for (const auto& p : parts) {
      BOOST_TEST_INFO("message: " << m);
      BOOST_TEST(m.find(p) != std::string::npos, "missing '" << p << "'");
    }
    return;
  }
  BOOST_ERROR("no exception; expected one mentioning '" << parts.front() << "'");
}

struct RunResult {
  int code = -1;
  std::string err;
};
// Runs build/bin/classify with `args` (and an environment prefix), capturing stderr.
RunResult classify(const std::string& args, const std::string& env = "") {
  const std::string dir = std::string(LZ_BINARY_DIR) + "/tests-tmp";
  fs::create_directories(dir);
  const std::string err = dir + "/classify.err";
  const std::string cmd = env + " " + std::string(LZ_BINARY_DIR) + "/bin/classify " + args + " >/dev/null 2>" + err;
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  r.err = read_text(err);
  return r;
}
bool have_classify() { return fs::exists(std::string(LZ_BINARY_DIR) + "/bin/classify"); }

}  // namespace

// ---- IDX ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(idx_missing_empty_truncated) {
  const std::string dir = scratch_dir("bad_idx");
  expect_error([&] { read_idx(dir + "/none.gz", kIdxImagesMagic); }, {"cannot open " + dir + "/none.gz"});
  write_bytes(dir + "/empty", "");
  expect_error([&] { read_idx(dir + "/empty", kIdxImagesMagic); }, {dir + "/empty", "empty file", "0x00000803"});
  write_bytes(dir + "/short", std::string("\0\0\x08", 3));
  expect_error([&] { read_idx(dir + "/short", kIdxImagesMagic); },
               {dir + "/short", "truncated IDX header", "expected at least 4 bytes, found 3"});
  // rank 3 promised, one dimension present
  write_bytes(dir + "/dims", idx_bytes(kIdxImagesMagic, {5}, {}));
  expect_error([&] { read_idx(dir + "/dims", kIdxImagesMagic); }, {"rank 3 needs 16 bytes, found 8"});
  // 2x2x2 promised, 5 bytes of data
  write_gz(dir + "/data.gz", idx_bytes(kIdxImagesMagic, {2, 2, 2}, {1, 2, 3, 4, 5}));
  expect_error([&] { read_idx(dir + "/data.gz", kIdxImagesMagic); },
               {dir + "/data.gz", "truncated IDX data", "2x2x2 need 8 bytes after the 16-byte header, found 5"});
  // dimensions whose product overflows 64 bits
  write_bytes(dir + "/huge", idx_bytes(kIdxImagesMagic, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {1}));
  expect_error([&] { read_idx(dir + "/huge", kIdxImagesMagic); }, {"need more than 2^64 bytes"});
  // trailing bytes are a size mismatch too
  write_bytes(dir + "/long", idx_bytes(kIdxLabelsMagic, {2}, {1, 2, 3}));
  expect_error([&] { read_idx(dir + "/long", kIdxLabelsMagic); }, {"need 2 bytes after the header, found 3 (1 trailing"});
  // a gzip stream cut in the middle
  write_gz(dir + "/full.gz", idx_bytes(kIdxImagesMagic, {50, 28, 28}, std::vector<uint8_t>(50 * 784, 7)));
  const std::string gz = read_text(dir + "/full.gz");
  write_bytes(dir + "/cut.gz", gz.substr(0, gz.size() / 2));
  expect_error([&] { read_idx(dir + "/cut.gz", kIdxImagesMagic); }, {dir + "/cut.gz", "truncated gzip stream"});
  std::string corrupt = gz;
  for (size_t i = 12; i < 40 && i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(0xff);
  write_bytes(dir + "/corrupt.gz", corrupt);
  expect_error([&] { read_idx(dir + "/corrupt.gz", kIdxImagesMagic); }, {dir + "/corrupt.gz", "gzip"});
}

BOOST_AUTO_TEST_CASE(idx_wrong_magic_and_dimensions) {
  const std::string dir = scratch_dir("bad_idx2");
  write_gz(dir + "/img.gz", idx_bytes(kIdxImagesMagic, {3, 2, 2}, std::vector<uint8_t>(12, 1)));
  write_gz(dir + "/lab.gz", idx_bytes(kIdxLabelsMagic, {2}, {1, 2}));
  write_gz(dir + "/lab3.gz", idx_bytes(kIdxLabelsMagic, {3}, {1, 2, 10}));
  // labels where images belong
  expect_error([&] { load_idx(dir + "/lab.gz", dir + "/lab.gz", 10, "t"); },
               {dir + "/lab.gz", "wrong IDX magic number: expected 0x00000803 (ubyte images [N,H,W]), found 0x00000801"});
  // float IDX (type 0x0d) instead of ubyte
  write_bytes(dir + "/float", idx_bytes(0x00000d03, {1, 1, 1}, {0, 0, 0, 0}));
  expect_error([&] { read_idx(dir + "/float", kIdxImagesMagic); }, {"expected 0x00000803", "found 0x00000d03"});
  expect_error([&] { load_idx(dir + "/img.gz", dir + "/lab.gz", 10, "t"); },
               {dir + "/lab.gz: count mismatch: 2 labels but " + dir + "/img.gz has 3 images"});
  expect_error([&] { load_idx(dir + "/img.gz", dir + "/lab3.gz", 10, "t"); },
               {dir + "/lab3.gz", "label 10 at index 2 is outside [0, 10)"});
  expect_error([&] { load_fashion_mnist("train", dir + "/nowhere"); },
               {"cannot open " + dir + "/nowhere/train-images-idx3-ubyte.gz"});
  expect_error([&] { load_fashion_mnist("validation"); }, {"split must be 'train' or 'test', got 'validation'"});
  // 2x2 images are not Fashion-MNIST
  fs::create_directories(dir + "/fm");
  write_gz(dir + "/fm/t10k-images-idx3-ubyte.gz", idx_bytes(kIdxImagesMagic, {3, 2, 2}, std::vector<uint8_t>(12, 1)));
  write_gz(dir + "/fm/t10k-labels-idx1-ubyte.gz", idx_bytes(kIdxLabelsMagic, {3}, {1, 2, 3}));
  expect_error([&] { load_fashion_mnist("test", dir + "/fm"); }, {"expected 28x28 images, found 2x2"});
}

// ---- digits JSON ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(digits_json_defects) {
  const std::string dir = scratch_dir("bad_digits");
  expect_error([&] { load_digits_all(dir + "/missing"); },
               {"cannot open " + dir + "/missing/src/digits/0.json", "fetch_digits.sh"});
  expect_error([&] { parse_digits_json("", "digits/0.json"); }, {"digits/0.json: empty file"});
  expect_error([&] { parse_digits_json("{\"data\": [0, 0.5,", "digits/1.json"); },
               {"digits/1.json: invalid JSON at byte"});
  // the design's example, to the letter: a 1.7 at index 20411
  std::string s = "{\"data\": [";
  for (int i = 0; i < 784 * 27; ++i) s.append(i ? "," : "").append(i == 20411 ? "1.7" : "0.25");
  expect_error([&] { parse_digits_json(s + "]}", "digits/3.json"); },
               {"digits/3.json: expected 784*N floats in [0,1], found 1.7 at index 20411"});
  std::string ragged = "{\"data\": [";
  for (int i = 0; i < 785; ++i) ragged.append(i ? "," : "").append("0");
  expect_error([&] { parse_digits_json(ragged + "]}", "digits/4.json"); },
               {"digits/4.json: expected 784*N floats (N >= 1), found 785 (1 images and 1 extra values)"});
  expect_error([&] { parse_digits_json("{\"data\": [0, \"x\"]}", "d.json"); }, {"found a string at index 1"});
  expect_error([&] { parse_digits_json("{\"data\": [0, -0.5]}", "d.json"); }, {"found -0.5 at index 1"});
  expect_error([&] { parse_digits_json("{\"pixels\": []}", "d.json"); }, {"d.json", "without key \"data\""});
  expect_error([&] { parse_digits_json("[1,2]", "d.json"); }, {"d.json", "found a JSON array"});
  expect_error([&] { parse_digits_json("{\"data\": []}", "d.json"); }, {"found 0"});
}

// ---- CSV ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(csv_defects_name_file_line_and_column) {
  const std::string dir = scratch_dir("bad_csv");
  expect_error([&] { load_csv(dir + "/none.csv"); }, {"cannot open " + dir + "/none.csv"});
  write_bytes(dir + "/empty.csv", "\n\n");
  expect_error([&] { load_csv(dir + "/empty.csv"); }, {dir + "/empty.csv: empty file"});
  expect_error([&] { parse_csv("a,b\n1,2\n3,nan\n", "t.csv"); },
               {"t.csv:3: column 2 ('b'): expected a finite number, found NaN"});
  expect_error([&] { parse_csv("1,2\n3,-inf\n", "t.csv"); }, {"t.csv:2: column 2: expected a finite number, found '-inf'"});
  expect_error([&] { parse_csv("1,2\n1e39,0\n", "t.csv"); }, {"t.csv:2: column 1", "overflows float"});
  // beyond a double: out of range, not "expected a number" (also in the first row, not a header)
  expect_error([&] { parse_csv("1,2\n3,-1e400\n", "t.csv"); }, {"t.csv:2: column 2: '-1e400' is out of range"});
  expect_error([&] { parse_csv("x,y\n1,2\n3,1e99999\n", "t.csv"); }, {"t.csv:3: column 2 ('y'): '1e99999' is out of range"});
  expect_error([&] { parse_csv("1e400,2\n3,4\n", "t.csv"); }, {"t.csv:1: column 1: '1e400' is out of range"});
  expect_error([&] { parse_csv("a,b,c\n1,2,3\n4,5\n", "t.csv"); },
               {"t.csv:3: ragged row: expected 3 fields (as line 1), found 2"});
  expect_error([&] { parse_csv("1,2\n3,4,5\n", "t.csv"); }, {"t.csv:2: ragged row: expected 2 fields"});
  expect_error([&] { parse_csv("x,y\n1,2\n3,abc\n", "t.csv"); }, {"t.csv:3: column 2 ('y'): expected a number, found 'abc'"});
  expect_error([&] { parse_csv("1,2\n3,\n", "t.csv"); }, {"t.csv:2: column 2: expected a number, found an empty field"});
  expect_error([&] { parse_csv("1,2\n3,4x\n", "t.csv"); }, {"t.csv:2", "found '4x'"});
  CsvOptions o;
  o.label = "species";
  expect_error([&] { parse_csv("a,b\n1,2\n", "t.csv", o); },
               {"t.csv:1: no label column 'species' in the header (columns: a, b)"});
  o.label = "5";
  expect_error([&] { parse_csv("1,2\n", "t.csv", o); }, {"t.csv:1: label column 5 is outside the 2 columns"});
  expect_error([&] { parse_csv("a,b\n", "t.csv"); }, {"t.csv: a header but no data rows"});
}

// ---- checkpoints (nn's loader) --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(checkpoint_wrong_shape_dtype_and_truncation) {
  const std::string dir = scratch_dir("bad_ckpt");
  Rng rng(1);
  MLP<float> small({4, 3, 2}, Activation::ReLU, rng), big({4, 5, 2}, Activation::ReLU, rng);
  save_checkpoint<float>(dir + "/small.safetensors", small);
  expect_error([&] { load_checkpoint<float>(dir + "/small.safetensors", big); },
               {dir + "/small.safetensors", "fc1.weight", "[3,4]", "[5,4]"});
  MLP<double> dbl({4, 3, 2}, Activation::ReLU, rng);
  save_checkpoint<double>(dir + "/double.safetensors", dbl);
  expect_error([&] { load_checkpoint<float>(dir + "/double.safetensors", small); },
               {dir + "/double.safetensors", "F64", "F32"});
  const std::string bytes = read_text(dir + "/small.safetensors");
  write_bytes(dir + "/cut.safetensors", bytes.substr(0, bytes.size() - 5));
  expect_error([&] { load_checkpoint<float>(dir + "/cut.safetensors", small); }, {dir + "/cut.safetensors"});
  write_bytes(dir + "/empty.safetensors", "");
  expect_error([&] { load_checkpoint<float>(dir + "/empty.safetensors", small); }, {dir + "/empty.safetensors"});
  expect_error([&] { load_checkpoint<float>(dir + "/none.safetensors", small); }, {dir + "/none.safetensors"});
  BOOST_TEST(temp_leftovers(dir).empty());
}

// ---- the classify driver --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(classify_rejects_bad_flags_and_config) {
  BOOST_TEST_REQUIRE(have_classify(), "bin/classify not built");
  const std::string dir = scratch_dir("bad_classify_flags");
  RunResult r = classify("--epochs 0 --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--epochs") != std::string::npos);
  BOOST_TEST(r.err.find("not in range 1 to 100000") != std::string::npos);
  r = classify("--data cifar --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--data") != std::string::npos);
  BOOST_TEST(r.err.find("digits") != std::string::npos);
  r = classify("--hiden 3 --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--hiden") != std::string::npos);
  r = classify("--lr abc --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--lr") != std::string::npos);
  write_bytes(dir + "/cfg.json", R"({"epochs": 2, "hiden": 3})");
  r = classify("--config " + dir + "/cfg.json --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find(dir + "/cfg.json: unknown key 'hiden'") != std::string::npos);
  BOOST_TEST(r.err.find("hidden") != std::string::npos);  // the valid keys are listed
  write_bytes(dir + "/cfg2.json", R"({"batch": -4})");
  r = classify("--config " + dir + "/cfg2.json --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("cfg2.json: key 'batch'") != std::string::npos);
  write_bytes(dir + "/cfg3.json", R"({"epochs": 2,)");
  r = classify("--config " + dir + "/cfg3.json --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("cfg3.json: invalid JSON at byte") != std::string::npos);
  r = classify("--config " + dir + "/none.json --out " + dir + "/a");
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("none.json") != std::string::npos);
  BOOST_TEST(!fs::exists(dir + "/a"));  // nothing was started
}

BOOST_AUTO_TEST_CASE(classify_bad_data_fails_before_writing) {
  BOOST_TEST_REQUIRE(have_classify(), "bin/classify not built");
  const std::string dir = scratch_dir("bad_classify_data");
  RunResult r = classify("--data digits --out " + dir + "/a", "LZ_DATA_DIR=" + dir + "/nowhere");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("error: cannot open " + dir + "/nowhere/src/digits/0.json") != std::string::npos);
  fs::create_directories(dir + "/fm");
  write_gz(dir + "/fm/train-images-idx3-ubyte.gz", idx_bytes(kIdxImagesMagic, {3, 28, 28}, std::vector<uint8_t>(100, 1)));
  r = classify("--data fashion --data-dir " + dir + "/fm --out " + dir + "/a");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("train-images-idx3-ubyte.gz: truncated IDX data") != std::string::npos);
  // labels where the images belong: the wrong magic number
  write_gz(dir + "/fm/train-images-idx3-ubyte.gz", idx_bytes(kIdxLabelsMagic, {3}, {1, 2, 3}));
  r = classify("--data fashion --data-dir " + dir + "/fm --out " + dir + "/a");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("train-images-idx3-ubyte.gz: wrong IDX magic number: expected 0x00000803") != std::string::npos);
  // an empty digits file
  fs::create_directories(dir + "/dg/src/digits");
  write_bytes(dir + "/dg/src/digits/0.json", "");
  r = classify("--data digits --out " + dir + "/a", "LZ_DATA_DIR=" + dir + "/dg");
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find(dir + "/dg/src/digits/0.json: empty file") != std::string::npos);
  BOOST_TEST(!fs::exists(dir + "/a"));
  BOOST_TEST(temp_leftovers(dir).empty());
}
