#include "nn/optim.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <unordered_set>

#include "tensor/profile.hpp"
#include "tensor/vec.hpp"

namespace lz {

namespace {

// Keeps an optimizer's running averages out of the subnormal range. Where a gradient is 0 step
// after step (a dead ReLU unit's weights, an input pixel that is 0 in every image), Adam's m decays
// by beta1 and v by beta2 per step; v (beta2 = 0.999) takes some 16,000 steps to cross float's
// subnormals, and x86 computes on subnormals through a microcode assist many times slower than the
// normal path. Measured on the VAE bench (bench_vae --profile-steps 100, after its timed windows):
// Adam's pass took 2.29 ms per step against 0.44 ms with subnormals flushed (the same run under an
// LD_PRELOAD that sets FTZ/DAZ). Flushing in the process (FTZ/DAZ) would be a setting the peers do
// not have and would change every kernel; instead the state and the gradient are set to 0 below a
// threshold far above the subnormals before they are scaled, so no update produces one:
//   |state| < kTinyState = 1e8 · (the smallest normal)      -> 0  (state · beta stays normal)
//   |g|     < kTinyGrad  = sqrt(kTinyState)                  -> 0  ((1 − beta2) g² stays normal)
// (float: 1.2e-30 and 1.1e-15; double: 2.2e-300 and 1.5e-150). What this drops moves a parameter
// by less than lr · 1e-7 per step (float, eps = 1e-8).
template <typename T>
constexpr T kTinyState = std::numeric_limits<T>::min() * T(1e8);
template <typename T>
const T kTinyGrad = std::sqrt(kTinyState<T>);

template <typename V, typename T>
V flush_tiny(V x, T tiny) {
  if constexpr (std::is_arithmetic_v<V>)
    return std::abs(x) < tiny ? V(0) : x;
  else
    return vec::select(xsimd::abs(x) < V(tiny), V(0), x);
}

template <typename T>
void check_grad(const Var<T>& p, const std::string& name) {
  if (p.grad().shape() != p.shape())
    throw ShapeError("optimizer: gradient of '" + name + "' has shape " + shape_str(p.grad().shape()) +
                     ", parameter has " + shape_str(p.shape()));
}

}  // namespace

// ---- Optimizer ---------------------------------------------------------------------------

template <typename T>
Optimizer<T>::Optimizer(std::vector<Var<T>> params, double lr) : params_(std::move(params)), lr_(lr) {
  if (!(lr >= 0)) throw std::invalid_argument("optimizer: learning rate must be >= 0, got " + std::to_string(lr));
  std::unordered_set<const Node<T>*> seen;
  std::set<std::string> names;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Var<T>& p = params_[i];
    if (!p.defined() || !p.requires_grad() || !p.is_leaf())
      throw std::invalid_argument("optimizer: parameter " + std::to_string(i) + " ('" +
                                  (p.defined() ? p.name() : std::string("undefined")) +
                                  "') is not a leaf that requires a gradient");
    if (!seen.insert(p.node()).second)
      throw std::invalid_argument("optimizer: parameter '" + p.name() + "' appears twice");
    std::string n = p.name().empty() ? "param" + std::to_string(i) : p.name();
    if (!names.insert(n).second)
      throw std::invalid_argument("optimizer: two parameters are named '" + n + "'");
    names_.push_back(std::move(n));
  }
  state_.resize(params_.size());
  offsets_.assign(1, 0);
  for (const auto& p : params_) offsets_.push_back(offsets_.back() + p.numel());
}

template <typename T>
Tensor<T> Optimizer<T>::slot_view(size_t slot, size_t i) {
  const int64_t n = offsets_[i + 1] - offsets_[i];
  if (params_[i].numel() != n)
    throw ShapeError("optimizer: parameter '" + names_[i] + "' has " + std::to_string(params_[i].numel()) +
                     " elements, " + std::to_string(n) + " when the optimizer was built (its value was replaced)");
  if (slot_buffers_.size() <= slot) slot_buffers_.resize(slot + 1);
  if (!slot_buffers_[slot].defined()) slot_buffers_[slot] = Tensor<T>::empty({offsets_.back()});
  return slot_buffers_[slot].view(offsets_[i], params_[i].shape());
}

template <typename T>
int64_t Optimizer<T>::run_numel(size_t first, size_t last) const {
  int64_t n = 0;
  for (size_t i = first; i < last; ++i) n += params_[i].numel();
  return n;
}

