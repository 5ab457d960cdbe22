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

// The panel layout: every column in its panel, the last panel's columns past P zero.
BOOST_AUTO_TEST_CASE(pack_panels_puts_each_column_in_its_panel_and_zeroes_the_rest) {
  Rng rng(5);
  for (int64_t J : {1, 3, 100})
    for (int64_t P : kPoints) {
      BOOST_TEST_CONTEXT("J = " << J << ", P = " << P) {
        const int64_t ldx = P + 2;
        const TensorD X = TensorD::normal({J, ldx}, 0.0, 1.0, rng);
        std::vector<double> Xp(linalg::panel_size(J, P) + 1, -7.0);
        BOOST_TEST(linalg::panel_size(J, P) == J * ((P + 7) / 8) * 8);
        linalg::pack_panels(J, P, X.data(), ldx, Xp.data());
        const int64_t panels = (P + linalg::kPanel - 1) / linalg::kPanel;
        for (int64_t q = 0; q < panels; ++q)
          for (int64_t j = 0; j < J; ++j)
            for (int64_t c = 0; c < linalg::kPanel; ++c) {
              const int64_t p = q * linalg::kPanel + c;
              BOOST_TEST(Xp[(q * J + j) * linalg::kPanel + c] == (p < P ? X[j * ldx + p] : 0.0));
            }
        BOOST_TEST(Xp.back() == -7.0);
      }
    }
}

// C = A X over the tile edges: M around the 6-row tile, P around a panel, J from 1.
BOOST_AUTO_TEST_CASE(gemm_panels_matches_a_naive_product) {
  Rng rng(6);
  for (int64_t M : {1, 2, 5, 6, 7, 10, 13})
    for (int64_t J : {1, 4, 7, 100})
      for (int64_t P : kPoints) {
        BOOST_TEST_CONTEXT("M = " << M << ", J = " << J << ", P = " << P) {
          const int64_t lda = J + 1, ldc = P + 3;
          const TensorD A = TensorD::normal({M, lda}, 0.0, 1.0, rng), X = TensorD::normal({J, P}, 1.0, 2.0, rng);
          std::vector<double> Xp(linalg::panel_size(J, P));
          linalg::pack_panels(J, P, X.data(), P, Xp.data());
          std::vector<double> C(M * ldc, -7.0);
          linalg::gemm_panels(M, J, A.data(), lda, Xp.data(), P, C.data(), ldc);
          for (int64_t i = 0; i < M; ++i)
            for (int64_t p = 0; p < ldc; ++p) {
              double want = -7.0, scale = 0;  // past P: untouched
              if (p < P) {
                want = 0;
                for (int64_t j = 0; j < J; ++j) {
                  want += A[i * lda + j] * X[j * P + p];
                  scale += std::abs(A[i * lda + j] * X[j * P + p]);
                }
              }
              // another order of the same sum: within a few ulps of the sum of the magnitudes
              BOOST_TEST(std::abs(C[i * ldc + p] - want) <= 1e-14 * scale);
            }
        }
      }
}

// S += R Xᵀ over the tile edges: M and J around the 4 x 3 tile, P around a panel and across the
// 256-point passes.
BOOST_AUTO_TEST_CASE(gemm_nt_panels_acc_adds_r_times_x_transposed) {
  Rng rng(7);
  for (int64_t M : {1, 2, 3, 4, 5, 9, 10, 13})
    for (int64_t J : {1, 2, 3, 4, 7, 100})
      for (int64_t P : {0, 1, 5, 8, 13, 64, 255, 256, 257, 600}) {
        BOOST_TEST_CONTEXT("M = " << M << ", J = " << J << ", P = " << P) {
          const int64_t ldr = P + 1, lds = J + 3;
          const TensorD R = TensorD::normal({M, ldr}, 0.0, 1.0, rng), X = TensorD::normal({J, P}, 1.0, 2.0, rng);
          std::vector<double> Xp(linalg::panel_size(J, P));
          linalg::pack_panels(J, P, X.data(), P, Xp.data());
          TensorD S = TensorD::normal({M, lds}, 0.0, 1.0, rng);
          const TensorD S0 = S.clone();
          linalg::gemm_nt_panels_acc(M, J, R.data(), ldr, Xp.data(), P, S.data(), lds);
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < lds; ++j) {
              double want = S0[i * lds + j], scale = std::abs(want);  // past J: untouched
              if (j < J)
                for (int64_t p = 0; p < P; ++p) {
                  want += R[i * ldr + p] * X[j * P + p];
                  scale += std::abs(R[i * ldr + p] * X[j * P + p]);
                }
              BOOST_TEST(std::abs(S[i * lds + j] - want) <= 1e-14 * scale);
            }
        }
      }
}
