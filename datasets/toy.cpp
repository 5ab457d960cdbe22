#include "datasets/toy.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace lz {

namespace {
constexpr double kPi = std::numbers::pi;

Dataset make(const std::string& name, int64_t n, int64_t classes) {
  if (n < 0) throw std::invalid_argument(name + ": n must be >= 0, got " + std::to_string(n));
  Dataset d;
  d.name = name;
  d.x = TensorF::empty({n, 2});
  d.num_classes = classes;
  if (classes) d.y.resize(n);
  return d;
}
void put(Dataset& d, int64_t i, double a, double b) {
  d.x[2 * i] = static_cast<float>(a);
  d.x[2 * i + 1] = static_cast<float>(b);
}
}  // namespace

Dataset two_moons(int64_t n, Rng& rng, double noise) {
  if (noise < 0) noise = 0.1;
  Dataset d = make("two_moons", n, 2);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = i < n / 2 ? 0 : 1;  // half and half, the odd one in the lower moon
    const double t = rng.uniform() * kPi;
    const double a = k == 0 ? std::cos(t) : 1 - std::cos(t);
    const double b = k == 0 ? std::sin(t) : 0.5 - std::sin(t);
    const double ea = noise * rng.normal(), eb = noise * rng.normal();
    put(d, i, a + ea, b + eb);
    d.y[i] = k;
  }
  return d;
}

Dataset circles(int64_t n, Rng& rng, double noise) {
  if (noise < 0) noise = 0.05;
  Dataset d = make("circles", n, 2);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = i < n / 2 ? 0 : 1;
    const double r = k == 0 ? 1.0 : 0.5;
    const double t = rng.uniform() * 2 * kPi;
    const double ea = noise * rng.normal(), eb = noise * rng.normal();
    put(d, i, r * std::cos(t) + ea, r * std::sin(t) + eb);
    d.y[i] = k;
  }
  return d;
}

Dataset eight_gaussians(int64_t n, Rng& rng, double noise) {
  if (noise < 0) noise = 0.1;
  Dataset d = make("eight_gaussians", n, 8);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = static_cast<int64_t>(rng.below(8));
    const double t = k * kPi / 4;
    const double ea = noise * rng.normal(), eb = noise * rng.normal();
    put(d, i, 2 * std::cos(t) + ea, 2 * std::sin(t) + eb);
    d.y[i] = k;
  }
  return d;
}

Dataset pinwheel(int64_t n, Rng& rng, double noise) {
  if (noise < 0) noise = 0.1;
  constexpr int64_t arms = 5;
  constexpr double radial_std = 0.3, rate = 0.25;
  Dataset d = make("pinwheel", n, arms);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = static_cast<int64_t>(rng.below(arms));
    const double f0 = radial_std * rng.normal() + 1.0;
    const double f1 = noise * rng.normal();
    // The arm's angle grows with the radius: that is what curls the arms.
    const double ang = 2 * kPi * static_cast<double>(k) / arms + rate * std::exp(f0);
    const double c = std::cos(ang), s = std::sin(ang);
    put(d, i, 2 * (c * f0 - s * f1), 2 * (s * f0 + c * f1));
    d.y[i] = k;
  }
  return d;
}

Dataset checkerboard(int64_t n, Rng& rng, double /*noise*/) {
  Dataset d = make("checkerboard", n, 0);
  for (int64_t i = 0; i < n; ++i) {
    // x1 uniform in [-2,2); x2 in one of two unit bands chosen so that the cell (floor x1, floor x2)
    // has an even sum: the black squares. Everything is then scaled by 2.
    const double x1 = rng.uniform() * 4 - 2;
    const double x2_ = rng.uniform() - 2.0 * static_cast<double>(rng.below(2));
    const double x2 = x2_ + static_cast<double>(((static_cast<int64_t>(std::floor(x1)) % 2) + 2) % 2);
    put(d, i, 2 * x1, 2 * x2);
  }
  return d;
}

Dataset two_spirals(int64_t n, Rng& rng, double noise) {
  if (noise < 0) noise = 0.1;
  Dataset d = make("two_spirals", n, 2);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = i < n / 2 ? 0 : 1;
    // sqrt makes the density along the arc roughly uniform in area
    const double t = std::sqrt(rng.uniform()) * 3 * kPi;
    double a = -std::cos(t) * t + rng.uniform() * 0.5, b = std::sin(t) * t + rng.uniform() * 0.5;
    if (k == 1) a = -a, b = -b;
    const double ea = noise * rng.normal(), eb = noise * rng.normal();
    put(d, i, a / 3 + ea, b / 3 + eb);
    d.y[i] = k;
  }
  return d;
}

const std::vector<std::string>& toy_names() {
  static const std::vector<std::string> names = {"two_moons",    "circles",      "eight_gaussians",
                                                 "pinwheel",     "checkerboard", "two_spirals"};
  return names;
}

Dataset inverted_sine(int64_t n, Rng& rng, double noise) {
  if (noise < 0) noise = 0.1;
  Dataset d = make("inverted_sine", n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const double y = rng.uniform();
    const double e = rng.uniform(-noise, noise);
    put(d, i, y + 0.3 * std::sin(2 * kPi * y) + e, y);
  }
  return d;
}

Dataset make_toy(const std::string& name, int64_t n, Rng& rng, double noise) {
  if (name == "two_moons") return two_moons(n, rng, noise);
  if (name == "circles") return circles(n, rng, noise);
  if (name == "eight_gaussians") return eight_gaussians(n, rng, noise);
  if (name == "pinwheel") return pinwheel(n, rng, noise);
  if (name == "checkerboard") return checkerboard(n, rng, noise);
  if (name == "two_spirals") return two_spirals(n, rng, noise);
  std::string valid;
  for (auto& s : toy_names()) valid.append(valid.empty() ? "" : ", ").append(s);
  throw std::invalid_argument("unknown toy '" + name + "' (valid: " + valid + ")");
}

}  // namespace lz
