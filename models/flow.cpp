#include "models/flow.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace lz {

namespace {
template <typename T>
void fill(Var<T>& p, T v) {
  Tensor<T>& t = p.value_mut();
  std::fill(t.data(), t.data() + t.numel(), v);
}

template <typename T>
Var<T> constant(const std::vector<T>& v, Shape s) {
  return Var<T>(Tensor<T>::from(v, std::move(s)));
}
}  // namespace

// ---- AffineCoupling ---------------------------------------------------------------------------

template <typename T>
AffineCoupling<T>::AffineCoupling(int64_t dim, std::vector<int64_t> hidden, int parity, Rng& rng,
                                  int64_t condition_dim, Activation act)
    : Transform<T>(dim, condition_dim), parity_(parity) {
  if (dim < 2) throw std::invalid_argument("AffineCoupling: needs D >= 2 (one half passes, one is transformed), got " +
                                           std::to_string(dim));
  if (parity != 0 && parity != 1)
    throw std::invalid_argument("AffineCoupling: parity must be 0 or 1, got " + std::to_string(parity));
  if (hidden.empty()) throw std::invalid_argument("AffineCoupling: needs at least one hidden layer");
  std::vector<T> m(static_cast<size_t>(dim)), k(static_cast<size_t>(dim));
  for (int64_t j = 0; j < dim; ++j) {
    m[j] = (j % 2 == parity) ? T(1) : T(0);
    k[j] = T(1) - m[j];
  }
  mask_ = constant(m, {dim});
  keep_ = Tensor<T>::from(k, {dim});
  scale_ = this->register_parameter("scale", Tensor<T>::ones({dim}));
  std::vector<int64_t> sizes{dim + condition_dim};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(2 * dim);
  net_ = this->register_module("net", std::make_shared<MLP<T>>(sizes, act, rng));
  auto& last = *net_->layers().back();
  fill(last.weight(), T(0));
  if (last.has_bias()) fill(last.bias(), T(0));
}

// x:[N,D] c:[N,C] -> [N,2D]; s and t (zero on the passed half) are taken from it by the fused op
// (autodiff/ops/coupling.cpp), which also computes the output and the log-determinant.
template <typename T>
Var<T> AffineCoupling<T>::net_out(const Var<T>& x, const Var<T>& c) {
  Var<T> in = mul(x, mask_);
  if (this->condition_dim() > 0) in = concat<T>({in, c}, 1);
  return net_->forward(in);
}

template <typename T>
TransformOut<T> AffineCoupling<T>::do_forward(const Var<T>& x, const Var<T>& c) {
  WithLogDet<T> r = affine_coupling(x, net_out(x, c), scale_, keep_);
  return {std::move(r.out), std::move(r.log_abs_det)};
}

// The passed half of y is the passed half of x, so the same s, t come out of the net.
template <typename T>
TransformOut<T> AffineCoupling<T>::do_inverse(const Var<T>& y, const Var<T>& c) {
  WithLogDet<T> r = affine_coupling_inverse(y, net_out(y, c), scale_, keep_);
  return {std::move(r.out), std::move(r.log_abs_det)};
}

template <typename T>
std::string AffineCoupling<T>::describe() const {
  std::string s = "AffineCoupling(" + std::to_string(this->dim()) + ", parity " + std::to_string(parity_);
  if (this->condition_dim() > 0) s += ", condition " + std::to_string(this->condition_dim());
  return s + ")";
}

// ---- ActNorm ----------------------------------------------------------------------------------

template <typename T>
ActNorm<T>::ActNorm(int64_t dim) : Transform<T>(dim) {
  log_scale_ = this->register_parameter("log_scale", Tensor<T>::zeros({dim}));
  bias_ = this->register_parameter("bias", Tensor<T>::zeros({dim}));
}

template <typename T>
bool ActNorm<T>::initialised() const {
  for (const Var<T>* p : {&log_scale_, &bias_})
    for (int64_t j = 0; j < p->numel(); ++j)
      if (p->value()[j] != T(0)) return true;
  return false;
}

