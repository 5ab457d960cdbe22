// Matrix products and a triangular solve. Product gradients use GEMM's transpose flags, never a
// materialised transpose:  C = A B  =>  dA = dC B^T,  dB = A^T dC.
#include <cblas.h>

#include <algorithm>
#include <type_traits>

#include "autodiff/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/vec.hpp"

namespace lz {

namespace {
// Z = Z L^{-T} in place for a row-major [n,D] block (Side Right, Lower, Trans) or, with
// `plain`, Z = Z L^{-1} (Side Right, Lower, NoTrans).
template <typename T>
void trsm_rows(const T* L, T* Z, int64_t n, int64_t D, bool plain) {
  const CBLAS_TRANSPOSE tr = plain ? CblasNoTrans : CblasTrans;
  if constexpr (std::is_same_v<T, double>)
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, tr, CblasNonUnit, n, D, 1.0, L, D, Z, D);
  else
    cblas_strsm(CblasRowMajor, CblasRight, CblasLower, tr, CblasNonUnit, n, D, 1.0f, L, D, Z, D);
}
}  // namespace

template <typename T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  LZ_PROFILE_OP;
  const Tensor<T> av = a.value(), bv = b.value();
  return Var<T>::record(lz::matmul(av, bv), {a, b}, "matmul", [av, bv](const Tensor<T>& g, GradSink<T>& s) {
    if (av.dim() == 2 && bv.dim() == 2) {
      s.add_matmul(0, g, bv, false, true);  // [M,N] x [K,N]^T
      s.add_matmul(1, av, g, true, false);  // [M,K]^T x [M,N]
      return;
    }
    if (s.needs(0)) {
      Tensor<T> ga = lz::matmul(g, bv, false, true);   // [B?,M,N] x [B?,K,N]^T
      if (av.dim() == 2 && ga.dim() == 3) ga = lz::sum(ga, 0);  // shared 2-D side: sum the batch
      s.add(0, std::move(ga));
    }
    if (s.needs(1)) {
      Tensor<T> gb = lz::matmul(av, g, true, false);   // [B?,M,K]^T x [B?,M,N]
      if (bv.dim() == 2 && gb.dim() == 3) gb = lz::sum(gb, 0);
      s.add(1, std::move(gb));
    }
  });
}

namespace {
// x w^T + b, the bias written into each tile of the output just before the product adds to it, and
// max(., 0) applied to the tile just after it when `relu`: both on the thread that computes the tile
// (the product adds to the bias: beta = 1).
template <typename T>
Tensor<T> affine(const Tensor<T>& xv, const Tensor<T>& wv, const Tensor<T>& bv, const char* op, bool relu) {
  const Shape& bs = bv.shape();
  if (xv.dim() != 2 || wv.dim() != 2 || bs.size() != 1 || bs[0] != wv.size(0))
    throw ShapeError(std::string(op) + ": expected x:[N,in] w:[out,in] b:[out], got x:" + shape_str(xv.shape()) +
                     " w:" + shape_str(wv.shape()) + " b:" + shape_str(bs));
  Tensor<T> out = Tensor<T>::empty({xv.size(0), wv.size(0)});
  const T* bp = bv.data();
  T* dst = out.data();
  const int64_t cols = out.shape()[1];
  auto fill_bias = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    for (int64_t i = r0; i < r1; ++i) std::copy(bp + c0, bp + c1, dst + i * cols + c0);
  };
  auto apply_relu = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    auto max0 = [](auto v) {
      using std::max;
      using xsimd::max;
      return max(v, decltype(v)(0));
    };
    if (c0 == 0 && c1 == cols) {  // whole rows: one contiguous range (split further when large)
      vec::map((r1 - r0) * cols, dst + r0 * cols, dst + r0 * cols, max0);
      return;
    }
    for (int64_t i = r0; i < r1; ++i) vec::map(c1 - c0, dst + i * cols + c0, dst + i * cols + c0, max0);
  };
  lz::gemm_into(xv, wv, out, false, true, T(1), T(1), TileFn(fill_bias), relu ? TileFn(apply_relu) : TileFn());
  return out;
}

// The VJP of x w^T + b for the output gradient g:[N,out] (the bias's too unless `bias_done`).
template <typename T>
void affine_vjp(const Tensor<T>& g, const Tensor<T>& xv, const Tensor<T>& wv, GradSink<T>& s,
                bool bias_done = false) {
  s.add_matmul(0, g, wv, false, false);  // [N,out] x [out,in]
  s.add_matmul(1, g, xv, true, false);   // [N,out]^T x [N,in], straight into w's gradient buffer
  if (s.needs(2) && !bias_done) s.add(2, lz::sum(g, 0));
}

