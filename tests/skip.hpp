// Skips that CTest can see. A case that cannot run its check calls skip() (or missing() for
// something scripts/setup.sh installs) and returns; tests/main.cpp then ends the process with
// exit code 77, which tests/CMakeLists.txt declares as SKIP_RETURN_CODE, unless a check failed.
// Declare such a case with LZ_SKIPPABLE_CASE(name) instead of BOOST_AUTO_TEST_CASE(name):
// tests/CMakeLists.txt finds it in the source and registers it as its own CTest test
// (<layer>.<file>.<name>), so its skip cannot hide the file's other cases, which run as
// <layer>.<file> without it.
#pragma once

#include <cstdlib>
#include <iostream>
#include <string>

#include <boost/test/unit_test.hpp>

// Two labels: "skippable" (the other cases run with --run_test=!@skippable) and the case's own
// name (its CTest test runs with --run_test=@<name>, wherever the case sits in a suite).
#define LZ_SKIPPABLE_CASE(name) \
  BOOST_AUTO_TEST_CASE(name, *boost::unit_test::label("skippable") * boost::unit_test::label(#name))

namespace lz::test {

inline int& skip_count() {
  static int n = 0;
  return n;
}

// The check cannot run here; say why. Exit code 77 unless something failed.
inline void skip(const std::string& why) {
  ++skip_count();
  BOOST_TEST_MESSAGE("SKIPPED: " << why);
  std::cerr << "SKIPPED: " << why << "\n";
}

// True if LZ_REQUIRE_PEERS is set (scripts/test.sh sets it once setup has installed the peers, and
// whenever CI is set): then what setup.sh installs must be there.
inline bool peers_required() {
  const char* v = std::getenv("LZ_REQUIRE_PEERS");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

// `package` (a Debian package that scripts/setup.sh installs) is missing: a skip, or a failure
// naming the package under LZ_REQUIRE_PEERS.
inline void missing(const std::string& package, const std::string& detail = "") {
  const std::string what = package + " is not installed" + (detail.empty() ? "" : " (" + detail + ")");
  if (peers_required())
    BOOST_ERROR(what << ", and LZ_REQUIRE_PEERS is set: install it (scripts/setup.sh --peers)");
  else
    skip(what + "; scripts/setup.sh --peers installs it");
}

}  // namespace lz::test
