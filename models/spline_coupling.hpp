// The rational-quadratic spline coupling of Durkan et al. (2019, "Neural Spline Flows"): RealNVP's
// coupling with the affine map of the transformed half replaced by a monotonic rational-quadratic
// spline per coordinate (the fused op rq_spline of autodiff/ops/spline.cpp), K bins on [−B, B] and
// the identity outside.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/transform.hpp"
#include "nn/activation.hpp"
#include "nn/mlp.hpp"

namespace lz {

// The mask convention of AffineCoupling: m_j = 1 (passed unchanged) when j % 2 == parity. An MLP of
// x ⊙ m (and of the condition c, concatenated) gives 3K − 1 raw values for each of the D_t
// transformed coordinates, laid out coordinate by coordinate as [K widths | K heights | K − 1
// interior derivatives]; then for a transformed j
//   y_j = RQS(x_j; widths, heights, derivatives),   log|det ∂y/∂x| = Σ_j log RQS'(x_j)
// and the inverse solves each spline's quadratic (the passed half of y is the passed half of x, so
// the same raw values come out of the net). The MLP's last layer starts with zero weights and a
// bias of zero for the widths and heights (uniform bins) and log(e^{1 − m_d} − 1) for the
// derivatives (softplus(·) + m_d = 1): every bin then has s = d_k = d_{k+1} = 1, the spline is
// exactly the identity, and so is a new coupling (tested). (nflows' zero init gives derivatives
// log 2 + m_d instead, not the identity.)
template <typename T>
class SplineCoupling : public Transform<T> {
 public:
  // hidden: the MLP's hidden widths (at least one); bins: K >= 1; tail_bound: B > 0.
  SplineCoupling(int64_t dim, std::vector<int64_t> hidden, int parity, Rng& rng, int64_t bins = 8,
                 double tail_bound = 3.0, int64_t condition_dim = 0, Activation act = Activation::ReLU);

  int parity() const { return parity_; }
  int64_t bins() const { return bins_; }
  double tail_bound() const { return opt_.tail_bound; }
  MLP<T>& net() { return *net_; }
  std::string describe() const override;

 protected:
  TransformOut<T> do_forward(const Var<T>& x, const Var<T>& c) override;
  TransformOut<T> do_inverse(const Var<T>& y, const Var<T>& c) override;

 private:
  TransformOut<T> apply(const Var<T>& x, const Var<T>& c, bool inverse);

  int parity_;
  int64_t bins_, transformed_;
  RqSplineOptions opt_;
  Var<T> mask_;    // constant [D]: the passed half (m)
  Var<T> select_;  // constant [D, D_t]: column t picks the t-th transformed coordinate
  std::shared_ptr<MLP<T>> net_;
};

}  // namespace lz
