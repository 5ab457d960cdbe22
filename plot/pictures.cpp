#include "plot/pictures.hpp"

#include <cstdio>
#include <exception>

#include "plot/plot.hpp"

namespace lz {

void Pictures::draw(const std::string& name, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const NothingToPlot& e) {
    std::fprintf(stderr, "note: %s not drawn: %s\n", name.c_str(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: picture %s: %s\n", name.c_str(), e.what());
    failed_.push_back(name);
  }
}

int Pictures::exit_code() const {
  if (failed_.empty()) return 0;
  std::string names;
  for (const auto& n : failed_) names += (names.empty() ? "" : ", ") + n;
  std::fprintf(stderr, "error: %zu picture%s not drawn (%s); the run's other results are written\n", failed_.size(),
               failed_.size() == 1 ? "" : "s", names.c_str());
  return 1;
}

}  // namespace lz
