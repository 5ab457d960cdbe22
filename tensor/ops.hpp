// Tensor-level (non-differentiable) ops: broadcasting maps, reductions, GEMM, reshaping copies.
// autodiff/ builds every differentiable op out of these.
#pragma once

#include <functional>
#include <type_traits>
#include <vector>

#include "tensor/tensor.hpp"
#include "tensor/vec.hpp"

namespace lz {

// ---- elementwise -------------------------------------------------------------------------

// out = f(a), f a generic lambda (see vec.hpp).
template <typename T, typename F>
Tensor<T> map(const Tensor<T>& a, F f) {
  Tensor<T> out = Tensor<T>::empty(a.shape());
  vec::map(a.numel(), a.data(), out.data(), f);
  return out;
}

namespace detail {
// The general broadcasting loop: walks the output index with per-input strides.
template <typename T, typename F>
void zip_general(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& out, F f) {
  const Shape& s = out.shape();
  const int64_t nd = static_cast<int64_t>(s.size());
  const std::vector<int64_t> sa = broadcast_strides(a.shape(), s), sb = broadcast_strides(b.shape(), s);
  std::vector<int64_t> idx(nd, 0);
  const T* pa = a.data();
  const T* pb = b.data();
  T* po = out.data();
  const int64_t n = out.numel();
  const int64_t inner = nd ? s[nd - 1] : 1;
  const int64_t ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0;
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < n; o += inner) {
    for (int64_t j = 0; j < inner; ++j) po[o + j] = f(pa[oa + j * ia], pb[ob + j * ib]);
    // advance the multi-index over all but the last dimension
    for (int64_t d = nd - 2; d >= 0; --d) {
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < s[d]) break;
      oa -= sa[d] * s[d];
      ob -= sb[d] * s[d];
      idx[d] = 0;
    }
  }
}

// row(r) for r in [0, rows), rows of `inner` elements, split over the engine's threads as the
// pointwise kernels are (vec::split): a row-broadcast map over a batch is one kernel, not `rows`.
template <typename Row>
void split_rows(int64_t rows, int64_t inner, Row row) {
  parallel::for_ranges(rows, 1, std::max<int64_t>(1, vec::kSplitMin / std::max<int64_t>(inner, 1)),
                       [&](int64_t b, int64_t e) {
                         for (int64_t r = b; r < e; ++r) row(r);
                       });
}

// True if `small` (leading 1s stripped) equals the trailing dimensions of `big`.
bool is_trailing_suffix(const Shape& small, const Shape& big);
// True if `col` equals `big` but with the last dimension 1 (a column over rows).
bool is_column_of(const Shape& col, const Shape& big);
}  // namespace detail

// out = f(a, b) with NumPy broadcasting; fast paths for same shape, scalar, row and column.
// `op` names the caller in a ShapeError.
template <typename T, typename F>
Tensor<T> zip(const Tensor<T>& a, const Tensor<T>& b, F f, const char* op) {
  if (a.shape() == b.shape()) {
    Tensor<T> out = Tensor<T>::empty(a.shape());
    vec::zip(a.numel(), a.data(), b.data(), out.data(), f);
    return out;
  }
  Shape s = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor<T> out = Tensor<T>::empty(s);
  if (b.numel() == 1 && s == a.shape()) {
    vec::zip_scalar_right(a.numel(), a.data(), b[0], out.data(), f);
  } else if (a.numel() == 1 && s == b.shape()) {
    vec::zip_scalar_left(b.numel(), a[0], b.data(), out.data(), f);
  } else if (s == a.shape() && detail::is_trailing_suffix(b.shape(), s)) {  // row over a batch
    const int64_t inner = b.numel();
    detail::split_rows(a.numel() / inner, inner, [&](int64_t r) {
      vec::zip(inner, a.data() + r * inner, b.data(), out.data() + r * inner, f);
    });
  } else if (s == b.shape() && detail::is_trailing_suffix(a.shape(), s)) {
    const int64_t inner = a.numel();
    detail::split_rows(b.numel() / inner, inner, [&](int64_t r) {
      vec::zip(inner, a.data(), b.data() + r * inner, out.data() + r * inner, f);
    });
  } else if (s == a.shape() && detail::is_column_of(b.shape(), s)) {  // column over rows
    const int64_t inner = s.back();
    detail::split_rows(b.numel(), inner, [&](int64_t r) {
      vec::zip_scalar_right(inner, a.data() + r * inner, b[r], out.data() + r * inner, f);
    });
  } else if (s == b.shape() && detail::is_column_of(a.shape(), s)) {
    const int64_t inner = s.back();
    detail::split_rows(a.numel(), inner, [&](int64_t r) {
      vec::zip_scalar_left(inner, a[r], b.data() + r * inner, out.data() + r * inner, f);
    });
  } else {
    detail::zip_general(a, b, out, f);
  }
  return out;
}

