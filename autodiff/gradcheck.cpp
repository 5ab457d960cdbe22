#include "autodiff/gradcheck.hpp"

#include <cmath>
#include <sstream>

#include "autodiff/ops.hpp"

namespace lz {

namespace {
std::string index_str(int64_t flat, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return shape_str(idx);
}
}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<TensorD>& inputs, const std::string& op_in,
                          const GradcheckOptions& opt) {
  GradcheckResult res;
  Rng rng(opt.seed);

  // Analytic: one backward with seed v.
  std::vector<VarD> vars;
  for (const auto& t : inputs) vars.emplace_back(t.clone(), true);
  VarD out = f(vars);
  const std::string op = op_in.empty() ? std::string(out.op()) : op_in;
  const TensorD v = out.numel() == 1 ? TensorD::ones(out.shape()) : TensorD::normal(out.shape(), 0.0, 1.0, rng);
  if (!out.requires_grad()) {
    res.ok = false;
    res.message = "gradcheck of '" + op + "': the output does not depend on any input through the graph";
    return res;
  }
  out.backward(v);

  // Numeric: <v, f(x)> at perturbed inputs, everything else fixed.
  auto objective = [&](const std::vector<TensorD>& xs) {
    NoGrad ng;
    std::vector<VarD> c;
    for (const auto& t : xs) c.emplace_back(t, false);
    VarD o = f(c);
    if (o.shape() != v.shape())
      throw ShapeError("gradcheck: output shape changed between calls: " + shape_str(o.shape()));
    double acc = 0;
    for (int64_t i = 0; i < o.numel(); ++i) acc += v[i] * o.value()[i];
    return acc;
  };

  std::vector<TensorD> xs;
  for (const auto& t : inputs) xs.push_back(t.clone());
  auto fail = [&](size_t input, const std::string& where, double analytic, double numeric) {
    std::ostringstream m;
    m.precision(10);
    m << "gradcheck failed for '" << op << "': input " << input << " (shape " << shape_str(inputs[input].shape())
      << ") " << where << ": analytic " << analytic << " vs numeric " << numeric << " (|diff| "
      << std::abs(analytic - numeric) << " > atol " << opt.atol << " + rtol " << opt.rtol << " * |numeric|)";
    res.ok = false;
    res.message = m.str();
  };

  for (size_t k = 0; k < inputs.size() && res.ok; ++k) {
    const TensorD g = vars[k].grad().defined() ? vars[k].grad() : TensorD(inputs[k].shape());
    TensorD& x = xs[k];
    if (x.numel() <= opt.max_elementwise) {
      for (int64_t i = 0; i < x.numel(); ++i) {
        const double x0 = x[i];
        x[i] = x0 + opt.eps;
        const double fp = objective(xs);
        x[i] = x0 - opt.eps;
        const double fm = objective(xs);
        x[i] = x0;
        const double numeric = (fp - fm) / (2 * opt.eps);
        ++res.checks;
        if (!(std::abs(g[i] - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) {
          fail(k, "element " + index_str(i, x.shape()), g[i], numeric);
          break;
        }
      }
    } else {
      for (int d = 0; d < opt.directions; ++d) {
        const TensorD dir = TensorD::normal(x.shape(), 0.0, 1.0, rng);
        const TensorD x0 = x.clone();
        for (int64_t i = 0; i < x.numel(); ++i) x[i] = x0[i] + opt.eps * dir[i];
        const double fp = objective(xs);
        for (int64_t i = 0; i < x.numel(); ++i) x[i] = x0[i] - opt.eps * dir[i];
        const double fm = objective(xs);
        for (int64_t i = 0; i < x.numel(); ++i) x[i] = x0[i];
        const double numeric = (fp - fm) / (2 * opt.eps);
        double analytic = 0;
        for (int64_t i = 0; i < x.numel(); ++i) analytic += g[i] * dir[i];
        ++res.checks;
        if (!(std::abs(analytic - numeric) <= opt.atol + opt.rtol * std::abs(numeric))) {
          fail(k, "random direction " + std::to_string(d), analytic, numeric);
          break;
        }
      }
    }
  }
  return res;
}

}  // namespace lz
