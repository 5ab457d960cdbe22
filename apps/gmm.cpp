// gmm: fit a Gaussian mixture by EM (and/or by gradient ascent with Adam) to a CSV, a 2-D toy or
// Fashion-MNIST projected on its first principal components; choose K by BIC over a range.
//
//   build/bin/gmm --toy pinwheel --n 2000 --k 1:10 --cov full --method both --out runs/gmm-pinwheel
//
// With --csv, --test-csv FILE scores every fitted mixture on a test set of the same columns.
//
// Writes to --out: config.json, params.json (the chosen mixture and the BIC table), em_curve.png
// (mean log-likelihood per EM iteration), for 2-D data clusters.png (points coloured by their most
// likely component, 1- and 2-sigma ellipses), and with --method both time.png (mean
// log-likelihood against wall time for EM and for gradient ascent from the same start).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "cli/flags.hpp"
#include "cli/sizes.hpp"
#include "datasets/csv.hpp"
#include "datasets/idx.hpp"
#include "datasets/toy.hpp"
#include "models/evaluate.hpp"
#include "models/gmm.hpp"
#include "models/gmm_sgd.hpp"
#include "models/pca.hpp"
#include "plot/pictures.hpp"
#include "plot/plot.hpp"
#include "plot/plot2d.hpp"
#include "train/distributed.hpp"
#include "train/page.hpp"
#include "train/run.hpp"

using namespace lz;
using json = nlohmann::json;

namespace {

struct Options {
  std::string csv, test_csv, toy, data_dir, k = "3", cov = "full", method = "em";
  int64_t n = 2000, fashion_pca = 0, n_init = 1, max_iter = 200, sgd_steps = 500;
  double tol = 1e-3, reg_covar = 1e-6, lr = 0.05;
};

// --k's limit: far more components than any data set here can support (K <= N is checked too).
constexpr int64_t kMaxComponents = 100000;

// `test` gets the --test-csv rows (held to --csv's columns), when given.
TensorD load_data(const Options& o, Rng& rng, std::string& name, TensorD& test) {
  const int sources = !o.csv.empty() + !o.toy.empty() + (o.fashion_pca > 0);
  if (sources != 1)
    throw FlagError("give exactly one data source: --csv FILE, --toy NAME or --fashion-pca D (found " +
                                std::to_string(sources) + ")");
  if (!o.data_dir.empty() && o.fashion_pca == 0)
    throw FlagError("--data-dir " + o.data_dir + ": only --fashion-pca reads a data folder");
  if (!o.test_csv.empty() && o.csv.empty())
    throw FlagError("--test-csv " + o.test_csv + ": a test set is for --csv data, not " +
                    (o.toy.empty() ? "--fashion-pca" : "--toy " + o.toy));
  if (!o.csv.empty()) {
    name = o.csv;
    if (o.test_csv.empty()) return tensor_cast<double>(load_csv(o.csv).x);
    auto [train, held_out] = load_csv_train_test(o.csv, o.test_csv);
    test = tensor_cast<double>(held_out.x);
    return tensor_cast<double>(train.x);
  }
  if (!o.toy.empty()) {
    name = o.toy;
    return tensor_cast<double>(make_toy(o.toy, o.n, rng).x);
  }
  name = "fashion-mnist-pca" + std::to_string(o.fashion_pca);
  const TensorD X = tensor_cast<double>(load_fashion_mnist("train", o.data_dir.empty() ? kFashionMnistDir : o.data_dir).x);
  PCA pca(o.fashion_pca);
  pca.fit(X);
  std::cerr << "PCA: " << o.fashion_pca << " components keep " << sum_all(pca.explained_variance_ratio()) * 100
            << "% of the variance\n";
  return pca.transform(X);
}

json params_json(const GmmParams& p) {
  return {{"covariance_type", to_string(p.type)}, {"weights", p.weights.to_vector()},
          {"means", p.means.to_vector()},         {"means_shape", p.means.shape()},
          {"covariances", p.covariances.to_vector()}, {"covariances_shape", p.covariances.shape()}};
}

// Component k's 2x2 covariance, whatever the covariance type.
std::array<double, 4> cov2(const GmmParams& p, int64_t k) {
  const auto& c = p.covariances;
  switch (p.type) {
    case CovarianceType::full: return {c[k * 4], c[k * 4 + 1], c[k * 4 + 2], c[k * 4 + 3]};
    case CovarianceType::tied: return {c[0], c[1], c[2], c[3]};
    case CovarianceType::diag: return {c[k * 2], 0, 0, c[k * 2 + 1]};
    case CovarianceType::spherical: return {c[k], 0, 0, c[k]};
  }
  return {};
}

// Points coloured by their most likely component, each component's 1- and 2-σ ellipses in its
// black (thick and thin) over them, its mean as a cross; axes and a legend (plot/plot2d, gnuplot).
void draw_clusters(const TensorD& X, const GaussianMixture& gm, const std::string& path) {
  const GmmParams& p = gm.params();
  std::vector<std::string> names;
  std::vector<Curve> ellipses;
  std::vector<std::array<double, 2>> means;
  for (int64_t k = 0; k < p.n_components(); ++k) {
    const std::array<double, 2> mu = {p.means[k * 2], p.means[k * 2 + 1]};
    names.push_back("component " + std::to_string(k));
    ellipses.push_back(ellipse_curve(mu, cov2(p, k), 1.0, k ? "" : "1 and 2 sigma", "black", 2.0));
    ellipses.push_back(ellipse_curve(mu, cov2(p, k), 2.0, "", "black", 1.0));
    means.push_back(mu);
  }
  plot_labelled_points(tensor_cast<float>(X), gm.predict(X), names, path,
                       "Gaussian mixture, K = " + std::to_string(p.n_components()) + ": points by most likely component",
                       "x1", "x2", ellipses, means, "means");
}

struct Fit {
  int64_t k = 0;
  GaussianMixture gm{GmmOptions{}};
  GmmParams start;  // the start of the kept restart (for gradient ascent from the same place)
  GmmSgdReport sgd;
  double ll = 0, bic = 0, aic = 0;
};

// Gradient ascent from the fit's start; with --method sgd its parameters become the fit's.
void run_sgd(const TensorD& X, const Options& o, CovarianceType type, Fit& f) {
  GmmSgdOptions so;
  so.n_components = f.k;
  so.covariance_type = type;
  so.lr = o.lr;
  so.steps = static_cast<int>(o.sgd_steps);
  GmmGradientAscent sgd(so);
  f.sgd = sgd.fit_from(X, f.start);
  if (o.method == "sgd") f.gm.set_params(sgd.params());
}

}  // namespace

