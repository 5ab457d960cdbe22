#include "tensor/ops.hpp"

#include <cblas.h>  // openblas_set_num_threads

#include <algorithm>
#include <cstring>

#include "tensor/parallel.hpp"
#include "tensor/vec.hpp"

namespace lz {

namespace detail {
bool is_trailing_suffix(const Shape& small, const Shape& big) {
  size_t first = 0;
  while (first < small.size() && small[first] == 1) ++first;
  const size_t n = small.size() - first;
  if (n > big.size()) return false;
  for (size_t i = 0; i < n; ++i)
    if (small[first + i] != big[big.size() - n + i]) return false;
  return true;
}

// Calls f(e, src) for each element e (row-major) of `out`, src being the flat index in the
// broadcast source whose strides (0 on broadcast axes) are `st`. The one walk behind sum_to and
// broadcast_to.
template <typename F>
void walk_broadcast(const std::vector<int64_t>& st, const Shape& out, F f) {
  const int64_t nd = static_cast<int64_t>(out.size()), n = shape_numel(out);
  std::vector<int64_t> idx(nd, 0);
  int64_t src = 0;
  for (int64_t e = 0; e < n; ++e) {
    f(e, src);
    for (int64_t d = nd - 1; d >= 0; --d) {
      ++idx[d];
      src += st[d];
      if (idx[d] < out[d]) break;
      src -= st[d] * out[d];
      idx[d] = 0;
    }
  }
}

bool is_column_of(const Shape& col, const Shape& big) {
  if (col.size() != big.size() || big.size() < 2 || col.back() != 1) return false;
  for (size_t i = 0; i + 1 < big.size(); ++i)
    if (col[i] != big[i]) return false;
  return true;
}
}  // namespace detail

template <typename T>
void add_inplace(Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() == b.shape()) {
    vec::add_into(a.numel(), b.data(), a.data());
    return;
  }
  const Shape s = broadcast_shapes(a.shape(), b.shape(), "add_inplace");
  if (s != a.shape())
    throw ShapeError("add_inplace: " + shape_str(b.shape()) + " does not broadcast into " + shape_str(a.shape()));
  Tensor<T> r = add(a, b);
  std::memcpy(a.data(), r.data(), sizeof(T) * a.numel());
}

// ---- reductions --------------------------------------------------------------------------

template <typename T>
T sum_all(const Tensor<T>& a) {
  return vec::sum(a.numel(), a.data());
}


template <typename T>
Tensor<T> sum(const Tensor<T>& a, int64_t axis, bool keepdim) {
  const AxisSplit sp = split_axis(a.shape(), axis, "sum");
  Tensor<T> out(keepdim ? sp.kept : sp.squeezed);
  const T* p = a.data();
  T* o = out.data();
  if (sp.inner == 1) {
    for (int64_t i = 0; i < sp.outer; ++i) o[i] = vec::sum(sp.n, p + i * sp.n);
  } else {
    for (int64_t i = 0; i < sp.outer; ++i)
      for (int64_t j = 0; j < sp.n; ++j) vec::add_into(sp.inner, p + (i * sp.n + j) * sp.inner, o + i * sp.inner);
  }
  return out;
}

template <typename T>
Tensor<T> mean(const Tensor<T>& a, int64_t axis, bool keepdim) {
  const int64_t n = a.size(axis);
  return scale(sum(a, axis, keepdim), T(1) / static_cast<T>(n));
}

template <typename T>
Tensor<T> max(const Tensor<T>& a, int64_t axis, bool keepdim) {
  const AxisSplit sp = split_axis(a.shape(), axis, "max");
  if (sp.n == 0) throw ShapeError("max: reduction over an empty axis of shape " + shape_str(a.shape()));
  Tensor<T> out = Tensor<T>::empty(keepdim ? sp.kept : sp.squeezed);
  const T* p = a.data();
  T* o = out.data();
  if (sp.inner == 1) {
    for (int64_t i = 0; i < sp.outer; ++i) o[i] = vec::max(sp.n, p + i * sp.n);
  } else {
    for (int64_t i = 0; i < sp.outer; ++i) {
      T* oi = o + i * sp.inner;
      std::memcpy(oi, p + i * sp.n * sp.inner, sizeof(T) * sp.inner);
      for (int64_t j = 1; j < sp.n; ++j) {
        const T* pj = p + (i * sp.n + j) * sp.inner;
        for (int64_t k = 0; k < sp.inner; ++k) oi[k] = (pj[k] > oi[k] || std::isnan(pj[k])) ? pj[k] : oi[k];
      }
    }
  }
  return out;
}

