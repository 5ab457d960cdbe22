// PCA (models/pca): each component is a unit eigenvector of the naive sample covariance with its
// eigenvalue as explained variance, in decreasing order; full-rank transform round-trips.
#define BOOST_TEST_MODULE gmm_pca
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "models/pca.hpp"

using namespace lz;

BOOST_AUTO_TEST_CASE(components_are_eigenvectors_of_the_sample_covariance) {
  const int64_t N = 400, D = 5;
  Rng rng(3);
  TensorD X({N, D});
  for (int64_t n = 0; n < N; ++n) {  // correlated columns with distinct scales, off-centre
    double z[5];
    for (double& v : z) v = rng.normal();
    for (int64_t d = 0; d < D; ++d) X[n * D + d] = 10.0 + (d + 1) * z[d] + 0.5 * z[(d + 1) % D];
  }
  double C[5][5] = {}, m[5] = {};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) m[d] += X[n * D + d] / N;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t a = 0; a < D; ++a)
      for (int64_t b = 0; b < D; ++b) C[a][b] += (X[n * D + a] - m[a]) * (X[n * D + b] - m[b]) / (N - 1);
  double trace = 0;
  for (int64_t d = 0; d < D; ++d) trace += C[d][d];

  PCA pca(3);
  pca.fit(X);
  const TensorD& V = pca.components();
  for (int64_t i = 0; i < 3; ++i) {
    const double lam = pca.explained_variance()[i];
    if (i > 0) BOOST_TEST(lam <= pca.explained_variance()[i - 1]);
    BOOST_TEST(pca.explained_variance_ratio()[i] == lam / trace, boost::test_tools::tolerance(1e-12));
    for (int64_t a = 0; a < D; ++a) {  // C v = λ v
      double cv = 0;
      for (int64_t b = 0; b < D; ++b) cv += C[a][b] * V[i * D + b];
      BOOST_TEST(cv == lam * V[i * D + a], boost::test_tools::tolerance(1e-9));
    }
    for (int64_t j = 0; j < 3; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < D; ++d) dot += V[i * D + d] * V[j * D + d];
      BOOST_TEST(dot + 1.0 == (i == j ? 2.0 : 1.0), boost::test_tools::tolerance(1e-12));
    }
  }
  // the largest eigenvalue is the largest variance of any projection: check it beats the axes
  for (int64_t d = 0; d < D; ++d) BOOST_TEST(pca.explained_variance()[0] >= C[d][d]);

  PCA all(D);
  all.fit(X);
  const TensorD back = all.inverse_transform(all.transform(X));
  for (int64_t i = 0; i < N * D; ++i) BOOST_TEST(back[i] == X[i], boost::test_tools::tolerance(1e-10));
}

BOOST_AUTO_TEST_CASE(bad_input) {
  TensorD X({3, 2});
  BOOST_CHECK_THROW(PCA(3).fit(X), std::invalid_argument);
  X[3] = std::nan("");
  BOOST_CHECK_THROW(PCA(1).fit(X), std::invalid_argument);
  BOOST_CHECK_THROW(PCA(1).transform(X), std::logic_error);
}
