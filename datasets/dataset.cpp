#include "datasets/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "tensor/ops.hpp"

namespace lz {

Dataset subset(const Dataset& d, const std::vector<int64_t>& rows) {
  const int64_t n = d.size();
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] < 0 || rows[i] >= n)
      throw std::out_of_range(d.name + ": subset row " + std::to_string(rows[i]) + " at position " +
                              std::to_string(i) + " is outside [0, " + std::to_string(n) + ")");
  Dataset out;
  out.name = d.name;
  out.num_classes = d.num_classes;
  out.image_h = d.image_h;
  out.image_w = d.image_w;
  if (rows.empty()) {
    out.x = TensorF(Shape{0, d.dim()});
  } else {
    out.x = index_select(d.x, rows);
  }
  if (d.labelled()) {
    out.y.reserve(rows.size());
    for (int64_t r : rows) out.y.push_back(d.y[r]);
  }
  return out;
}

std::vector<int64_t> permutation(int64_t n, Rng& rng) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.below(static_cast<uint64_t>(i + 1))]);
  return p;
}

std::pair<Dataset, Dataset> train_test_split(const Dataset& d, int64_t n_test, Rng& rng, bool stratify) {
  const int64_t n = d.size();
  if (n_test < 0 || n_test > n)
    throw std::invalid_argument(d.name + ": train_test_split: n_test must be in [0, " + std::to_string(n) +
                                "], got " + std::to_string(n_test));
  std::vector<int64_t> train, test;
  if (!stratify) {
    const std::vector<int64_t> p = permutation(n, rng);
    test.assign(p.begin(), p.begin() + n_test);
    train.assign(p.begin() + n_test, p.end());
  } else {
    if (!d.labelled()) throw std::invalid_argument(d.name + ": stratified split needs labels");
    // Largest-remainder allocation so the class quotas add up to exactly n_test.
    std::map<int64_t, std::vector<int64_t>> by_class;
    for (int64_t i = 0; i < n; ++i) by_class[d.y[i]].push_back(i);
    std::vector<std::pair<double, int64_t>> remainders;
    std::map<int64_t, int64_t> quota;
    int64_t given = 0;
    for (auto& [c, rows] : by_class) {
      const double exact = static_cast<double>(n_test) * static_cast<double>(rows.size()) / static_cast<double>(n);
      quota[c] = static_cast<int64_t>(std::floor(exact));
      given += quota[c];
      remainders.push_back({exact - std::floor(exact), c});
    }
    std::stable_sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first; });
    for (size_t i = 0; given < n_test; ++i, ++given) ++quota[remainders[i % remainders.size()].second];
    for (auto& [c, rows] : by_class) {
      const std::vector<int64_t> p = permutation(static_cast<int64_t>(rows.size()), rng);
      for (size_t i = 0; i < rows.size(); ++i)
        (static_cast<int64_t>(i) < quota[c] ? test : train).push_back(rows[p[i]]);
    }
    // Interleave the classes: a class-sorted train set would make unshuffled batches one class each.
    auto shuffle = [&](std::vector<int64_t>& v) {
      const std::vector<int64_t> p = permutation(static_cast<int64_t>(v.size()), rng);
      std::vector<int64_t> out(v.size());
      for (size_t i = 0; i < v.size(); ++i) out[i] = v[p[i]];
      v.swap(out);
    };
    shuffle(train);
    shuffle(test);
  }
  Dataset tr = subset(d, train), te = subset(d, test);
  tr.name = d.name + "/train";
  te.name = d.name + "/test";
  return {std::move(tr), std::move(te)};
}

Standardiser Standardiser::fit(const TensorF& x) {
  if (x.dim() != 2 || x.size(0) < 1)
    throw std::invalid_argument("Standardiser::fit: expected x:[N,D] with N >= 1, got " + shape_str(x.shape()));
  const int64_t n = x.size(0), dcols = x.size(1);
  Standardiser s;
  std::vector<double> m(dcols, 0.0), v(dcols, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dcols; ++j) m[j] += x[i * dcols + j];
  for (auto& e : m) e /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dcols; ++j) {
      const double dlt = x[i * dcols + j] - m[j];
      v[j] += dlt * dlt;
    }
  for (int64_t j = 0; j < dcols; ++j) {
    const double sd = std::sqrt(v[j] / static_cast<double>(n));
    s.mean.push_back(static_cast<float>(m[j]));
    s.stddev.push_back(sd > 1e-12 ? static_cast<float>(sd) : 1.0f);
  }
  return s;
}

TensorF Standardiser::apply(const TensorF& x) const {
  const int64_t dcols = static_cast<int64_t>(mean.size());
  if (x.dim() != 2 || x.size(1) != dcols)
    throw std::invalid_argument("Standardiser::apply: expected x:[N," + std::to_string(dcols) + "], got " +
                                shape_str(x.shape()));
  TensorF out = x.clone();
  for (int64_t i = 0; i < x.size(0); ++i)
    for (int64_t j = 0; j < dcols; ++j) out[i * dcols + j] = (x[i * dcols + j] - mean[j]) / stddev[j];
  return out;
}

TensorF Standardiser::invert(const TensorF& z) const {
  const int64_t dcols = static_cast<int64_t>(mean.size());
  if (z.dim() != 2 || z.size(1) != dcols)
    throw std::invalid_argument("Standardiser::invert: expected z:[N," + std::to_string(dcols) + "], got " +
                                shape_str(z.shape()));
  TensorF out = z.clone();
  for (int64_t i = 0; i < z.size(0); ++i)
    for (int64_t j = 0; j < dcols; ++j) out[i * dcols + j] = z[i * dcols + j] * stddev[j] + mean[j];
  return out;
}

void validate(const Dataset& d, const std::string& where) {
  if (!d.x.defined() || d.x.dim() != 2)
    throw std::invalid_argument(where + ": expected x:[N,D], got " + (d.x.defined() ? shape_str(d.x.shape()) : "none"));
  if (d.labelled()) {
    if (static_cast<int64_t>(d.y.size()) != d.size())
      throw std::invalid_argument(where + ": " + std::to_string(d.size()) + " rows but " + std::to_string(d.y.size()) +
                                  " labels");
    for (size_t i = 0; i < d.y.size(); ++i)
      if (d.y[i] < 0 || d.y[i] >= d.num_classes)
        throw std::invalid_argument(where + ": label " + std::to_string(d.y[i]) + " at row " + std::to_string(i) +
                                    " is outside [0, " + std::to_string(d.num_classes) + ")");
  }
  if (d.image_h || d.image_w)
    if (d.image_h * d.image_w != d.dim())
      throw std::invalid_argument(where + ": image " + std::to_string(d.image_h) + "x" + std::to_string(d.image_w) +
                                  " does not match D = " + std::to_string(d.dim()));
}

}  // namespace lz