template <typename T>
T max_all(const Tensor<T>& a) {
  if (a.numel() == 0) throw ShapeError("max: empty tensor");
  return vec::max(a.numel(), a.data());
}

template <typename T>
std::vector<int64_t> argmax(const Tensor<T>& a, int64_t axis) {
  const AxisSplit sp = split_axis(a.shape(), axis, "argmax");
  std::vector<int64_t> out(sp.outer * sp.inner, 0);
  const T* p = a.data();
  for (int64_t i = 0; i < sp.outer; ++i)
    for (int64_t k = 0; k < sp.inner; ++k) {
      int64_t best = 0;
      T bv = p[i * sp.n * sp.inner + k];
      for (int64_t j = 1; j < sp.n; ++j) {
        const T v = p[(i * sp.n + j) * sp.inner + k];
        if (v > bv) bv = v, best = j;
      }
      out[i * sp.inner + k] = best;
    }
  return out;
}

template <typename T>
Tensor<T> sum_to(const Tensor<T>& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  if (shape_numel(shape) == 1) return Tensor<T>::full(shape, sum_all(a));
  const Shape& s = a.shape();
  if (shape.size() > s.size())
    throw ShapeError("sum_to: cannot reduce " + shape_str(s) + " to the larger rank " + shape_str(shape));
  // Fast path: a row vector over a batch (bias gradients).
  if (detail::is_trailing_suffix(shape, s)) {
    const int64_t inner = shape_numel(shape);
    Tensor<T> out(shape);
    for (int64_t o = 0; o < a.numel(); o += inner) vec::add_into(inner, a.data() + o, out.data());
    return out;
  }
  // General: accumulate every element of `a` into its broadcast source.
  const std::vector<int64_t> st = broadcast_strides(shape, s);
  const size_t off = s.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && shape[i] != s[i + off])
      throw ShapeError("sum_to: " + shape_str(s) + " is not a broadcast of " + shape_str(shape));
  Tensor<T> out(shape);
  detail::walk_broadcast(st, s, [&](int64_t e, int64_t src) { out[src] += a[e]; });
  return out;
}

// ---- shape copies ------------------------------------------------------------------------

template <typename T>
Tensor<T> narrow(const Tensor<T>& a, int64_t axis, int64_t start, int64_t len) {
  axis = normalize_axis(axis, a.dim(), "narrow");
  const Shape& s = a.shape();
  if (start < 0 || len < 0 || start + len > s[axis])
    throw ShapeError("narrow: range [" + std::to_string(start) + "," + std::to_string(start + len) +
                     ") out of bounds for axis " + std::to_string(axis) + " of shape " + shape_str(s));
  Shape os = s;
  os[axis] = len;
  Tensor<T> out = Tensor<T>::empty(os);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (int64_t d = axis + 1; d < a.dim(); ++d) inner *= s[d];
  for (int64_t i = 0; i < outer; ++i)
    std::memcpy(out.data() + i * len * inner, a.data() + (i * s[axis] + start) * inner, sizeof(T) * len * inner);
  return out;
}

template <typename T>
void narrow_assign(Tensor<T>& dst, const Tensor<T>& src, int64_t axis, int64_t start, bool accumulate) {
  axis = normalize_axis(axis, dst.dim(), "narrow_assign");
  const Shape& s = dst.shape();
  Shape expect = s;
  expect[axis] = src.dim() == dst.dim() ? src.shape()[axis] : -1;
  if (src.shape() != expect || start < 0 || start + expect[axis] > s[axis])
    throw ShapeError("narrow_assign: " + shape_str(src.shape()) + " does not fit into " + shape_str(s) +
                     " at axis " + std::to_string(axis) + " offset " + std::to_string(start));
  const int64_t len = expect[axis];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (int64_t d = axis + 1; d < dst.dim(); ++d) inner *= s[d];
  for (int64_t i = 0; i < outer; ++i) {
    T* o = dst.data() + (i * s[axis] + start) * inner;
    const T* p = src.data() + i * len * inner;
    if (accumulate)
      vec::add_into(len * inner, p, o);
    else
      std::memcpy(o, p, sizeof(T) * len * inner);
  }
}

