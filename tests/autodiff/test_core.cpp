#define BOOST_TEST_MODULE autodiff_core
#include <boost/test/unit_test.hpp>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"

using namespace lz;

BOOST_AUTO_TEST_CASE(add_mul_matmul_gradcheck) {
  Rng rng(1);
  auto r = gradcheck([](const std::vector<VarD>& v) { return sum(matmul(v[0], v[1]) * v[2] + v[2]); },
                     {TensorD::normal({3, 4}, 0, 1, rng), TensorD::normal({4, 5}, 0, 1, rng),
                      TensorD::normal({5}, 0, 1, rng)});
  BOOST_TEST(r.ok, r.message);
  BOOST_TEST(r.checks == 12 + 20 + 5);
}
