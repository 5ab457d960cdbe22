// cli/memory: the estimate of a network's training memory, and the refusal when it will not fit
// (issue 39: `mdn --hidden 65536,65536` ran a 24 GB machine out of memory with no message).
#define BOOST_TEST_MODULE memory
#include <boost/test/unit_test.hpp>

#include "cli/flag_error.hpp"
#include "cli/memory.hpp"

using namespace lz;

BOOST_AUTO_TEST_CASE(mlp_sizes_count_weights_biases_and_activations) {
  const NetworkSize s = mlp_size(3, {5, 7}, 2);  // 3*5+5 + 5*7+7 + 7*2+2
  BOOST_TEST(s.parameters == 20 + 42 + 16);
  BOOST_TEST(s.activations_per_row == 5 + 7 + 2);
  BOOST_TEST(s.widest == 7);
  NetworkSize both = s;
  both += mlp_size({1, 9});
  BOOST_TEST(both.parameters == 78 + 18);
  BOOST_TEST(both.widest == 9);
  // 4 bytes x (4 x parameters + 3 x activations x rows + 2 x widest x evaluation rows)
  BOOST_TEST(training_bytes(s, 10, 100) == 4.0 * (4 * 78 + 3 * 14 * 10 + 2 * 7 * 100));
}

BOOST_AUTO_TEST_CASE(too_large_is_a_flag_error_naming_flag_estimate_and_available) {
  const NetworkSize s = mlp_size(1, {65536, 65536}, 15);
  const AvailableMemory eight{8e9, "MemAvailable in /proc/meminfo"};
  try {
    check_fits_in_memory("--hidden", "65536,65536", s, 100, 0, eight);
    BOOST_ERROR("no refusal");
  } catch (const FlagError& e) {
    const std::string m = e.what();
    BOOST_TEST(m.find("--hidden 65536,65536: training needs about 68.9 GB") != std::string::npos, m);
    BOOST_TEST(m.find("4.3e+09 parameters") != std::string::npos, m);
    BOOST_TEST(m.find("more than the 8 GB available (MemAvailable in /proc/meminfo)") != std::string::npos, m);
  }
  // what fits passes, and nothing is checked when the available memory is unknown
  BOOST_CHECK_NO_THROW(check_fits_in_memory("--hidden", "64,64", mlp_size(1, {64, 64}, 15), 100, 0, eight));
  BOOST_CHECK_NO_THROW(check_fits_in_memory("--hidden", "65536,65536", s, 100, 0, std::nullopt));
  // this machine reports something (Linux: /proc/meminfo)
  const auto here = available_memory();
  BOOST_TEST_REQUIRE(here.has_value());
  BOOST_TEST(here->bytes > 0);
  BOOST_TEST(human_bytes(68.7e9) == "68.7 GB");
  BOOST_TEST(human_bytes(512e6) == "512 MB");
}
