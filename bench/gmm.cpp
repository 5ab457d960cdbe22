// bench_gmm: seconds per EM iteration of our GaussianMixture on the benchmark data sets, and the
// files that let bench/gmm_sklearn.py run scikit-learn on exactly the same data and start.
//
//   bench_gmm --data synth|fashion --cov full|diag --iters 20 --dir DIR
//
// synth:   100,000 points in 16-D from a random 8-component full-covariance mixture, K = 8.
// fashion: Fashion-MNIST's 60,000 training images on their first 50 principal components, K = 10.
// Both fits start from the same parameters: K data points as means, equal weights, and the data's
// covariance for every component. Writes DIR/<data>.bin (raw float64 [N,D]) and
// DIR/<data>_<cov>_init.json (weights, means, precisions with shapes); prints one line
// `ours data=.. cov=.. threads=.. s_per_iter=.. final_ll=.. n=.. d=.. k=..`.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bench/env.hpp"
#include "datasets/idx.hpp"
#include "models/gmm.hpp"
#include "models/pca.hpp"
#include "nn/atomic_file.hpp"
#include "tensor/ops.hpp"
#include "train/run.hpp"

using namespace lz;

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

TensorD synth(Rng& rng) {
  const int64_t N = 100000, D = 16, K = 8;
  TensorD mu = TensorD::normal({K, D}, 0.0, 3.0, rng), A = TensorD::normal({K, D, D}, 0.0, 1.0 / 4.0, rng);
  TensorD X = TensorD::empty({N, D});
  std::vector<double> z(D);
  for (int64_t n = 0; n < N; ++n) {
    const int64_t k = static_cast<int64_t>(rng.below(K));
    for (auto& v : z) v = rng.normal();
    for (int64_t i = 0; i < D; ++i) {  // x = μ + (A + 0.7 I) z: a random full covariance
      double s = 0.7 * z[i];
      for (int64_t j = 0; j < D; ++j) s += A[(k * D + i) * D + j] * z[j];
      X[n * D + i] = mu[k * D + i] + s;
    }
  }
  return X;
}

TensorD fashion50() {
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset d = load_fashion_mnist("train");
  TensorD X = TensorD::empty(d.x.shape());
  for (int64_t i = 0; i < X.numel(); ++i) X[i] = d.x[i];
  PCA pca(50);
  pca.fit(X);
  TensorD Z = pca.transform(X);
  std::cerr << "fashion: PCA 784 -> 50 in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
            << " s (explained variance ratio " << sum_all(pca.explained_variance_ratio()) << ")\n";
  return Z;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::print_env();
    std::string data = "synth", cov = "full", dir = "/tmp/lz_bench_gmm";
    int iters = 20;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument("flag " + a + " needs a value");
      const std::string v = argv[++i];
      if (a == "--data") data = v;
      else if (a == "--cov") cov = v;
      else if (a == "--iters") iters = std::stoi(v);
      else if (a == "--dir") dir = v;
      else throw std::invalid_argument("unknown flag " + a + " (expected --data, --cov, --iters, --dir)");
    }
    if (data != "synth" && data != "fashion")
      throw std::invalid_argument("--data: expected synth or fashion, found '" + data + "'");
    if (iters < 3) throw std::invalid_argument("--iters: expected >= 3");
    const CovarianceType type = parse_covariance_type(cov, "--cov");
    make_dirs(dir);
    Rng rng(2024);
    // The Fashion projection is reused from DIR when an earlier run of this script left it there.
    TensorD X;
    const std::string cached = dir + "/" + data + ".bin";
    if (data == "fashion" && std::filesystem::exists(cached) &&
        std::filesystem::file_size(cached) == sizeof(double) * 60000 * 50) {
      X = TensorD::empty({60000, 50});
      std::ifstream(cached, std::ios::binary).read(reinterpret_cast<char*>(X.data()), sizeof(double) * X.numel());
      std::cerr << "fashion: reusing the PCA projection in " << cached << "\n";
    } else {
      X = data == "synth" ? synth(rng) : fashion50();
    }
    const int64_t N = X.size(0), D = X.size(1), K = data == "synth" ? 8 : 10;
    // The data for the peer script, written atomically (a killed bench leaves no half file).
    write_file_atomic(dir + "/" + data + ".bin",
                      std::string_view(reinterpret_cast<const char*>(X.data()), sizeof(double) * N * D));

    // The common start: K random data points as means, equal weights, the data covariance.
    GmmParams init;
    init.type = type;
    init.weights = TensorD::full({K}, 1.0 / static_cast<double>(K));
    init.means = TensorD::empty({K, D});
    for (int64_t k = 0; k < K; ++k) {
      const int64_t r = static_cast<int64_t>(rng.below(N));
      std::memcpy(init.means.data() + k * D, X.data() + r * D, sizeof(double) * D);
    }
    TensorD mean = lz::mean(X, 0), C({D, D});
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < D; ++i)
        for (int64_t j = 0; j <= i; ++j) C[i * D + j] += (X[n * D + i] - mean[i]) * (X[n * D + j] - mean[j]) / N;
    for (int64_t i = 0; i < D; ++i)
      for (int64_t j = 0; j < i; ++j) C[j * D + i] = C[i * D + j];
    init.covariances = type == CovarianceType::full ? TensorD::empty({K, D, D}) : TensorD::empty({K, D});
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < D; ++i) {
        if (type == CovarianceType::full)
          std::memcpy(init.covariances.data() + (k * D + i) * D, C.data() + i * D, sizeof(double) * D);
        else
          init.covariances[k * D + i] = C[i * D + i];
      }
    // covariance -> precision is the same SPD inversion as precision -> covariance
    const TensorD prec = precisions_to_covariances(type, init.covariances);
    nlohmann::json j = {{"weights", init.weights.to_vector()}, {"means", init.means.to_vector()},
                        {"means_shape", init.means.shape()}, {"precisions", prec.to_vector()},
                        {"precisions_shape", prec.shape()}, {"n", N}, {"d", D}, {"k", K}};
    atomic_write(dir + "/" + data + "_" + cov + "_init.json", j.dump());

    GmmOptions o;
    o.n_components = K;
    o.covariance_type = type;
    o.tol = 0;
    o.max_iter = iters;
    // CPU time per iteration is differential, as in gmm_sklearn.py: (fit with `iters` iterations -
    // fit with 2) / (iters - 2), so the fixed costs of a fit (transposing the data, the final E-step) cancel.
    o.max_iter = 2;
    GaussianMixture warm(o);
    double c0 = cpu_seconds();
    warm.fit_from(X, init);
    const double cpu2 = cpu_seconds() - c0;
    o.max_iter = iters;
    GaussianMixture gm(o);
    c0 = cpu_seconds();
    const GmmFitReport& rep = gm.fit_from(X, init);
    const double cpu = (cpu_seconds() - c0 - cpu2) / (iters - 2);
    // Wall time per iteration: the median of the per-iteration times (robust to a busy machine).
    std::vector<double> dt;
    for (size_t i = 1; i < rep.seconds.size(); ++i) dt.push_back(rep.seconds[i] - rep.seconds[i - 1]);
    std::sort(dt.begin(), dt.end());
    const double per_iter = dt[dt.size() / 2];
    std::printf("ours data=%s cov=%s threads=%d s_per_iter=%.6f cpu_s_per_iter=%.6f final_ll=%.10f n=%lld d=%lld k=%lld\n",
                data.c_str(), cov.c_str(), blas_threads(), per_iter, cpu, gm.score(X), static_cast<long long>(N),
                static_cast<long long>(D), static_cast<long long>(K));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