// Always the general loop: the reference that tests hold the fast paths to.
template <typename T, typename F>
Tensor<T> zip_reference(const Tensor<T>& a, const Tensor<T>& b, F f, const char* op) {
  Tensor<T> out = Tensor<T>::empty(broadcast_shapes(a.shape(), b.shape(), op));
  detail::zip_general(a, b, out, f);
  return out;
}

template <typename T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) {
  return zip(a, b, [](auto x, auto y) { return x + y; }, "add");
}
template <typename T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) {
  return zip(a, b, [](auto x, auto y) { return x - y; }, "sub");
}
template <typename T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) {
  return zip(a, b, [](auto x, auto y) { return x * y; }, "mul");
}
template <typename T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) {
  return zip(a, b, [](auto x, auto y) { return x / y; }, "div");
}
template <typename T>
Tensor<T> scale(const Tensor<T>& a, T s) {
  return map(a, [s](auto x) { return x * s; });
}
// a += b in place (b broadcast to a's shape); a must own its buffer alone.
template <typename T>
void add_inplace(Tensor<T>& a, const Tensor<T>& b);

// ---- reductions --------------------------------------------------------------------------

template <typename T>
T sum_all(const Tensor<T>& a);
template <typename T>
Tensor<T> sum(const Tensor<T>& a, int64_t axis, bool keepdim = false);
template <typename T>
Tensor<T> mean(const Tensor<T>& a, int64_t axis, bool keepdim = false);
template <typename T>
Tensor<T> max(const Tensor<T>& a, int64_t axis, bool keepdim = false);
template <typename T>
T max_all(const Tensor<T>& a);
// Index of the maximum along `axis` (first one on ties), as int64 values.
template <typename T>
std::vector<int64_t> argmax(const Tensor<T>& a, int64_t axis);
// Sum a broadcast result back down to `shape` (the inverse of broadcasting, for gradients).
template <typename T>
Tensor<T> sum_to(const Tensor<T>& a, const Shape& shape);

// ---- linear algebra ----------------------------------------------------------------------

// a:[M,K] b:[K,N] -> [M,N] through cblas_?gemm; ta/tb read a or b transposed without copying.
// 3-D operands are batched: a:[B,M,K] b:[B,K,N] -> [B,M,N] (a 2-D side is shared by the batch).
template <typename T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b, bool ta = false, bool tb = false);
// Work on a tile of a product's output, rows [r0, r1) and columns [c0, c1): a reference to any
// callable f(r0, r1, c0, c1), or nothing (the default). It must outlive the call it is passed to.
class TileFn {
 public:
  TileFn() = default;
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, TileFn>)
  TileFn(F& f)  // NOLINT: implicit, so a lambda is passed as it is
      : fn_([](void* f, int64_t r0, int64_t r1, int64_t c0, int64_t c1) { (*static_cast<F*>(f))(r0, r1, c0, c1); }),
        f_(&f) {}
  void operator()(int64_t r0, int64_t r1, int64_t c0, int64_t c1) const {
    if (fn_) fn_(f_, r0, r1, c0, c1);
  }

 private:
  void (*fn_)(void*, int64_t, int64_t, int64_t, int64_t) = nullptr;
  void* f_ = nullptr;
};
// c = alpha * op(a) op(b) + beta * c, 2-D only, c preallocated (used to accumulate gradients).
// before and after run on each tile of c just before and just after the product writes it, on the
// thread that computes the tile (the whole of c at one thread): fill a bias for beta = 1 there, or
// apply an activation, while the tile is in that core's cache.
template <typename T>
void gemm_into(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& c, bool ta, bool tb, T alpha, T beta,
               TileFn before = {}, TileFn after = {});
// Swap the last two dimensions (a copy).
template <typename T>
Tensor<T> transpose(const Tensor<T>& a);

// ---- shape copies ------------------------------------------------------------------------

// Elements [start, start+len) along `axis`.
template <typename T>
Tensor<T> narrow(const Tensor<T>& a, int64_t axis, int64_t start, int64_t len);
// Write `src` into `dst` at [start, start+len) along `axis` (dst += src if accumulate).
template <typename T>
void narrow_assign(Tensor<T>& dst, const Tensor<T>& src, int64_t axis, int64_t start, bool accumulate);
template <typename T>
Tensor<T> concat(const std::vector<Tensor<T>>& parts, int64_t axis);
// a broadcast (NumPy rules) to exactly `shape`, as a new tensor (a itself if the shape already matches).
template <typename T>
Tensor<T> broadcast_to(const Tensor<T>& a, const Shape& shape);
// Rows of a 2-D (or N-D, along axis 0) tensor.
template <typename T>
Tensor<T> index_select(const Tensor<T>& a, const std::vector<int64_t>& rows);

// Threads used by OpenBLAS (docs/design.md: set deliberately; 1 is usually best on 2 cores).
void set_blas_threads(int n);
int blas_threads();

}  // namespace lz