// The relu's VJP, gm = g where out > 0 (else 0), and with `bias` the bias's gradient Σ_rows gm in
// the same pass: rows cut into one piece per thread (when large enough to pay), each piece
// masking its rows and summing them into its own partial while they are in its cache; the
// partials are added in piece order, so the bits depend only on the thread count. (Splitting the
// column sums alone over the threads measured slower than the serial sum: docs/design.md, threads note.)
template <typename T>
Tensor<T> relu_vjp(const Tensor<T>& g, const Tensor<T>& out, Tensor<T>* bias) {
  const int64_t rows = g.size(0), cols = g.size(1);
  Tensor<T> gm = Tensor<T>::empty(g.shape());
  const int parts = g.numel() >= 2 * vec::kSplitMin ? static_cast<int>(std::min<int64_t>(threads(), rows)) : 1;
  Tensor<T> partial = bias ? Tensor<T>::zeros({parts, cols}) : Tensor<T>();
  auto piece = [&](int k) {
    const int64_t r0 = rows * k / parts, r1 = rows * (k + 1) / parts;
    vec::serial::zip((r1 - r0) * cols, g.data() + r0 * cols, out.data() + r0 * cols, gm.data() + r0 * cols,
                     [](auto gi, auto y) { return vec::select(y > decltype(y)(0), gi, decltype(y)(0)); });
    if (bias)
      for (int64_t r = r0; r < r1; ++r) vec::serial::axpy(cols, T(1), gm.data() + r * cols, partial.data() + k * cols);
  };
  parallel::run_parts(parts, piece);
  if (bias) {
    *bias = Tensor<T>::empty({cols});
    std::copy(partial.data(), partial.data() + cols, bias->data());
    for (int k = 1; k < parts; ++k) vec::serial::axpy(cols, T(1), partial.data() + k * cols, bias->data());
  }
  return gm;
}
}  // namespace

// x:[N,in] w:[out,in] b:[out] -> [N,out]
template <typename T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
  LZ_PROFILE_OP;
  const Tensor<T> xv = x.value(), wv = w.value();
  return Var<T>::record(affine(xv, wv, b.value(), "linear", false), {x, w, b}, "linear",
                        [xv, wv](const Tensor<T>& g, GradSink<T>& s) { affine_vjp(g, xv, wv, s); });
}

// x:[N,in] w:[out,in] b:[out] -> [N,out]: max(x w^T + b, 0) in place in the product's buffer. The
// output is positive exactly where the pre-activation is, so it masks the gradient (as relu's VJP).
template <typename T>
Var<T> linear_relu(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
  LZ_PROFILE_OP;
  const Tensor<T> xv = x.value(), wv = w.value();
  Tensor<T> out = affine(xv, wv, b.value(), "linear_relu", true);
  return Var<T>::record(out, {x, w, b}, "linear_relu", [xv, wv, out](const Tensor<T>& g, GradSink<T>& s) {
    Tensor<T> gb;
    const Tensor<T> gm = relu_vjp(g, out, s.needs(2) ? &gb : nullptr);
    affine_vjp(gm, xv, wv, s, true);
    if (s.needs(2)) s.add(2, std::move(gb));
  });
}

template <typename T>
Var<T> transpose(const Var<T>& a) {
  LZ_PROFILE_OP;
  return Var<T>::record(lz::transpose(a.value()), {a}, "transpose",
                        [](const Tensor<T>& g, GradSink<T>& s) { s.add(0, lz::transpose(g)); });
}

// L:[K,D,D] (lower triangle read) Y:[K,N,D] -> Z:[K,N,D], Z_k = Y_k L_k^{-T}
template <typename T>
Var<T> tri_solve_rows(const Var<T>& L, const Var<T>& Y) {
  LZ_PROFILE_OP;
  const Tensor<T> Lv = L.value();
  if (Lv.dim() != 3 || Lv.size(1) != Lv.size(2) || Y.dim() != 3 || Y.size(0) != Lv.size(0) || Y.size(2) != Lv.size(2))
    throw ShapeError("tri_solve_rows: expected L:[K,D,D] Y:[K,N,D], got L:" + shape_str(Lv.shape()) +
                     " Y:" + shape_str(Y.shape()));
  const int64_t K = Y.size(0), N = Y.size(1), D = Y.size(2);
  Tensor<T> Z = Y.value().clone();
  for (int64_t k = 0; k < K; ++k) trsm_rows(Lv.data() + k * D * D, Z.data() + k * N * D, N, D, false);
  return Var<T>::record(Z, {L, Y}, "tri_solve_rows", [Lv, Z, K, N, D](const Tensor<T>& g, GradSink<T>& s) {
    // Y = Z L^T: gY = G L^{-1}; gL = -gY^T Z restricted to the lower triangle (the part read).
    Tensor<T> gY = g.clone();
    for (int64_t k = 0; k < K; ++k) trsm_rows(Lv.data() + k * D * D, gY.data() + k * N * D, N, D, true);
    if (s.needs(0)) {
      Tensor<T> gL = lz::matmul(gY, Z, true, false);  // [K,N,D]^T x [K,N,D] -> [K,D,D]
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < D; ++j) gL[(k * D + i) * D + j] = j <= i ? -gL[(k * D + i) * D + j] : T(0);
      s.add(0, std::move(gL));
    }
    if (s.needs(1)) s.add(1, std::move(gY));
  });
}

#define LZ_INSTANTIATE(T)                                                \
  template Var<T> matmul(const Var<T>&, const Var<T>&);                  \
  template Var<T> linear(const Var<T>&, const Var<T>&, const Var<T>&);   \
  template Var<T> linear_relu(const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> transpose(const Var<T>&);                              \
  template Var<T> tri_solve_rows(const Var<T>&, const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
