// The main of every test executable (they are built with BOOST_TEST_NO_MAIN): Boost.Test's own,
// except that a run whose only news is a skip (tests/skip.hpp) exits 77, CTest's SKIP_RETURN_CODE.
#include <boost/test/unit_test.hpp>

#include "skip.hpp"

bool init_unit_test();  // defined by BOOST_TEST_MODULE in the test's own file

int main(int argc, char* argv[]) {
  const int rc = boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
  return rc == 0 && lz::test::skip_count() > 0 ? 77 : rc;
}
