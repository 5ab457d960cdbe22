// The vector primitives: every elementwise kernel and reduction of latentzoo is one of these,
// written once on xsimd::batch<T> with a scalar tail (as ggml's vec.h).
//
// The maps take a *generic* lambda that is called both with xsimd::batch<T> and with T, so
// one expression serves the SIMD body and the tail: `[](auto x) { return x * x; }`.
// For maths functions write `using std::exp; using xsimd::exp; return exp(x);` so that
// overload resolution picks the right one for each argument type.
// tests/tensor/test_vec.cpp checks each against a naive reference loop.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>  // Debian 12 ships xsimd 8.1: hadd, no reduce_max

#include "tensor/parallel.hpp"

namespace lz::vec {

template <typename T>
using batch = xsimd::batch<T>;

template <typename T>
constexpr int64_t width = static_cast<int64_t>(xsimd::batch<T>::size);

// c ? a : b, for both xsimd batches (lane-wise) and scalars, so one generic lambda can branch.
template <typename T, typename A>
inline xsimd::batch<T, A> select(const xsimd::batch_bool<T, A>& c, const xsimd::batch<T, A>& a,
                                 const xsimd::batch<T, A>& b) {
  return xsimd::select(c, a, b);
}
template <typename T>
  requires std::is_arithmetic_v<T>
inline T select(bool c, T a, T b) {
  return c ? a : b;
}

// The pointwise kernels, one thread each: the loops as written once. vec::map and the others
// below split [0, n) into such loops over the engine's threads.
namespace serial {

// out[i] = f(a[i])
template <typename T, typename F>
inline void map(int64_t n, const T* a, T* out, F f) {
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>) f(batch<T>::load_unaligned(a + i)).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = f(a[i]);
}

// out[i] = f(a[i], b[i])
template <typename T, typename F>
inline void zip(int64_t n, const T* a, const T* b, T* out, F f) {
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>)
    f(batch<T>::load_unaligned(a + i), batch<T>::load_unaligned(b + i)).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = f(a[i], b[i]);
}

// out[i] = f(a[i], s)
template <typename T, typename F>
inline void zip_scalar_right(int64_t n, const T* a, T s, T* out, F f) {
  const batch<T> sb(s);
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>) f(batch<T>::load_unaligned(a + i), sb).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = f(a[i], s);
}

// out[i] = f(s, b[i])
template <typename T, typename F>
inline void zip_scalar_left(int64_t n, T s, const T* b, T* out, F f) {
  const batch<T> sb(s);
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>) f(sb, batch<T>::load_unaligned(b + i)).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = f(s, b[i]);
}

// out[i] = f(a[i], b[i], c[i])
template <typename T, typename F>
inline void zip3(int64_t n, const T* a, const T* b, const T* c, T* out, F f) {
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>)
    f(batch<T>::load_unaligned(a + i), batch<T>::load_unaligned(b + i), batch<T>::load_unaligned(c + i))
        .store_unaligned(out + i);
  for (; i < n; ++i) out[i] = f(a[i], b[i], c[i]);
}

// out[i] = f(a[idx[i]]): a gather through an index list (AVX2's vgatherqpd), then a map
template <typename T, typename F>
inline void gather_map(int64_t n, const T* a, const int64_t* idx, T* out, F f) {
  using ibatch = xsimd::batch<int64_t>;
  static_assert(ibatch::size == batch<T>::size, "gather_map: index and value batches differ in width");
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>)
    f(batch<T>::gather(a, ibatch::load_unaligned(idx + i))).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = f(a[idx[i]]);
}

// out[i] = f(a[idx[i]], b[i])
template <typename T, typename F>
inline void gather_zip(int64_t n, const T* a, const int64_t* idx, const T* b, T* out, F f) {
  using ibatch = xsimd::batch<int64_t>;
  static_assert(ibatch::size == batch<T>::size, "gather_zip: index and value batches differ in width");
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>)
    f(batch<T>::gather(a, ibatch::load_unaligned(idx + i)), batch<T>::load_unaligned(b + i)).store_unaligned(out + i);
  for (; i < n; ++i) out[i] = f(a[idx[i]], b[i]);
}

// y[i] += alpha * x[i]
template <typename T>
inline void axpy(int64_t n, T alpha, const T* x, T* y) {
  const batch<T> ab(alpha);
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>)
    xsimd::fma(ab, batch<T>::load_unaligned(x + i), batch<T>::load_unaligned(y + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] += alpha * x[i];
}

// In-place fused updates over up to four arrays (the optimizers' steps): f(p, g, a[, b]) gets
// batches (then scalars for the tail) of p, a and b by reference and of g by value, and what it
// writes to p, a and b is stored back. One pass over memory instead of one per operation.
template <typename T, typename F>
inline void update_in_place(int64_t n, T* p, const T* g, T* a, F f) {
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>) {
    batch<T> pv = batch<T>::load_unaligned(p + i), av = batch<T>::load_unaligned(a + i);
    f(pv, batch<T>::load_unaligned(g + i), av);
    pv.store_unaligned(p + i);
    av.store_unaligned(a + i);
  }
  for (; i < n; ++i) f(p[i], g[i], a[i]);
}
template <typename T, typename F>
inline void update_in_place(int64_t n, T* p, const T* g, T* a, T* b, F f) {
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>) {
    batch<T> pv = batch<T>::load_unaligned(p + i), av = batch<T>::load_unaligned(a + i),
             bv = batch<T>::load_unaligned(b + i);
    f(pv, batch<T>::load_unaligned(g + i), av, bv);
    pv.store_unaligned(p + i);
    av.store_unaligned(a + i);
    bv.store_unaligned(b + i);
  }
  for (; i < n; ++i) f(p[i], g[i], a[i], b[i]);
}

}  // namespace serial

