// tensor/linalg.hpp's kernels against naive loops, for sizes around their tile edges (D mod 4,
// P mod 8) and with row strides larger than the rows.
#define BOOST_TEST_MODULE tensor_linalg
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "tensor/linalg.hpp"
#include "tensor/tensor.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
const int64_t kDims[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 50};
const int64_t kPoints[] = {0, 1, 3, 4, 5, 8, 9, 13, 16, 31, 64};
}  // namespace

BOOST_AUTO_TEST_CASE(tri_solve_sq_norms_matches_a_naive_forward_substitution) {
  Rng rng(3);
  for (int64_t D : kDims)
    for (int64_t P : kPoints) {
      BOOST_TEST_CONTEXT("D = " << D << ", P = " << P) {
        const int64_t ldl = D + 2, ldx = P + 3;
        TensorD L = TensorD::normal({D, ldl}, 0.0, 0.3, rng);
        for (int64_t i = 0; i < D; ++i) L[i * ldl + i] = 0.5 + std::abs(L[i * ldl + i]);  // well conditioned
        const TensorD X = TensorD::normal({D, ldx}, 1.0, 2.0, rng), mu = TensorD::normal({D}, 1.0, 1.0, rng);
        for (bool with_mu : {true, false}) {
          std::vector<double> q(P + 1, -7.0);
          linalg::tri_solve_sq_norms(D, L.data(), ldl, X.data(), ldx, with_mu ? mu.data() : nullptr, P, q.data());
          for (int64_t p = 0; p < P; ++p) {
            std::vector<double> y(D);
            double want = 0;
            for (int64_t i = 0; i < D; ++i) {
              double a = X[i * ldx + p] - (with_mu ? mu[i] : 0.0);
              for (int64_t j = 0; j < i; ++j) a -= L[i * ldl + j] * y[j];
              y[i] = a / L[i * ldl + i];
              want += y[i] * y[i];
            }
            BOOST_TEST(q[p] == want, tt::tolerance(1e-12));
          }
          BOOST_TEST(q[P] == -7.0);  // nothing written past the end
        }
      }
    }
}

BOOST_AUTO_TEST_CASE(syrk_lower_acc_adds_the_lower_triangle_of_y_yt) {
  Rng rng(4);
  for (int64_t D : kDims)
    for (int64_t P : kPoints) {
      BOOST_TEST_CONTEXT("D = " << D << ", P = " << P) {
        const int64_t ldy = P + 1, lds = D + 1;
        const TensorD Y = TensorD::normal({D, ldy}, 0.0, 1.0, rng);
        TensorD S = TensorD::normal({D, lds}, 0.0, 1.0, rng);
        const TensorD S0 = S.clone();
        linalg::syrk_lower_acc(D, Y.data(), ldy, P, S.data(), lds);
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < lds; ++j) {
            double want = S0[i * lds + j];
            if (j <= i)
              for (int64_t p = 0; p < P; ++p) want += Y[i * ldy + p] * Y[j * ldy + p];
            BOOST_TEST(S[i * lds + j] == want, tt::tolerance(1e-12));  // upper triangle and padding untouched
          }
      }
    }
}