int main(int argc, char** argv) {
  return guarded_main([&] {
    Options o;
    Flags flags("gmm: Gaussian mixture by EM and by gradient ascent, K chosen by BIC", "gmm");
    flags.add("--csv", o.csv, "data: a CSV file of numeric columns (header optional)").check(ExistingFile);
    flags.add("--test-csv", o.test_csv, "with --csv: a test set of the same columns, scored by every fitted mixture "
                                        "(else only the fitted rows are scored)").check(ExistingFile);
    flags.add("--toy", o.toy, "data: a 2-D toy (two_moons circles eight_gaussians pinwheel checkerboard two_spirals)")
        .check(OneOf(toy_names()));
    flags.add("--n", o.n, "points drawn for --toy").check(Range(int64_t(1), int64_t(10000000)));
    flags.add("--fashion-pca", o.fashion_pca, "data: Fashion-MNIST train images on their first D principal components")
        .check(Range(int64_t(0), int64_t(784)));
    flags.add("--data-dir", o.data_dir,
              "folder of Fashion-MNIST for --fashion-pca (default: " + std::string(kFashionMnistDir) + ")");
    flags.add("--k", o.k, "components: K, or LO:HI to fit each and choose by BIC");
    flags.add("--cov", o.cov, "covariance type").check(OneOf({"full", "diag", "spherical", "tied"}));
    flags.add("--method", o.method, "em, sgd (Adam on the log-likelihood) or both")
        .check(OneOf({"em", "sgd", "both"}));
    flags.add("--n-init", o.n_init, "EM restarts per K (the best is kept)").check(Range(int64_t(1), int64_t(1000)));
    flags.add("--max-iter", o.max_iter, "EM iterations at most").check(Range(int64_t(1), int64_t(100000)));
    flags.add("--tol", o.tol, "EM stops when the mean log-likelihood changes by less").check(Range(0.0, 1e9));
    flags.add("--reg-covar", o.reg_covar, "added to every variance").check(Range(0.0, 1e9));
    flags.add("--sgd-steps", o.sgd_steps, "Adam steps of gradient ascent").check(Range(int64_t(1), int64_t(1000000)));
    flags.add("--lr", o.lr, "Adam learning rate for gradient ascent").check(LearningRateRange());
    if (auto rc = flags.parse(argc, argv)) return *rc;
    const IntRange k_range = parse_int_range("--k", o.k, kMaxComponents);
    const CovarianceType type = parse_covariance_type(o.cov, "--cov");
    if (o.method != "em" && type != CovarianceType::full && type != CovarianceType::diag)
      throw FlagError("--method " + o.method + ": gradient ascent supports --cov full or diag, found " + o.cov);

    Rng rng(flags.seed);
    std::string name;
    TensorD test;  // --test-csv
    const TensorD X = load_data(o, rng, name, test);
    const int64_t N = X.size(0), D = X.size(1);
    // Checked before the run folder exists, so a bad --k leaves nothing behind.
    if (k_range.hi > N)
      throw std::invalid_argument("--k " + o.k + ": K = " + std::to_string(k_range.hi) + " components but only " +
                                  std::to_string(N) + " points (" + name + ")");
    std::vector<int64_t> ks;
    for (int64_t K = k_range.lo; K <= k_range.hi; ++K) ks.push_back(K);
    RunDir run(flags.out);
    run.write_config(flags.values());
    RunPage page(run, "gmm");  // index.html, however the run ends (train/page.hpp)
    std::cout << "data " << name << ": " << N << " points in " << D << "-D; run folder " << run.path() << "\n";

    // Under mpirun every rank loads the whole data set and starts from the same k-means++ seeding
    // of all of it (so the start is the one-process start whatever the rank count); EM then runs
    // on this rank's share of the rows and sums its sufficient statistics over the ranks
    // (GmmOptions::sum), so each M-step, and the fit, is exact. Gradient ascent (--method sgd)
    // stays on all the rows on every rank.
    const int64_t lo = N * dist::rank() / dist::size(), hi = N * (dist::rank() + 1) / dist::size();
    const TensorD share = dist::size() > 1 ? narrow(X, 0, lo, hi - lo) : X;
    std::vector<Fit> fits;
    std::printf("%4s %14s %14s %14s %6s %s\n", "K", "mean loglik", "BIC", "AIC", "iters", "method");
    for (int64_t K : ks) {
      GmmOptions go;
      go.n_components = K;
      go.covariance_type = type;
      go.tol = o.tol;
      go.reg_covar = o.reg_covar;
      go.max_iter = static_cast<int>(o.max_iter);
      if (dist::size() > 1) go.sum = [](double* v, int64_t n) { dist::allreduce_sum(v, n); };
      Fit f;
      f.k = K;
      f.gm = GaussianMixture(go);
      // restarts by hand so that the kept run's start is known (gradient ascent reuses it)
      double best = -std::numeric_limits<double>::infinity();
      for (int64_t r = 0; r < o.n_init; ++r) {
        GaussianMixture g(go);
        GmmParams start;
        try {  // what the data cannot support (fewer distinct points than K) names the data
          start = g.initialize(X, rng);
          if (o.method != "sgd") g.fit_from(share, start);
        } catch (const std::exception& e) {
          throw std::runtime_error(name + ": " + e.what());
        }
        const double ll = o.method != "sgd" ? g.report().final_log_likelihood : 0.0;
        if (r == 0 || ll > best) best = ll, f.gm = g, f.start = start;
      }
      if (o.method == "sgd") run_sgd(X, o, type, f);
      for (const auto& w : f.gm.report().warnings) std::cerr << "warning: " << name << ": K=" << K << ": " << w << "\n";
      f.ll = f.gm.score(X);
      f.bic = f.gm.bic(X);
      f.aic = f.gm.aic(X);
      const int iters = o.method == "sgd" ? f.sgd.steps : f.gm.report().n_iter;
      std::printf("%4lld %14.6f %14.3f %14.3f %6d %s\n", static_cast<long long>(K), f.ll, f.bic, f.aic, iters,
                  o.method == "sgd" ? "sgd" : "em");
      fits.push_back(std::move(f));
    }
    size_t best = 0;
    for (size_t i = 1; i < fits.size(); ++i)
      if (fits[i].bic < fits[best].bic) best = i;
    Fit& f = fits[best];
    std::printf("chosen by BIC: K=%lld (mean log-likelihood %.6f)\n", static_cast<long long>(f.k), f.ll);
    if (o.method == "both") run_sgd(X, o, type, f);  // from the same start as the chosen EM run

    json table = json::array();
    for (const Fit& g : fits) {
      table.push_back({{"k", g.k}, {"mean_log_likelihood", g.ll}, {"bic", g.bic}, {"aic", g.aic}});
      if (test.defined()) table.back()["test_mean_log_likelihood"] = g.gm.score(test);
    }
    json out = {{"data", name}, {"n", N}, {"d", D}, {"k", f.k}, {"method", o.method}, {"mean_log_likelihood", f.ll},
                {"bic", f.bic}, {"aic", f.aic}, {"n_parameters", f.gm.n_parameters()}, {"params", params_json(f.gm.params())},
                {"bic_table", table}};
    if (o.method != "sgd") {
      out["em"] = {{"n_iter", f.gm.report().n_iter}, {"converged", f.gm.report().converged},
                   {"warnings", f.gm.report().warnings}};
      for (size_t i = 0; i < f.gm.report().log_likelihood.size(); ++i)
        run.log({{"iteration", i + 1}, {"seconds", f.gm.report().seconds[i]}, {"em", f.gm.report().log_likelihood[i]}});
    }
    if (o.method != "em") {
      out["sgd"] = {{"steps", f.sgd.steps}, {"final_mean_log_likelihood", f.sgd.final_log_likelihood}, {"lr", o.lr}};
      for (size_t i = 0; i < f.sgd.log_likelihood.size(); ++i)
        run.log({{"step", i + 1}, {"seconds", f.sgd.seconds[i]}, {"sgd", f.sgd.log_likelihood[i]}});
    }
    json summary = {{"k", f.k}, {"mean_log_likelihood", f.ll}, {"bic", f.bic}};
    if (test.defined()) {  // the chosen mixture on the user's own test rows, with its standard error
      const TensorD lp = f.gm.score_samples(test);
      const MeanEstimate t = estimate_mean(std::vector<double>(lp.data(), lp.data() + lp.numel()));
      for (json* j : {&out, &summary})
        (*j)["test"] = {{"data", o.test_csv}, {"n", test.size(0)}, {"mean_log_likelihood", t.mean}, {"se", t.se}};
      std::printf("test set %s: %lld points, mean log-likelihood %.6f +- %.6f\n", o.test_csv.c_str(),
                  static_cast<long long>(test.size(0)), t.mean, t.se);
    }
    run.write_json("params.json", out);
    run.write_summary(summary);

    if (!run.writer()) return 0;  // the pictures below: under MPI rank 0 draws
    const std::string metrics = run.file("metrics.jsonl");
    // Each picture on its own: one that fails stops none of the others, and makes the exit code 1
    // once the rest is written (plot/pictures.hpp).
    Pictures pictures;
    if (o.method != "sgd") pictures.draw("em_curve.png", [&] {
      PlotOptions po;
      po.x_key = "iteration";
      po.title = "EM: mean log-likelihood per iteration (K=" + std::to_string(f.k) + ")";
      plot_metrics(metrics, {"em"}, run.file("em_curve.png"), po);
    });
    if (o.method != "em") pictures.draw("sgd_curve.png", [&] {
      PlotOptions po;
      po.x_key = "step";
      po.title = "gradient ascent (Adam): mean log-likelihood per step";
      plot_metrics(metrics, {"sgd"}, run.file("sgd_curve.png"), po);
    });
    if (o.method == "both") {
      pictures.draw("time.png", [&] {
        PlotOptions po;
        po.x_key = "seconds";
        po.title = "mean log-likelihood against wall time, same start (K=" + std::to_string(f.k) + ")";
        plot_metrics(metrics, {"em", "sgd"}, run.file("time.png"), po);
      });
      std::printf("EM: %.6f after %d iterations in %.3f s; gradient ascent: %.6f after %d steps in %.3f s\n",
                  f.gm.report().final_log_likelihood, f.gm.report().n_iter, f.gm.report().seconds.back(),
                  f.sgd.final_log_likelihood, f.sgd.steps, f.sgd.seconds.back());
    }
    if (D == 2) pictures.draw("clusters.png", [&] { draw_clusters(X, f.gm, run.file("clusters.png")); });
    std::cout << "wrote " << run.path() << "/params.json" << (D == 2 ? ", clusters.png" : "") << "\n";
    return pictures.exit_code();
  });
}