// The pointwise kernels split [0, n) over the engine's threads (tensor/parallel.hpp) when n is at
// least 2 * kSplitMin: below that, handing a piece to a worker costs about what the piece saves.
// Pieces are whole multiples of 64 elements, so every piece starts on a batch boundary and the
// results are the same bits however the range was cut. Each piece is a serial:: loop called with
// its own copies of the pointers and of f (so the compiler keeps them in registers). The
// reductions further down stay serial.
constexpr int64_t kSplitMin = 16384;
template <typename Body>
inline void split(int64_t n, Body body) {
  parallel::for_ranges(n, 64, kSplitMin, body);
}

template <typename T, typename F>
inline void map(int64_t n, const T* a, T* out, F f) {
  split(n, [&](int64_t b, int64_t e) { serial::map(e - b, a + b, out + b, f); });
}
template <typename T, typename F>
inline void zip(int64_t n, const T* a, const T* b, T* out, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::zip(e - i, a + i, b + i, out + i, f); });
}
template <typename T, typename F>
inline void zip_scalar_right(int64_t n, const T* a, T s, T* out, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::zip_scalar_right(e - i, a + i, s, out + i, f); });
}
template <typename T, typename F>
inline void zip_scalar_left(int64_t n, T s, const T* b, T* out, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::zip_scalar_left(e - i, s, b + i, out + i, f); });
}
template <typename T, typename F>
inline void zip3(int64_t n, const T* a, const T* b, const T* c, T* out, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::zip3(e - i, a + i, b + i, c + i, out + i, f); });
}
template <typename T, typename F>
inline void gather_map(int64_t n, const T* a, const int64_t* idx, T* out, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::gather_map(e - i, a, idx + i, out + i, f); });
}
template <typename T, typename F>
inline void gather_zip(int64_t n, const T* a, const int64_t* idx, const T* b, T* out, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::gather_zip(e - i, a, idx + i, b + i, out + i, f); });
}
template <typename T>
inline void axpy(int64_t n, T alpha, const T* x, T* y) {
  split(n, [&](int64_t i, int64_t e) { serial::axpy(e - i, alpha, x + i, y + i); });
}

template <typename T, typename F>
inline void update_in_place(int64_t n, T* p, const T* g, T* a, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::update_in_place(e - i, p + i, g + i, a + i, f); });
}
template <typename T, typename F>
inline void update_in_place(int64_t n, T* p, const T* g, T* a, T* b, F f) {
  split(n, [&](int64_t i, int64_t e) { serial::update_in_place(e - i, p + i, g + i, a + i, b + i, f); });
}

// y[i] += x[i]
template <typename T>
inline void add_into(int64_t n, const T* x, T* y) {
  zip(n, y, x, y, [](auto p, auto q) { return p + q; });
}

inline void fill(int64_t n, float* out, float v) { std::fill(out, out + n, v); }
inline void fill(int64_t n, double* out, double v) { std::fill(out, out + n, v); }

// Σ a[i], with four independent batch accumulators to hide the add latency.
template <typename T>
inline T sum(int64_t n, const T* a) {
  constexpr int64_t W = width<T>;
  batch<T> s0(T(0)), s1(T(0)), s2(T(0)), s3(T(0));
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    s0 += batch<T>::load_unaligned(a + i);
    s1 += batch<T>::load_unaligned(a + i + W);
    s2 += batch<T>::load_unaligned(a + i + 2 * W);
    s3 += batch<T>::load_unaligned(a + i + 3 * W);
  }
  for (; i + W <= n; i += W) s0 += batch<T>::load_unaligned(a + i);
  T s = xsimd::hadd((s0 + s1) + (s2 + s3));
  for (; i < n; ++i) s += a[i];
  return s;
}

// Σ f(a[i]) (f generic, as in map): a fused map-reduce, e.g. Σ exp(x - m) without a temporary.
template <typename T, typename F>
inline T map_sum(int64_t n, const T* a, F f) {
  batch<T> s0(T(0)), s1(T(0));
  int64_t i = 0;
  for (; i + 2 * width<T> <= n; i += 2 * width<T>) {
    s0 += f(batch<T>::load_unaligned(a + i));
    s1 += f(batch<T>::load_unaligned(a + i + width<T>));
  }
  for (; i + width<T> <= n; i += width<T>) s0 += f(batch<T>::load_unaligned(a + i));
  T s = xsimd::hadd(s0 + s1);
  for (; i < n; ++i) s += f(a[i]);
  return s;
}

// Σ a[i] * b[i]
template <typename T>
inline T dot(int64_t n, const T* a, const T* b) {
  batch<T> s0(T(0));
  int64_t i = 0;
  for (; i + width<T> <= n; i += width<T>)
    s0 = xsimd::fma(batch<T>::load_unaligned(a + i), batch<T>::load_unaligned(b + i), s0);
  T s = xsimd::hadd(s0);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// max a[i] (-inf for n == 0); NaN propagates.
template <typename T>
inline T max(int64_t n, const T* a) {
  T m = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  if (n >= width<T>) {
    batch<T> mb = batch<T>::load_unaligned(a);
    for (i = width<T>; i + width<T> <= n; i += width<T>) mb = xsimd::max(mb, batch<T>::load_unaligned(a + i));
    alignas(64) T lanes[width<T>];
    mb.store_aligned(lanes);
    for (int64_t k = 0; k < width<T>; ++k) m = lanes[k] > m ? lanes[k] : m;
  }
  for (; i < n; ++i) m = a[i] > m ? a[i] : m;
  for (int64_t j = 0; j < n; ++j)
    if (std::isnan(a[j])) return a[j];
  return m;
}

}  // namespace lz::vec
