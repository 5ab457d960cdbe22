// Integer lists and ranges given as flag text: "200,200" (layer sizes), "1:10" (a range of K).
// Each value is checked against a limit as it is read, so a huge value fails at once, naming the
// flag and the limit, instead of being allocated or enumerated first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lz {

// "200,200" -> {200, 200}: one or more positive integers separated by commas, each <= max_each.
// Throws lz::FlagError (cli/flag_error.hpp: exit code 2) naming `flag`, the offending item and the limit.
std::vector<int64_t> parse_size_list(const std::string& flag, const std::string& text, int64_t max_each);

// "3" -> {3, 3}; "1:10" -> {1, 10}: a positive integer or an inclusive range LO:HI with
// 1 <= LO <= HI <= max. Only the bounds are returned; the caller enumerates what it needs.
struct IntRange {
  int64_t lo = 0, hi = 0;
  int64_t count() const { return hi - lo + 1; }
};
IntRange parse_int_range(const std::string& flag, const std::string& text, int64_t max);

}  // namespace lz
