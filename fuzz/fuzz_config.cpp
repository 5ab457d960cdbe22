// libFuzzer entry point; the body is lz::fuzz::check_config in fuzz/targets.hpp.
#include <cstdlib>

#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!lz::fuzz::check_config(data, size)) std::abort();
  return 0;
}
