#include "cli/sizes.hpp"

#include <charconv>
#include <stdexcept>

#include "cli/flag_error.hpp"

namespace lz {

namespace {

// One positive integer <= max; `what` says what was expected, for the message.
int64_t parse_positive(const std::string& flag, const std::string& item, const std::string& text, int64_t max,
                       const std::string& what) {
  int64_t v = 0;
  const char* end = item.data() + item.size();
  const auto [p, ec] = std::from_chars(item.data(), end, v);
  const bool digits = !item.empty() && item.find_first_not_of("0123456789") == std::string::npos;
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && p == end && v > max))
    throw FlagError(flag + ": " + item + " is above the limit " + std::to_string(max) + " (in '" + text + "')");
  if (!digits || ec != std::errc() || p != end || v < 1)
    throw FlagError(flag + ": expected " + what + ", found '" + item + "'" +
                                (item == text ? "" : " in '" + text + "'"));
  return v;
}

}  // namespace

std::vector<int64_t> parse_size_list(const std::string& flag, const std::string& text, int64_t max_each) {
  const std::string what = "comma-separated positive sizes like 200,200, each at most " + std::to_string(max_each);
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(parse_positive(flag, item, text, max_each, what));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

IntRange parse_int_range(const std::string& flag, const std::string& text, int64_t max) {
  const std::string what = "a positive integer K or a range LO:HI like 1:10, at most " + std::to_string(max);
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    const int64_t v = parse_positive(flag, text, text, max, what);
    return {v, v};
  }
  const IntRange r{parse_positive(flag, text.substr(0, colon), text, max, what),
                   parse_positive(flag, text.substr(colon + 1), text, max, what)};
  if (r.hi < r.lo) throw FlagError(flag + ": range " + text + " is empty (LO > HI)");
  return r;
}

}  // namespace lz
