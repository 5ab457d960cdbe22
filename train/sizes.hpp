// Comma-separated size lists from flags ("200,200").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lz {

// Parses "200,200"; throws std::invalid_argument naming `flag` for anything but positive integers
// up to max_each.
std::vector<int64_t> parse_size_list(const std::string& flag, const std::string& text, int64_t max_each);

}  // namespace lz
