#include "train/sizes.hpp"

#include <charconv>
#include <sstream>
#include <stdexcept>

namespace lz {

std::vector<int64_t> parse_size_list(const std::string& flag, const std::string& text, int64_t max_each) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    int64_t v = 0;
    auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (r.ec != std::errc() || r.ptr != tok.data() + tok.size() || v < 1 || v > max_each)
      throw std::invalid_argument(flag + ": expected comma-separated sizes in [1, " + std::to_string(max_each) +
                                  "] like 200,200, found '" + tok + "'");
    out.push_back(v);
  }
  if (out.empty()) throw std::invalid_argument(flag + ": expected comma-separated sizes like 200,200, found nothing");
  return out;
}

}  // namespace lz