template <typename T>
Tensor<T> concat(const std::vector<Tensor<T>>& parts, int64_t axis) {
  if (parts.empty()) throw ShapeError("concat: no tensors to concatenate");
  axis = normalize_axis(axis, parts[0].dim(), "concat");
  Shape s = parts[0].shape();
  int64_t total = 0;
  for (const auto& p : parts) {
    Shape q = p.shape();
    if (q.size() != s.size()) goto bad;
    q[axis] = s[axis];
    if (q != s) goto bad;
    total += p.shape()[axis];
    continue;
  bad:
    throw ShapeError("concat: shapes " + shape_str(parts[0].shape()) + " and " + shape_str(p.shape()) +
                     " differ outside axis " + std::to_string(axis));
  }
  s[axis] = total;
  Tensor<T> out = Tensor<T>::empty(s);
  int64_t off = 0;
  for (const auto& p : parts) {
    narrow_assign(out, p, axis, off, false);
    off += p.shape()[axis];
  }
  return out;
}

template <typename T>
Tensor<T> broadcast_to(const Tensor<T>& a, const Shape& shape) {
  if (a.shape() == shape) return a;
  if (broadcast_shapes(a.shape(), shape, "broadcast_to") != shape)
    throw ShapeError("broadcast_to: " + shape_str(a.shape()) + " does not broadcast to " + shape_str(shape));
  Tensor<T> out = Tensor<T>::empty(shape);
  if (a.numel() == 1) {
    vec::fill(out.numel(), out.data(), a[0]);
  } else if (detail::is_trailing_suffix(a.shape(), shape)) {
    const int64_t inner = a.numel();
    for (int64_t o = 0; o < out.numel(); o += inner) std::memcpy(out.data() + o, a.data(), sizeof(T) * inner);
  } else if (detail::is_column_of(a.shape(), shape)) {  // the gradient of a sum over the last axis
    const int64_t inner = shape.back();
    for (int64_t r = 0; r < a.numel(); ++r) vec::fill(inner, out.data() + r * inner, a[r]);
  } else {
    detail::walk_broadcast(broadcast_strides(a.shape(), shape), shape,
                           [&](int64_t e, int64_t src) { out[e] = a[src]; });
  }
  return out;
}

template <typename T>
Tensor<T> index_select(const Tensor<T>& a, const std::vector<int64_t>& rows) {
  if (a.dim() < 1) throw ShapeError("index_select: needs at least 1 dimension");
  Shape s = a.shape();
  const int64_t n = s[0];
  const int64_t row = a.numel() / std::max<int64_t>(n, 1);
  s[0] = static_cast<int64_t>(rows.size());
  for (const int64_t r : rows)
    if (r < 0 || r >= n)
      throw std::out_of_range("index_select: row " + std::to_string(r) + " out of range for shape " +
                              shape_str(a.shape()));
  Tensor<T> out = Tensor<T>::empty(s);
  // Split over the engine's threads like a pointwise kernel of the same size (a minibatch gather:
  // 128 images of 784 pixels were 0.8% of the VAE step's samples at 2 threads, all on one core).
  const int64_t min_rows = std::max<int64_t>(1, vec::kSplitMin / std::max<int64_t>(row, 1));
  parallel::for_ranges(static_cast<int64_t>(rows.size()), 1, min_rows, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(out.data() + i * row, a.data() + rows[i] * row, sizeof(T) * row);
  }, 1);
  return out;
}

void set_blas_threads(int n) { openblas_set_num_threads(n); }
int blas_threads() { return openblas_get_num_threads(); }

#define LZ_INSTANTIATE(T)                                                                        \
  template void add_inplace(Tensor<T>&, const Tensor<T>&);                                       \
  template T sum_all(const Tensor<T>&);                                                          \
  template Tensor<T> sum(const Tensor<T>&, int64_t, bool);                                       \
  template Tensor<T> mean(const Tensor<T>&, int64_t, bool);                                      \
  template Tensor<T> max(const Tensor<T>&, int64_t, bool);                                       \
  template T max_all(const Tensor<T>&);                                                          \
  template std::vector<int64_t> argmax(const Tensor<T>&, int64_t);                               \
  template Tensor<T> sum_to(const Tensor<T>&, const Shape&);                                     \
  template Tensor<T> narrow(const Tensor<T>&, int64_t, int64_t, int64_t);                        \
  template void narrow_assign(Tensor<T>&, const Tensor<T>&, int64_t, int64_t, bool);             \
  template Tensor<T> concat(const std::vector<Tensor<T>>&, int64_t);                             \
  template Tensor<T> index_select(const Tensor<T>&, const std::vector<int64_t>&);                \
  template Tensor<T> broadcast_to(const Tensor<T>&, const Shape&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
