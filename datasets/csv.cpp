#include "datasets/csv.hpp"

#include <charconv>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "datasets/idx.hpp"

namespace lz {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> split(std::string_view line, char delim) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t p = line.find(delim, start);
    out.push_back(trim(line.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start)));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

enum class Num { ok, not_a_number, out_of_range };

// Parses the whole field as a double.
Num parse_number(std::string_view s, double& v) {
  if (s.empty()) return Num::not_a_number;
  if (s.front() == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (p != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) return Num::not_a_number;
  if (ec == std::errc::result_out_of_range) {
    // from_chars says this for underflow too (1e-400), where strtod's 0 or subnormal is the answer.
    v = std::strtod(std::string(s).c_str(), nullptr);
    if (std::isinf(v)) return Num::out_of_range;
  }
  return Num::ok;
}

std::string show(std::string_view s) {
  std::string out(s.substr(0, 40));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) >= 127) c = '?';
  return "'" + out + (s.size() > 40 ? "...'" : "'");
}

}  // namespace

Dataset parse_csv(std::string_view text, const std::string& where, const CsvOptions& opt, std::vector<std::string>* header_out) {
  // Spreadsheet exports often begin with a UTF-8 byte-order mark; left in, it would make the
  // first field text, and the first data row a header.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  // Split into (line number, line), skipping blank lines.
  std::vector<std::pair<int64_t, std::string_view>> lines;
  int64_t lineno = 0;
  for (size_t start = 0; start < text.size();) {
    size_t p = text.find('\n', start);
    if (p == std::string_view::npos) p = text.size();
    ++lineno;
    std::string_view line = text.substr(start, p - start);
    if (!trim(line).empty() || line.find(opt.delimiter) != std::string_view::npos) lines.push_back({lineno, line});
    start = p + 1;
  }
  // Blank lines between rows are skipped, but a user should know (a lost row, a pasted gap): one
  // warning per file, naming the first. Blank lines before the first row or after the last are not news.
  if (!lines.empty()) {
    int64_t blank = 0, first_blank = 0;
    for (size_t i = 1; i < lines.size(); ++i)
      if (const int64_t gap = lines[i].first - lines[i - 1].first - 1; gap > 0) {
        if (blank == 0) first_blank = lines[i - 1].first + 1;
        blank += gap;
      }
    if (blank > 0)
      std::cerr << "warning: " << where << ":" << first_blank << ": blank line skipped"
                << (blank > 1 ? " (" + std::to_string(blank) + " blank lines between rows in all)" : std::string()) << "\n";
  }
  if (lines.empty()) throw std::runtime_error(where + ": empty file (expected rows of numbers separated by '" +
                                              std::string(1, opt.delimiter) + "')");

  const std::vector<std::string_view> first = split(lines[0].second, opt.delimiter);
  const int64_t ncols = static_cast<int64_t>(first.size());

  // Which column holds the label (resolved against the header if it is a name).
  auto is_index = [](const std::string& s) {
    size_t i = (s.size() > 1 && s[0] == '-') ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i)
      if (s[i] < '0' || s[i] > '9') return false;
    return s.size() < 10;
  };
  int64_t label_col = -1;
  if (!opt.label.empty() && is_index(opt.label)) {
    label_col = std::stoll(opt.label);
    if (label_col < 0) label_col += ncols;
    if (label_col < 0 || label_col >= ncols)
      throw std::runtime_error(where + ":" + std::to_string(lines[0].first) + ": label column " + opt.label +
                               " is outside the " + std::to_string(ncols) + " columns");
  }

  bool header;
  if (opt.header == CsvOptions::Header::Auto) {
    header = false;
    double v;
    for (int64_t c = 0; c < ncols; ++c)
      if (c != label_col && parse_number(first[c], v) == Num::not_a_number && !first[c].empty()) header = true;
    // A label named by text needs a header to find it.
    if (!opt.label.empty() && label_col < 0) header = true;
  } else {
    header = opt.header == CsvOptions::Header::Yes;
  }
  std::vector<std::string> names;
  for (int64_t c = 0; c < ncols; ++c) names.push_back(header ? std::string(first[c]) : std::to_string(c));
  if (!opt.label.empty() && label_col < 0) {
    for (int64_t c = 0; c < ncols && label_col < 0; ++c)
      if (header && names[c] == opt.label) label_col = c;
    if (label_col < 0) {
      std::string all;
      for (auto& n : names) all.append(all.empty() ? "" : ", ").append(n);
      throw std::runtime_error(where + ":" + std::to_string(lines[0].first) + ": no label column '" + opt.label + "'" +
                               (header ? " in the header (columns: " + all + ")" : " (the file has no header)"));
    }
  }
  auto col_name = [&](int64_t c) {
    return "column " + std::to_string(c + 1) + (header ? " ('" + names[c] + "')" : "");
  };

  const int64_t nfeat = ncols - (label_col >= 0 ? 1 : 0);
  if (nfeat == 0) throw std::runtime_error(where + ": no feature columns besides the label");
  const size_t first_row = header ? 1 : 0;
  const int64_t nrows = static_cast<int64_t>(lines.size() - first_row);
  if (nrows == 0) throw std::runtime_error(where + ": a header but no data rows");

  std::vector<float> x;
  x.reserve(static_cast<size_t>(nrows * nfeat));
  std::vector<std::string> label_text;
  for (size_t r = first_row; r < lines.size(); ++r) {
    const auto& [ln, line] = lines[r];
    const std::string at = where + ":" + std::to_string(ln);
    const std::vector<std::string_view> f = split(line, opt.delimiter);
    if (static_cast<int64_t>(f.size()) != ncols)
      throw std::runtime_error(at + ": ragged row: expected " + std::to_string(ncols) + " fields (as line " +
                               std::to_string(lines[0].first) + "), found " + std::to_string(f.size()));
    for (int64_t c = 0; c < ncols; ++c) {
      if (c == label_col) {
        if (f[c].empty()) throw std::runtime_error(at + ": empty label in " + col_name(c));
        label_text.emplace_back(f[c]);
        continue;
      }
      double v;
      if (f[c].empty()) throw std::runtime_error(at + ": " + col_name(c) + ": expected a number, found an empty field");
      const Num n = parse_number(f[c], v);
      if (n == Num::out_of_range)
        throw std::runtime_error(at + ": " + col_name(c) + ": " + show(f[c]) +
                                 " is out of range (beyond a double's 1.8e308; values must be finite floats)");
      if (n == Num::not_a_number)
        throw std::runtime_error(at + ": " + col_name(c) + ": expected a number, found " + show(f[c]));
      if (std::isnan(v)) throw std::runtime_error(at + ": " + col_name(c) + ": expected a finite number, found NaN");
      if (!std::isfinite(v) || std::fabs(v) > 3.4028234663852886e38)
        throw std::runtime_error(at + ": " + col_name(c) + ": expected a finite number, found " + show(f[c]) +
                                 (std::isinf(v) ? " (infinite)" : " (overflows float)"));
      x.push_back(static_cast<float>(v));
    }
  }

  if (header_out) {
    header_out->clear();
    for (int64_t c = 0; c < ncols && header; ++c)
      if (c != label_col) header_out->push_back(names[c]);
  }
  Dataset d;
  d.name = where;
  d.x = TensorF::from(x, {nrows, nfeat});
  if (label_col >= 0) {
    // Integer labels are taken as they are; anything else is a class name.
    bool integral = true;
    int64_t maxlab = -1;
    for (auto& s : label_text) {
      double v;
      if (parse_number(s, v) != Num::ok || v < 0 || v != std::floor(v) || v > 1e6) {
        integral = false;
        break;
      }
      maxlab = std::max(maxlab, static_cast<int64_t>(v));
    }
    if (integral) {
      for (auto& s : label_text) {
        double v;
        parse_number(s, v);
        d.y.push_back(static_cast<int64_t>(v));
      }
      d.num_classes = maxlab + 1;
    } else {
      std::set<std::string> distinct(label_text.begin(), label_text.end());
      std::map<std::string, int64_t> id;
      for (auto& s : distinct) id.emplace(s, static_cast<int64_t>(id.size()));
      for (auto& s : label_text) d.y.push_back(id[s]);
      d.num_classes = static_cast<int64_t>(id.size());
    }
  }
  return d;
}

