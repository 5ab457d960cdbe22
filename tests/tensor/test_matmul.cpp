// GEMM through cblas: every transpose-flag combination, batched and shared-side products,
// gemm_into's alpha/beta, against a naive triple loop.
#define BOOST_TEST_MODULE tensor_matmul
#include <boost/test/unit_test.hpp>

#include "tensor/ops.hpp"

using namespace lz;
namespace tt = boost::test_tools;

namespace {
// C[i,j] = Σ_k op(A)[i,k] op(B)[k,j] for one 2-D slice, with explicit transposed indexing.
template <typename T>
std::vector<double> naive(const T* a, const T* b, int64_t M, int64_t K, int64_t N, bool ta, bool tb) {
  std::vector<double> c(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k)
        c[i * N + j] += double(ta ? a[k * M + i] : a[i * K + k]) * double(tb ? b[j * K + k] : b[k * N + j]);
  return c;
}

template <typename T>
void check_2d(bool ta, bool tb, Rng& rng, double tol) {
  const int64_t M = 7, K = 13, N = 5;
  const Tensor<T> a = Tensor<T>::normal(ta ? Shape{K, M} : Shape{M, K}, 0, 1, rng);
  const Tensor<T> b = Tensor<T>::normal(tb ? Shape{N, K} : Shape{K, N}, 0, 1, rng);
  const Tensor<T> c = matmul(a, b, ta, tb);
  BOOST_TEST(c.shape() == (Shape{M, N}));
  const auto ref = naive(a.data(), b.data(), M, K, N, ta, tb);
  for (int64_t i = 0; i < M * N; ++i) BOOST_TEST(c[i] == ref[i], tt::tolerance(tol));
}
}  // namespace

BOOST_AUTO_TEST_CASE(all_four_transpose_combinations) {
  Rng rng(1);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      BOOST_TEST_CONTEXT("ta " << ta << " tb " << tb) {
        check_2d<double>(ta, tb, rng, 1e-12);
        check_2d<float>(ta, tb, rng, 1e-4);
      }
    }
}

BOOST_AUTO_TEST_CASE(batched_and_shared_side) {
  Rng rng(2);
  const int64_t B = 3, M = 4, K = 6, N = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int shared : {0, 1, 2}) {  // 0: both 3-D; 1: a is 2-D (shared); 2: b is 2-D (shared)
        BOOST_TEST_CONTEXT("ta " << ta << " tb " << tb << " shared " << shared) {
          Shape sa = ta ? Shape{K, M} : Shape{M, K}, sb = tb ? Shape{N, K} : Shape{K, N};
          if (shared != 1) sa.insert(sa.begin(), B);
          if (shared != 2) sb.insert(sb.begin(), B);
          const TensorD a = TensorD::normal(sa, 0, 1, rng), b = TensorD::normal(sb, 0, 1, rng);
          const TensorD c = matmul(a, b, ta, tb);
          BOOST_TEST(c.shape() == (Shape{B, M, N}));
          for (int64_t i = 0; i < B; ++i) {
            const auto ref = naive(a.data() + (shared == 1 ? 0 : i * M * K), b.data() + (shared == 2 ? 0 : i * K * N),
                                   M, K, N, ta, tb);
            for (int64_t e = 0; e < M * N; ++e) BOOST_TEST(c[i * M * N + e] == ref[e], tt::tolerance(1e-12));
          }
        }
      }
}

BOOST_AUTO_TEST_CASE(gemm_into_alpha_beta_and_edge_sizes) {
  Rng rng(3);
  const TensorD a = TensorD::normal({4, 3}, 0, 1, rng), b = TensorD::normal({5, 3}, 0, 1, rng);
  TensorD c = TensorD::normal({4, 5}, 0, 1, rng);
  const TensorD c0 = c.clone();
  gemm_into(a, b, c, false, true, 2.0, 0.5);
  const auto ref = naive(a.data(), b.data(), 4, 3, 5, false, true);
  for (int64_t i = 0; i < 20; ++i) BOOST_TEST(c[i] == 2.0 * ref[i] + 0.5 * c0[i], tt::tolerance(1e-12));
  BOOST_CHECK_THROW(gemm_into(a, b, c, false, false, 1.0, 0.0), ShapeError);
  // K = 0 gives zeros, not garbage.
  const TensorD z = matmul(TensorD::zeros({3, 0}), TensorD::zeros({0, 2}));
  BOOST_TEST(z.shape() == (Shape{3, 2}));
  for (int64_t i = 0; i < 6; ++i) BOOST_TEST(z[i] == 0.0);
}

BOOST_AUTO_TEST_CASE(transpose_copy) {
  Rng rng(4);
  const TensorD a = TensorD::normal({2, 37, 41}, 0, 1, rng);  // not a multiple of the 32 block
  const TensorD t = transpose(a);
  BOOST_TEST(t.shape() == (Shape{2, 41, 37}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 37; ++i)
      for (int64_t j = 0; j < 41; ++j) BOOST_REQUIRE(t.at({b, j, i}) == a.at({b, i, j}));
}

BOOST_AUTO_TEST_CASE(shape_errors_name_both_shapes) {
  try {
    matmul(TensorF::zeros({128, 784}), TensorF::zeros({400, 784}));
    BOOST_ERROR("no throw");
  } catch (const ShapeError& e) {
    BOOST_TEST(std::string(e.what()) ==
               "matmul: shapes [128,784] and [400,784] do not chain (inner 784 vs 400); did you mean b.T?");
  }
  try {
    matmul(TensorF::zeros({2, 3, 4}), TensorF::zeros({5, 4, 2}));
    BOOST_ERROR("no throw");
  } catch (const ShapeError& e) {
    BOOST_TEST(std::string(e.what()) == "matmul: shapes [2,3,4] and [5,4,2] have different batch sizes");
  }
  BOOST_CHECK_THROW(matmul(TensorF::zeros({4}), TensorF::zeros({4, 2})), ShapeError);
}
