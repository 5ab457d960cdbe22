// CSV data: numeric columns, an optional header, an optional label column.
//
// The header is detected when not told: a first row with any field that is not a number is a header.
// Every cell must be a finite number that fits a float (NaN, inf, empty, text, or a number beyond a
// double's range, "out of range", are rejected), every row must have as many fields as the first;
// errors name file:line and the column (by index and header name).
// A UTF-8 byte-order mark at the start is ignored. Blank lines (empty or only spaces, tabs and \r)
// are skipped wherever they are, before the header or between rows; line numbers in messages still
// count them, and blank lines between rows get one warning on stderr naming the first
// ("warning: t.csv:3: blank line skipped"). Fields may be wrapped in double quotes; a quoted comma is not supported.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "datasets/dataset.hpp"

namespace lz {

struct CsvOptions {
  enum class Header { Auto, Yes, No };
  Header header = Header::Auto;
  // The label column: "" for none, a header name, or a 0-based index ("4"; "-1" = the last column).
  // Labels must be non-negative integers, or else text: distinct texts become classes 0.. in sorted order.
  std::string label;
  char delimiter = ',';
};

// In-memory entry point (also the fuzz target's). `where` is the file name used in messages.
// `header`, when given, receives the header's names of the feature columns (the label's left
// out), or nothing when the file has no header.
Dataset parse_csv(std::string_view text, const std::string& where, const CsvOptions& opt = {},
                  std::vector<std::string>* header = nullptr);
Dataset load_csv(const std::string& path, const CsvOptions& opt = {}, std::vector<std::string>* header = nullptr);

// A training file and a test set the user split off themselves (the drivers' --test-csv): both
// read and checked the same way, and the test file held to the training file's columns: as many
// features, and the same names in the same order when both have a header. A mismatch throws
// naming both files ("b.csv (the test set): 3 columns (x, y, z), but the training data a.csv has 2 (x, y)").
std::pair<Dataset, Dataset> load_csv_train_test(const std::string& train_path, const std::string& test_path,
                                                const CsvOptions& opt = {});

}  // namespace lz