template <typename T>
void ActNorm<T>::initialise(const Tensor<T>& x) {
  const int64_t n = x.size(0), d = this->dim();
  if (x.dim() != 2 || x.size(1) != d || n < 2)
    throw ShapeError(describe() + "::initialise: expected a batch [N>=2," + std::to_string(d) + "], got " +
                     shape_str(x.shape()));
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) mean += static_cast<double>(x[i * d + j]);
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      const double e = static_cast<double>(x[i * d + j]) - mean;
      sq += e * e;
    }
    // A constant column would give log(0): take its scale as 1 (Standardiser's rule).
    const double sd = std::sqrt(sq / static_cast<double>(n));
    const double ls = sd > 0 ? -std::log(sd) : 0.0;
    log_scale_.value_mut()[j] = static_cast<T>(ls);
    bias_.value_mut()[j] = static_cast<T>(-mean * std::exp(ls));
  }
}

// x:[N,D] log_scale,bias:[D] -> y:[N,D], log-det Σ_j log_scale_j broadcast to [N]
template <typename T>
TransformOut<T> ActNorm<T>::do_forward(const Var<T>& x, const Var<T>&) {
  if (!initialised()) initialise(x.value());
  return {add(mul(x, exp(log_scale_)), bias_), expand(sum(log_scale_), Shape{x.size(0)})};
}

template <typename T>
TransformOut<T> ActNorm<T>::do_inverse(const Var<T>& y, const Var<T>&) {
  return {mul(sub(y, bias_), exp(neg(log_scale_))), expand(neg(sum(log_scale_)), Shape{y.size(0)})};
}

template <typename T>
std::string ActNorm<T>::describe() const {
  return "ActNorm(" + std::to_string(this->dim()) + ")";
}

// ---- LULinear ---------------------------------------------------------------------------------

namespace {
std::vector<int64_t> random_perm(int64_t d, Rng& rng) {
  std::vector<int64_t> p(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) p[j] = j;
  for (int64_t j = d - 1; j > 0; --j) std::swap(p[j], p[static_cast<int64_t>(rng.below(static_cast<uint64_t>(j + 1)))]);
  return p;
}
}  // namespace

template <typename T>
LULinear<T>::LULinear(int64_t dim, Rng& rng) : LULinear(dim, random_perm(dim, rng)) {}

template <typename T>
LULinear<T>::LULinear(int64_t dim, std::vector<int64_t> perm) : Transform<T>(dim), perm_(std::move(perm)) {
  if (static_cast<int64_t>(perm_.size()) != dim)
    throw std::invalid_argument("LULinear: permutation of length " + std::to_string(perm_.size()) +
                                " for dimension " + std::to_string(dim));
  std::vector<T> p(static_cast<size_t>(dim * dim)), lo(p.size()), up(p.size()), eye(p.size());
  std::vector<bool> seen(static_cast<size_t>(dim));
  for (int64_t i = 0; i < dim; ++i) {
    if (perm_[i] < 0 || perm_[i] >= dim || seen[perm_[i]])
      throw std::invalid_argument("LULinear: entry " + std::to_string(i) + " of the permutation is " +
                                  std::to_string(perm_[i]) + ": expected each of 0.." + std::to_string(dim - 1) +
                                  " once");
    seen[perm_[i]] = true;
    p[i * dim + perm_[i]] = T(1);
    eye[i * dim + i] = T(1);
    for (int64_t j = 0; j < dim; ++j) {
      lo[i * dim + j] = j < i ? T(1) : T(0);
      up[i * dim + j] = j > i ? T(1) : T(0);
    }
  }
  p_ = constant(p, {dim, dim});
  strict_lower_ = constant(lo, {dim, dim});
  strict_upper_ = constant(up, {dim, dim});
  eye_ = constant(eye, {dim, dim});
  lower_ = this->register_parameter("lower", Tensor<T>::zeros({dim, dim}));
  upper_ = this->register_parameter("upper", Tensor<T>::zeros({dim, dim}));
  log_diag_ = this->register_parameter("log_diag", Tensor<T>::zeros({dim}));
}