template <typename T>
void Optimizer<T>::set_lr(double lr) {
  if (!(lr >= 0)) throw std::invalid_argument("optimizer: learning rate must be >= 0, got " + std::to_string(lr));
  lr_ = lr;
}

template <typename T>
void Optimizer<T>::step() {
  NoGrad ng;
  const profile::Scope scope(profile::Cat::Optimizer);
  last_passes_ = 0;
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].grad().defined()) check_grad(params_[i], names_[i]);
  // Does parameter j continue the run ending at j - 1, in its value and its gradient?
  auto follows = [&](size_t j) {
    const Tensor<T>&pv = params_[j - 1].value(), &pg = params_[j - 1].grad();
    const Tensor<T>&v = params_[j].value(), &g = params_[j].grad();
    return g.defined() && v.shares_buffer(pv) && v.data() == pv.data() + pv.numel() && g.shares_buffer(pg) &&
           g.data() == pg.data() + pg.numel();
  };
  for (size_t i = 0; i < params_.size();) {
    if (!params_[i].grad().defined()) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < params_.size() && follows(j) && same_state(j - 1, j)) ++j;
    update(i, j);
    ++last_passes_;
    i = j;
  }
  ++steps_;
}

template <typename T>
void Optimizer<T>::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

template <typename T>
Shape Optimizer<T>::slot_shape(size_t i, const std::string&) const {
  return params_[i].shape();
}

template <typename T>
std::string Optimizer<T>::first_non_finite() const {
  // x − x is 0 for every finite x and NaN for NaN and ±inf, so one sum tells.
  auto finite = [](const Tensor<T>& t) {
    return vec::map_sum(t.numel(), t.data(), [](auto x) { return x - x; }) == T(0);
  };
  const auto sl = slots();
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!finite(params_[i].value())) return names_[i];
    for (size_t s = 0; s < state_[i].size(); ++s)
      if (!finite(state_[i][s])) return "optim." + names_[i] + "." + sl[s];
  }
  return "";
}

template <typename T>
std::vector<std::pair<std::string, Tensor<T>>> Optimizer<T>::state_tensors(const std::string& prefix) const {
  std::vector<std::pair<std::string, Tensor<T>>> out;
  const auto sl = slots();
  for (size_t i = 0; i < params_.size(); ++i)
    for (size_t s = 0; s < state_[i].size(); ++s) out.emplace_back(prefix + names_[i] + "." + sl[s], state_[i][s].clone());
  return out;
}

template <typename T>
void Optimizer<T>::load_state(const std::map<std::string, Tensor<T>>& tensors, int64_t steps,
                              const std::string& prefix, const std::string& where) {
  if (steps < 0) throw std::invalid_argument(where + ": optimizer step count " + std::to_string(steps) + " < 0");
  const auto sl = slots();
  std::set<std::string> expected;
  std::vector<std::vector<Tensor<T>>> next(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    std::vector<std::string> missing;
    for (const auto& s : sl) {
      const std::string key = prefix + names_[i] + "." + s;
      expected.insert(key);
      auto it = tensors.find(key);
      if (it == tensors.end()) {
        missing.push_back(key);
        continue;
      }
      const Shape want = slot_shape(i, s);
      if (it->second.shape() != want)
        throw ShapeError(where + ": optimizer tensor '" + key + "' has shape " + shape_str(it->second.shape()) +
                         ", expected " + shape_str(want) + " (parameter '" + names_[i] + "' is " +
                         shape_str(params_[i].shape()) + ")");
      next[i].push_back(is_counter(s) ? it->second.clone() : it->second);
    }
    if (!missing.empty() && !next[i].empty())
      throw std::runtime_error(where + ": optimizer state of '" + names_[i] + "' is incomplete: missing tensor '" +
                               missing.front() + "'");
  }
  for (const auto& [key, t] : tensors)
    if (key.compare(0, prefix.size(), prefix) == 0 && !expected.count(key))
      throw std::runtime_error(where + ": unexpected optimizer tensor '" + key + "' (no parameter slot of this " +
                               type() + " optimizer has that name)");
  for (size_t i = 0; i < params_.size(); ++i) {
    state_[i].clear();
    for (size_t s = 0; s < next[i].size(); ++s) {
      if (is_counter(sl[s])) {
        state_[i].push_back(std::move(next[i][s]));
        continue;
      }
      Tensor<T> v = slot_view(s, i);
      std::memcpy(v.data(), next[i][s].data(), sizeof(T) * static_cast<size_t>(v.numel()));
      state_[i].push_back(std::move(v));
    }
  }
  steps_ = steps;
}

