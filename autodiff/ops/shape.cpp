// Shape ops: views, slices, joins, gathers. Their VJPs move gradient elements back to where
// the forward pass took them from (scatter-add where an element was read more than once).
#include <cstring>
#include <numeric>

#include "autodiff/ops.hpp"

namespace lz {

// a:[...] -> s (same number of elements): a view, no copy
template <typename T>
Var<T> reshape(const Var<T>& a, Shape s) {
  LZ_PROFILE_OP;
  // The gradient is the output gradient viewed as the input's shape (a view, no copy).
  const Shape in = a.shape();
  return Var<T>::record(a.value().reshape(std::move(s)), {a}, "reshape",
                        [in](const Tensor<T>& g, GradSink<T>& sink) { sink.add(0, g.reshape(in)); });
}

// a:[..., n, ...] -> [..., len, ...]
template <typename T>
Var<T> narrow(const Var<T>& a, int64_t axis, int64_t start, int64_t len) {
  LZ_PROFILE_OP;
  const Shape in = a.shape();
  axis = normalize_axis(axis, a.dim(), "narrow");
  return Var<T>::record(lz::narrow(a.value(), axis, start, len), {a}, "narrow",
                        [in, axis, start](const Tensor<T>& g, GradSink<T>& s) {
                          Tensor<T> r(in);
                          narrow_assign(r, g, axis, start, false);
                          s.add(0, std::move(r));
                        });
}

// parts[i]:[..., n_i, ...] -> [..., Σ n_i, ...]
template <typename T>
Var<T> concat(const std::vector<Var<T>>& parts, int64_t axis) {
  LZ_PROFILE_OP;
  std::vector<Tensor<T>> vals;
  vals.reserve(parts.size());
  for (const auto& p : parts) vals.push_back(p.value());
  Tensor<T> out = lz::concat(vals, axis);
  axis = normalize_axis(axis, out.dim(), "concat");
  std::vector<int64_t> lens;
  lens.reserve(parts.size());
  for (const auto& v : vals) lens.push_back(v.shape()[axis]);
  return Var<T>::record(std::move(out), parts, "concat", [axis, lens = std::move(lens)](const Tensor<T>& g, GradSink<T>& s) {
    int64_t off = 0;
    for (size_t i = 0; i < lens.size(); ++i) {
      if (s.needs(i)) s.add(i, lz::narrow(g, axis, off, lens[i]));
      off += lens[i];
    }
  });
}

// a:[..., Σ sizes, ...] -> one narrow per size
template <typename T>
std::vector<Var<T>> split(const Var<T>& a, const std::vector<int64_t>& sizes, int64_t axis) {
  LZ_PROFILE_OP;
  const int64_t ax = normalize_axis(axis, a.dim(), "split");
  int64_t total = 0;
  for (int64_t n : sizes) {
    if (n < 0) throw ShapeError("split: negative size " + std::to_string(n));
    total += n;
  }
  if (total != a.shape()[ax])
    throw ShapeError("split: sizes sum to " + std::to_string(total) + " but axis " + std::to_string(ax) +
                     " of shape " + shape_str(a.shape()) + " has " + std::to_string(a.shape()[ax]));
  std::vector<Var<T>> out;
  out.reserve(sizes.size());
  int64_t off = 0;
  for (int64_t n : sizes) {
    out.push_back(narrow(a, ax, off, n));
    off += n;
  }
  return out;
}

// As PyTorch: pieces of ceil(d/n) along axis, the last one smaller (so possibly fewer than n pieces).
template <typename T>
std::vector<Var<T>> chunk(const Var<T>& a, int64_t n, int64_t axis) {
  LZ_PROFILE_OP;
  if (n <= 0) throw std::invalid_argument("chunk: number of chunks must be positive, got " + std::to_string(n));
  const int64_t ax = normalize_axis(axis, a.dim(), "chunk");
  const int64_t d = a.shape()[ax];
  const int64_t step = std::max<int64_t>((d + n - 1) / n, 1);
  std::vector<int64_t> sizes;
  for (int64_t off = 0; off < d; off += step) sizes.push_back(std::min(step, d - off));
  if (sizes.empty()) sizes.push_back(0);
  return split(a, sizes, ax);
}

// a:[N,...] rows:[R] -> [R,...]; a repeated row receives the sum of its gradients.
template <typename T>
Var<T> index_select(const Var<T>& a, const std::vector<int64_t>& rows) {
  LZ_PROFILE_OP;
  const Shape in = a.shape();
  return Var<T>::record(lz::index_select(a.value(), rows), {a}, "index_select",
                        [in, rows](const Tensor<T>& g, GradSink<T>& s) {
                          Tensor<T> r(in);
                          const int64_t row = in[0] ? r.numel() / in[0] : 0;
                          for (size_t i = 0; i < rows.size(); ++i)
                            vec::add_into(row, g.data() + static_cast<int64_t>(i) * row, r.data() + rows[i] * row);
                          s.add(0, std::move(r));
                        });
}

namespace {
// Flat source offset in `a` of every element of gather's output, validated once in the forward
// pass and reused by the VJP's scatter-add.
std::vector<int64_t> gather_offsets(const Shape& a, int64_t axis, const std::vector<int64_t>& index,
                                    const Shape& is) {
  const int64_t nd = static_cast<int64_t>(a.size());
  if (static_cast<int64_t>(is.size()) != nd)
    throw ShapeError("gather: index shape " + shape_str(is) + " must have the rank of the input " + shape_str(a));
  for (int64_t d = 0; d < nd; ++d)
    if (d != axis && is[d] > a[d])
      throw ShapeError("gather: index shape " + shape_str(is) + " exceeds input shape " + shape_str(a) +
                       " at dimension " + std::to_string(d));
  if (shape_numel(is) != static_cast<int64_t>(index.size()))
    throw ShapeError("gather: " + std::to_string(index.size()) + " indices do not fill index shape " + shape_str(is));
  std::vector<int64_t> stride(nd, 1);
  for (int64_t d = nd - 2; d >= 0; --d) stride[d] = stride[d + 1] * a[d + 1];
  std::vector<int64_t> off(index.size()), idx(nd, 0);
  for (size_t e = 0; e < index.size(); ++e) {
    const int64_t v = index[e];
    if (v < 0 || v >= a[axis])
      throw std::out_of_range("gather: index " + std::to_string(v) + " at position " + std::to_string(e) +
                              " out of range for axis " + std::to_string(axis) + " of shape " + shape_str(a));
    int64_t o = 0;
    for (int64_t d = 0; d < nd; ++d) o += (d == axis ? v : idx[d]) * stride[d];
    off[e] = o;
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < is[d]) break;
      idx[d] = 0;
    }
  }
  return off;
}
}  // namespace

