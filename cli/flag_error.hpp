// A bad flag value found after parsing (a size list, a range of K, a network too large for the
// machine): lz::guarded_main prints it as "error: ..." and exits 2, as CLI11's own flag errors do,
// where any other exception (a bad file, a failed write) exits 1.
#pragma once

#include <stdexcept>
#include <string>

namespace lz {

class FlagError : public std::invalid_argument {
 public:
  explicit FlagError(const std::string& message) : std::invalid_argument(message) {}
};

}  // namespace lz