// ---- SGD ---------------------------------------------------------------------------------

template <typename T>
SGD<T>::SGD(std::vector<Var<T>> params, SGDOptions opt) : Optimizer<T>(std::move(params), opt.lr), opt_(opt) {
  if (opt.momentum < 0) throw std::invalid_argument("SGD: momentum must be >= 0, got " + std::to_string(opt.momentum));
  if (opt.weight_decay < 0)
    throw std::invalid_argument("SGD: weight_decay must be >= 0, got " + std::to_string(opt.weight_decay));
  if (opt.nesterov && (opt.momentum <= 0 || opt.dampening != 0))
    throw std::invalid_argument("SGD: Nesterov momentum requires momentum > 0 and dampening = 0");
}

template <typename T>
std::vector<std::string> SGD<T>::slots() const {
  if (opt_.momentum == 0) return {};
  return {"momentum_buffer"};
}

template <typename T>
void SGD<T>::update(size_t first, size_t last) {
  T* p = this->params_[first].value_mut().data();
  const T* g = this->params_[first].grad().data();
  const int64_t n = this->run_numel(first, last);
  const T wd = static_cast<T>(opt_.weight_decay), mom = static_cast<T>(opt_.momentum);
  const T damp1 = static_cast<T>(1 - opt_.dampening), neg_lr = static_cast<T>(-this->lr_);
  const bool decay = opt_.weight_decay != 0, nesterov = opt_.nesterov;
  if (opt_.momentum == 0) {
    vec::zip(n, p, g, p, [=](auto pv, auto gv) {
      if (decay) gv = gv + wd * pv;
      return pv + neg_lr * gv;
    });
    return;
  }
  auto& state = this->state_;
  const bool first_step = state[first].empty();  // torch: buf = clone(d) at the first step, no dampening
  if (first_step)
    for (size_t i = first; i < last; ++i) state[i].push_back(this->slot_view(0, i));
  // One fused pass: d = g + wd p; buf = d or mom buf + (1-damp) d; d = d + mom buf or buf; p -= lr d.
  const T tiny_state = kTinyState<T>, tiny_grad = kTinyGrad<T>;  // see flush_tiny
  vec::update_in_place(n, p, g, state[first][0].data(), [=](auto& pv, auto d, auto& buf) {
    if (decay) d = d + wd * pv;
    d = flush_tiny(d, tiny_grad);
    buf = first_step ? d : flush_tiny(buf, tiny_state) * mom + damp1 * d;
    d = nesterov ? d + mom * buf : buf;
    pv = pv + neg_lr * d;
  });
}

// ---- Adam / AdamW ------------------------------------------------------------------------

template <typename T>
Adam<T>::Adam(std::vector<Var<T>> params, AdamOptions opt) : Adam(std::move(params), opt, false) {}

template <typename T>
Adam<T>::Adam(std::vector<Var<T>> params, AdamOptions opt, bool decoupled)
    : Optimizer<T>(std::move(params), opt.lr), opt_(opt), decoupled_(decoupled) {
  const char* who = decoupled ? "AdamW" : "Adam";
  if (!opt_.weight_decay) opt_.weight_decay = decoupled ? 1e-2 : 0.0;
  if (!(opt.beta1 >= 0 && opt.beta1 < 1) || !(opt.beta2 >= 0 && opt.beta2 < 1))
    throw std::invalid_argument(std::string(who) + ": betas must be in [0,1), got (" + std::to_string(opt.beta1) +
                                ", " + std::to_string(opt.beta2) + ")");
  if (!(opt.eps >= 0)) throw std::invalid_argument(std::string(who) + ": eps must be >= 0");
  if (!(*opt_.weight_decay >= 0)) throw std::invalid_argument(std::string(who) + ": weight_decay must be >= 0");
}

template <typename T>
std::vector<std::string> Adam<T>::slots() const {
  return {"exp_avg", "exp_avg_sq", "step"};
}

template <typename T>
Shape Adam<T>::slot_shape(size_t i, const std::string& slot) const {
  if (slot == "step") return {};
  return this->params_[i].shape();
}

template <typename T>
bool Adam<T>::same_state(size_t i, size_t j) const {
  const auto& st = this->state_;
  return st[i].empty() ? st[j].empty() : !st[j].empty() && st[i][2][0] == st[j][2][0];
}