// -> W = P L U:[D,D]; L = I + strict_lower(lower), U = strict_upper(upper) + diag(exp(log_diag))
template <typename T>
Var<T> LULinear<T>::build_weight() const {
  const int64_t d = this->dim();
  const Var<T> l = add(mul(lower_, strict_lower_), eye_);
  const Var<T> diag = mul(expand(reshape(exp(log_diag_), {1, d}), Shape{d, d}), eye_);
  const Var<T> u = add(mul(upper_, strict_upper_), diag);
  return matmul(p_, matmul(l, u));
}

template <typename T>
Tensor<T> LULinear<T>::weight() const {
  NoGrad ng;
  return build_weight().value();
}

// x:[N,D] -> x W^T:[N,D]
template <typename T>
TransformOut<T> LULinear<T>::do_forward(const Var<T>& x, const Var<T>&) {
  return {matmul(x, transpose(build_weight())), expand(sum(log_diag_), Shape{x.size(0)})};
}

template <typename T>
TransformOut<T> LULinear<T>::do_inverse(const Var<T>& y, const Var<T>&) {
  const int64_t d = this->dim();
  // M = W^{-1} = U^{-1} L^{-1} P^T on plain numbers in double: column k of M solves W m = e_k,
  // i.e. L U m = P^T e_k, and P^T e_k = e_{perm[k]} (entry i is P[k][i]).
  const Tensor<T> lo = lower_.value(), up = upper_.value(), ld = log_diag_.value();
  std::vector<T> m(static_cast<size_t>(d * d));
  std::vector<double> v(static_cast<size_t>(d));
  for (int64_t k = 0; k < d; ++k) {
    std::fill(v.begin(), v.end(), 0.0);
    v[perm_[k]] = 1.0;
    for (int64_t i = 0; i < d; ++i)  // L w = v, unit diagonal
      for (int64_t j = 0; j < i; ++j) v[i] -= static_cast<double>(lo[i * d + j]) * v[j];
    for (int64_t i = d - 1; i >= 0; --i) {  // U m = w
      for (int64_t j = i + 1; j < d; ++j) v[i] -= static_cast<double>(up[i * d + j]) * v[j];
      v[i] /= std::exp(static_cast<double>(ld[i]));
    }
    for (int64_t i = 0; i < d; ++i) m[i * d + k] = static_cast<T>(v[i]);
  }
  const Var<T> mt = transpose(constant(m, {d, d}));
  const Var<T> x0 = matmul(y.detach(), mt);
  // One Newton step of the solve: value x0 (the residual is rounding), first derivatives exact.
  const Var<T> x = add(x0, matmul(sub(y, matmul(x0, transpose(build_weight()))), mt));
  return {x, expand(neg(sum(log_diag_)), Shape{y.size(0)})};
}

template <typename T>
std::string LULinear<T>::describe() const {
  return "LULinear(" + std::to_string(this->dim()) + ")";
}

// ---- Flow -------------------------------------------------------------------------------------

template <typename T>
Flow<T>::Flow(std::vector<TransformPtr<T>> steps) : Composite<T>(std::move(steps)), base_{this->dim()} {}

template <typename T>
std::shared_ptr<Flow<T>> Flow<T>::build(const FlowSpec& s, Rng& rng) {
  if (s.couplings < 1) throw std::invalid_argument("Flow: needs at least one coupling, got " + std::to_string(s.couplings));
  std::vector<TransformPtr<T>> steps;
  for (int64_t k = 0; k < s.couplings; ++k) {
    if (s.actnorm) steps.push_back(std::make_shared<ActNorm<T>>(s.dim));
    if (s.lu) steps.push_back(std::make_shared<LULinear<T>>(s.dim, rng));
    const int parity = static_cast<int>(k % 2);
    if (s.coupling == CouplingKind::Spline)
      steps.push_back(std::make_shared<SplineCoupling<T>>(s.dim, s.hidden, parity, rng, s.bins, s.tail_bound,
                                                          s.condition_dim, s.activation));
    else
      steps.push_back(std::make_shared<AffineCoupling<T>>(s.dim, s.hidden, parity, rng, s.condition_dim, s.activation));
  }
  return std::make_shared<Flow<T>>(std::move(steps));
}

