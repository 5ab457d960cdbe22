// Checks shared by the latent-model suites (test_vae, test_cvae).
#pragma once

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>

#include "nn/module.hpp"

namespace lz {

inline TensorD binary_batch(int64_t b, int64_t d, Rng& rng) {
  TensorD x = TensorD::uniform({b, d}, 0, 1, rng);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = x[i] < 0.4 ? 1.0 : 0.0;
  return x;
}

// Central differences on every element of every parameter of `m` against one backward() of `loss`.
// (lz::gradcheck perturbs its own input Vars; a model owns its parameters, so this walks them instead.)
inline std::string check_model_gradients(Module<double>& m, const std::function<VarD()>& loss, double eps = 1e-6,
                                  double atol = 1e-7, double rtol = 1e-5) {
  m.zero_grad();
  loss().backward();
  std::ostringstream fail;
  int64_t checked = 0;
  for (auto& [name, p] : m.named_parameters()) {
    BOOST_REQUIRE_MESSAGE(p.grad().defined(), name << " received no gradient");
    const TensorD g = p.grad().clone();
    for (int64_t i = 0; i < p.numel(); ++i) {
      NoGrad ng;
      const double orig = p.value()[i];
      p.value_mut()[i] = orig + eps;
      const double lp = loss().item();
      p.value_mut()[i] = orig - eps;
      const double lm = loss().item();
      p.value_mut()[i] = orig;
      const double num = (lp - lm) / (2 * eps);
      if (std::abs(g[i] - num) > atol + rtol * std::abs(num))
        fail << name << "[" << i << "]: analytic " << g[i] << " numeric " << num << "\n";
      ++checked;
    }
  }
  BOOST_TEST(checked == m.num_parameters());
  return fail.str();
}

}  // namespace lz