template <typename T>
void Adam<T>::update(size_t first, size_t last) {
  auto& state = this->state_;
  if (state[first].empty())
    for (size_t i = first; i < last; ++i) {
      for (size_t s = 0; s < 2; ++s) {  // exp_avg, exp_avg_sq
        Tensor<T> m = this->slot_view(s, i);
        std::fill(m.data(), m.data() + m.numel(), T(0));
        state[i].push_back(std::move(m));
      }
      state[i].push_back(Tensor<T>::scalar(T(0)));  // step
    }
  for (size_t i = first; i < last; ++i) state[i][2][0] += T(1);
  const T step_t = state[first][2][0];
  T* p = this->params_[first].value_mut().data();
  const T* g = this->params_[first].grad().data();
  const int64_t n = this->run_numel(first, last);
  // Scalars in double as torch computes them in Python, cast to T where the kernel uses them.
  const double lr = this->lr_, t = static_cast<double>(step_t);
  const double bc1 = 1 - std::pow(opt_.beta1, t), bc2 = 1 - std::pow(opt_.beta2, t);
  const T b1 = static_cast<T>(opt_.beta1), one_b1 = static_cast<T>(1 - opt_.beta1);
  const T b2 = static_cast<T>(opt_.beta2), one_b2 = static_cast<T>(1 - opt_.beta2);
  const double wdd = *opt_.weight_decay;
  const T wd = static_cast<T>(wdd), decay = static_cast<T>(1 - lr * wdd);
  const T neg_step = static_cast<T>(-(lr / bc1)), inv_bc2_sqrt = static_cast<T>(1 / std::sqrt(bc2));
  const T eps = static_cast<T>(opt_.eps);
  const bool l2 = !decoupled_ && wdd != 0, shrink = decoupled_ && wdd != 0;
  const T tiny_state = kTinyState<T>, tiny_grad = kTinyGrad<T>;  // see flush_tiny
  // The scalars are captured by value, as SGD's are: captured by reference, they are locals whose
  // addresses the loop's float stores might alias, so the compiler reloaded and re-broadcast each
  // one and re-tested `shrink` and `l2` on every vector (bench_optim, Adam, 1 thread: 0.51 -> 0.38-0.42 ms).
  vec::update_in_place(n, p, g, state[first][0].data(), state[first][1].data(), [=](auto& pv, auto gv, auto& m, auto& v) {
    using std::sqrt;
    using xsimd::sqrt;
    if (shrink) pv = pv * decay;
    if (l2) gv = gv + wd * pv;
    gv = flush_tiny(gv, tiny_grad);
    m = flush_tiny(m, tiny_state) * b1 + one_b1 * gv;
    v = flush_tiny(v, tiny_state) * b2 + one_b2 * gv * gv;
    // torch divides by sqrt(bias_correction2); a multiply by its reciprocal differs by about an ulp
    // and frees the divide unit, which a sqrt and two divides per element kept busy (Adam alone
    // over the VAE's 653k parameters, AMD EPYC, AVX2, medians of 3: 0.512 -> 0.460 ms at 1 thread).
    const auto denom = sqrt(v) * inv_bc2_sqrt + eps;
    pv = pv + neg_step * (m / denom);
  });
}

// ---- clipping ----------------------------------------------------------------------------

template <typename T>
T clip_grad_norm(const std::vector<Var<T>>& params, double max_norm) {
  // torch: the norm of the per-tensor norms.
  T sq = 0;
  for (const auto& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    const Tensor<T>& g = p.grad();
    const T norm = std::sqrt(vec::dot(g.numel(), g.data(), g.data()));
    sq += norm * norm;
  }
  const T total = std::sqrt(sq);
  const T coef = static_cast<T>(max_norm) / (total + T(1e-6));
  if (coef < T(1)) {
    NoGrad ng;
    for (const auto& p : params) {
      if (!p.defined() || !p.grad().defined()) continue;
      Tensor<T>& g = const_cast<Var<T>&>(p).grad_mut();
      vec::map(g.numel(), g.data(), g.data(), [coef](auto x) { return x * coef; });
    }
  }
  return total;
}

template class Optimizer<float>;
template class Optimizer<double>;
template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;
template float clip_grad_norm(const std::vector<Var<float>>&, double);
template double clip_grad_norm(const std::vector<Var<double>>&, double);

}  // namespace lz