// a:[...] index:[index_shape] (same rank) -> [index_shape]
template <typename T>
Var<T> gather(const Var<T>& a, int64_t axis, const std::vector<int64_t>& index, const Shape& index_shape) {
  LZ_PROFILE_OP;
  axis = normalize_axis(axis, a.dim(), "gather");
  std::vector<int64_t> off = gather_offsets(a.shape(), axis, index, index_shape);
  Tensor<T> out = Tensor<T>::empty(index_shape);
  const T* p = a.value().data();
  for (size_t e = 0; e < off.size(); ++e) out[static_cast<int64_t>(e)] = p[off[e]];
  const Shape in = a.shape();
  return Var<T>::record(std::move(out), {a}, "gather", [in, off = std::move(off)](const Tensor<T>& g, GradSink<T>& s) {
    Tensor<T> r(in);
    for (size_t e = 0; e < off.size(); ++e) r[off[e]] += g[static_cast<int64_t>(e)];
    s.add(0, std::move(r));
  });
}

// a:[...] -> s (NumPy broadcast); GradSink sums the gradient back to a's shape.
template <typename T>
Var<T> expand(const Var<T>& a, const Shape& s) {
  LZ_PROFILE_OP;
  return Var<T>::record(broadcast_to(a.value(), s), {a}, "expand",
                        [](const Tensor<T>& g, GradSink<T>& sink) { sink.add(0, g); });
}

#define LZ_INSTANTIATE(T)                                                                          \
  template Var<T> reshape(const Var<T>&, Shape);                                                   \
  template Var<T> narrow(const Var<T>&, int64_t, int64_t, int64_t);                                \
  template Var<T> concat(const std::vector<Var<T>>&, int64_t);                                     \
  template std::vector<Var<T>> split(const Var<T>&, const std::vector<int64_t>&, int64_t);         \
  template std::vector<Var<T>> chunk(const Var<T>&, int64_t, int64_t);                             \
  template Var<T> index_select(const Var<T>&, const std::vector<int64_t>&);                        \
  template Var<T> gather(const Var<T>&, int64_t, const std::vector<int64_t>&, const Shape&);       \
  template Var<T> expand(const Var<T>&, const Shape&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
