// gradcheck: analytic gradients against central differences, in double.
//
// f maps the inputs to an output of any shape; a non-scalar output is contracted with a fixed
// random vector v (so the check covers the whole vector-Jacobian product v^T J). Every element
// of every input is perturbed; an input with more than `max_elementwise` elements is checked
// along `directions` random directions instead. Tolerances default to PyTorch's.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autodiff/var.hpp"

namespace lz {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  int64_t max_elementwise = 10000;
  int directions = 8;
  uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // on failure: op, input, element, analytic and numeric values
  int64_t checks = 0;   // number of comparisons made
  explicit operator bool() const { return ok; }
};

using GradcheckFn = std::function<VarD(const std::vector<VarD>&)>;

// `op` names what is checked in the failure message (default: the output node's op).
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<TensorD>& inputs, const std::string& op = "",
                          const GradcheckOptions& opt = {});

}  // namespace lz