Dataset load_csv(const std::string& path, const CsvOptions& opt, std::vector<std::string>* header) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path, opt, header);
}

std::pair<Dataset, Dataset> load_csv_train_test(const std::string& train_path, const std::string& test_path,
                                                const CsvOptions& opt) {
  std::vector<std::string> train_names, test_names;
  Dataset train = load_csv(train_path, opt, &train_names);
  Dataset test = load_csv(test_path, opt, &test_names);
  auto listed = [](const std::vector<std::string>& n) {
    std::string all;
    for (const auto& s : n) all.append(all.empty() ? "" : ", ").append(s);
    return n.empty() ? std::string() : " (" + all + ")";
  };
  if (test.dim() != train.dim())
    throw std::runtime_error(test_path + " (the test set): " + std::to_string(test.dim()) + " columns" +
                             listed(test_names) + ", but the training data " + train_path + " has " +
                             std::to_string(train.dim()) + listed(train_names) + (opt.label.empty() ? "" : " besides the label"));
  if (!train_names.empty() && !test_names.empty())
    for (size_t c = 0; c < train_names.size(); ++c)
      if (train_names[c] != test_names[c])
        throw std::runtime_error(test_path + " (the test set): column " + std::to_string(c + 1) + " is '" + test_names[c] +
                                 "', but in the training data " + train_path + " it is '" + train_names[c] + "'");
  return {std::move(train), std::move(test)};
}

}  // namespace lz