template <typename T>
Var<T> Flow<T>::log_prob(const Var<T>& x, const Var<T>& c) {
  const TransformOut<T> r = this->forward(x, c);
  return add(base_.log_prob(r.out), r.log_det);
}

template <typename T>
Tensor<T> Flow<T>::sample(int64_t n, Rng& rng, const Tensor<T>& c) {
  NoGrad ng;
  const Tensor<T> z = base_.sample(n, rng);
  return this->inverse(Var<T>(z), c.defined() ? Var<T>(c) : Var<T>()).out.value();
}

template <typename T>
std::vector<double> Flow<T>::log_prob_values(const Tensor<T>& x, const Tensor<T>& c) {
  NoGrad ng;
  if (x.dim() != 2) throw ShapeError(describe() + "::log_prob_values: expected x [N,D], got " + shape_str(x.shape()));
  const int64_t n = x.size(0), d = x.size(1), cd = c.defined() ? c.size(1) : 0, chunk = 4096;
  std::vector<double> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; s += chunk) {
    const int64_t m = std::min(chunk, n - s);
    Tensor<T> xs({m, d}), cs;
    std::copy(x.data() + s * d, x.data() + (s + m) * d, xs.data());
    if (c.defined()) {
      cs = Tensor<T>({m, cd});
      std::copy(c.data() + s * cd, c.data() + (s + m) * cd, cs.data());
    }
    const Tensor<T> lp = log_prob(Var<T>(xs), c.defined() ? Var<T>(cs) : Var<T>()).value();
    for (int64_t i = 0; i < m; ++i) out.push_back(static_cast<double>(lp[i]));
  }
  return out;
}

template <typename T>
Tensor<T> Flow<T>::push_forward(const Tensor<T>& x, const Tensor<T>& c) {
  NoGrad ng;
  return this->forward(Var<T>(x), c.defined() ? Var<T>(c) : Var<T>()).out.value();
}

template <typename T>
void Flow<T>::initialise(const Tensor<T>& x, const Tensor<T>& c) {
  push_forward(x, c);
}

template <typename T>
std::string Flow<T>::describe() const {
  return "Flow(" + std::to_string(this->steps().size()) + " steps, D=" + std::to_string(this->dim()) + ")";
}

template <typename T>
Tensor<T> log_prob_grid(Flow<T>& flow, double xmin, double xmax, double ymin, double ymax, int64_t nx, int64_t ny) {
  if (flow.dim() != 2) throw std::invalid_argument("log_prob_grid: needs a 2-D flow, got D=" + std::to_string(flow.dim()));
  if (nx < 1 || ny < 1 || !(xmax > xmin) || !(ymax > ymin))
    throw std::invalid_argument("log_prob_grid: needs nx, ny >= 1 and a non-empty box");
  NoGrad ng;
  Tensor<T> out({ny, nx});
  const double dx = (xmax - xmin) / static_cast<double>(nx), dy = (ymax - ymin) / static_cast<double>(ny);
  const int64_t total = nx * ny, chunk = 4096;
  for (int64_t s = 0; s < total; s += chunk) {
    const int64_t m = std::min(chunk, total - s);
    Tensor<T> pts({m, 2});
    for (int64_t k = 0; k < m; ++k) {
      const int64_t r = (s + k) / nx, col = (s + k) % nx;
      pts[2 * k] = static_cast<T>(xmin + (static_cast<double>(col) + 0.5) * dx);
      pts[2 * k + 1] = static_cast<T>(ymax - (static_cast<double>(r) + 0.5) * dy);
    }
    const Tensor<T> lp = flow.log_prob(Var<T>(pts)).value();
    std::copy(lp.data(), lp.data() + m, out.data() + s);
  }
  return out;
}

template class AffineCoupling<float>;
template class AffineCoupling<double>;
template class ActNorm<float>;
template class ActNorm<double>;
template class LULinear<float>;
template class LULinear<double>;
template class Flow<float>;
template class Flow<double>;
template Tensor<float> log_prob_grid(Flow<float>&, double, double, double, double, int64_t, int64_t);
template Tensor<double> log_prob_grid(Flow<double>&, double, double, double, double, int64_t, int64_t);

}  // namespace lz
