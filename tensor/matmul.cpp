// The matrix products of tensor/ops.hpp (matmul, gemm_into) and transpose: OpenBLAS's ?gemm, split
// over the engine's threads (tensor/parallel.hpp) when large enough to pay.
#include <cblas.h>

#include <algorithm>

#include "tensor/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/profile.hpp"
#include "tensor/vec.hpp"

namespace lz {

namespace {
inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const profile::Scope scope(profile::Cat::Gemm);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
              lda, B, ldb, beta, C, ldc);
}
inline void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                 const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  const profile::Scope scope(profile::Cat::Gemm);
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
              lda, B, ldb, beta, C, ldc);
}

// C[M,N] = alpha Aᵀ op(B) + beta C cut along K, for a weight gradient gᵀ x whose K is the batch:
// each thread multiplies its own block of the batch's rows (the rows it wrote in the kernels
// before: tensor/parallel.cpp gives a thread the same block of every job of the same length) into
// its own partial, and the partials are added into C in piece order, so the bits depend only on
// the thread count. Cutting C's rows instead has each core read both operands' every batch row,
// half of them from the other core's cache.
template <typename T>
void gemm_split_k(bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                  int64_t ldb, T beta, T* C, int64_t ldc, const TileFn& before, const TileFn& after,
                  int64_t grain) {
  const profile::Scope scope(profile::Cat::Gemm);
  const int64_t grains = (K + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<int64_t>(threads(), grains));
  Tensor<T> partial = Tensor<T>::empty({parts, M, N});
  T* P = partial.data();
  auto piece = [&](int k) {  // the block for_ranges would give piece k of `parts`
    const int64_t b = std::min(K, grains * k / parts * grain), e = std::min(K, grains * (k + 1) / parts * grain);
    gemm(true, tb, M, N, e - b, T(1), A + b * lda, lda, tb ? B + b : B + b * ldb, ldb, T(0), P + k * M * N, N);
  };
  parallel::run_parts(parts, piece);
  before(0, M, 0, N);
  for (int64_t i = 0; i < M; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))  // C is not read: it may hold anything, NaN included
      vec::serial::map(N, P + i * N, c, [alpha](auto v) { return v * decltype(v)(alpha); });
    else
      vec::serial::zip(N, c, P + i * N, c, [alpha, beta](auto cv, auto pv) {
        return decltype(cv)(beta) * cv + decltype(cv)(alpha) * pv;
      });
    for (int k = 1; k < parts; ++k) vec::serial::axpy(N, alpha, P + k * M * N + i * N, c);
  }
  after(0, M, 0, N);
}

// C[M,N] = alpha op(A) op(B) + beta C, split over the engine's threads (tensor/parallel.hpp) when
// the product is large enough to pay for it: along C's rows (a batch's rows for x Wᵀ and the input
// gradient, a weight gradient's output rows), or along its columns for x Wᵀ of a wide layer (see
// by_rows below). Pieces are whole multiples of 16 rows or columns (OpenBLAS's micro-kernel tiles
// are at most that wide), so only the last piece can end in a partial tile, as the whole call
// would. One piece per thread: each piece packs the shared operand again, and the pool gives a
// thread the same rows in every call of the same size (tensor/parallel.cpp), so a kernel that
// follows a product finds its rows in its own core's cache.
// `before` and `after` run on each piece's tile of C just before and after its product.
template <typename T>
void gemm_split(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
                int64_t ldb, T beta, T* C, int64_t ldc, TileFn before = {}, TileFn after = {}) {
  constexpr int64_t kGrain = 16, kMinWork = int64_t(1) << 19;  // multiply-adds per piece, at least
  constexpr int kPiecesPerThread = 1;
  // A weight gradient (ta) with a batch K at least as long as C is tall, and operands as large as a
  // pointwise kernel that would be split (vec::kSplitMin): cut the batch (gemm_split_k). Measured
  // in the flow's step at 2 threads, µs per product: 128 × 128 × 256 40 → 35-37, 4 × 128 × 256
  // 5.2 → 3.3, 128 × 2 × 256 3.7 → 2.6.
  if (threads() > 1 && ta && K >= M && K >= 2 * kGrain && (M + N) * K >= 2 * vec::kSplitMin) {
    gemm_split_k(tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, before, after, kGrain);
    return;
  }
  // Otherwise a product is split when it has enough multiply-adds, or when C alone is as large as
  // a pointwise kernel that would be split: a short K (a layer fed 2 inputs, the input gradient of
  // a 4-output layer) makes a product bound by writing C, and that splits too. And when its A (not
  // transposed: a batch's rows) is that large, whatever its work, so that the rows are read on the
  // core that wrote them. Measured the same way: the 4-output layer's x Wᵀ (256 × 4 × 128) 8.3 →
  // 2.8 µs, a 2-input layer's input gradient (256 × 2 × 128) 4.3 → 1.8.
  const bool local_rows = !ta && M * K >= 2 * vec::kSplitMin;
  if (threads() == 1 || (M * N * K < 2 * kMinWork && M * N < 2 * vec::kSplitMin && !local_rows)) {
    before(0, M, 0, N);
    gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    after(0, M, 0, N);
    return;
  }
  const profile::Scope scope(profile::Cat::Gemm);  // the caller's wait for the other pieces is GEMM time too
  // The shortest piece, in rows (or columns) of C each `other` long, that meets either minimum.
  auto min_len = [&](int64_t other) {
    const int64_t by_work = K > 0 ? kMinWork / (other * K) : M + N;
    return std::max<int64_t>(1, std::min(by_work, vec::kSplitMin / other));
  };
  // Along rows, unless C is wider than tall, A is not transposed and K is long: measured per shape
  // at 2 threads (AVX-512, SkylakeX kernel), rows won by up to 1.9x for a weight gradient gᵀ x
  // (ta) of any width and for a short K, while columns won by 3-5% for x Wᵀ of a wide layer.
  const bool by_rows = M >= 2 * kGrain && (ta || M >= N || K < 64);
  if (by_rows) {
    const int64_t len = local_rows ? std::min(min_len(N), std::max<int64_t>(1, vec::kSplitMin / K)) : min_len(N);
    parallel::for_ranges(M, kGrain, len, [&](int64_t b, int64_t e) {
      before(b, e, 0, N);
      gemm(ta, tb, e - b, N, K, alpha, ta ? A + b : A + b * lda, lda, B, ldb, beta, C + b * ldc, ldc);
      after(b, e, 0, N);
    }, kPiecesPerThread);
  } else {
    parallel::for_ranges(N, kGrain, min_len(M), [&](int64_t b, int64_t e) {
      before(0, M, b, e);
      gemm(ta, tb, M, e - b, K, alpha, A, lda, tb ? B + b * ldb : B + b, ldb, beta, C + b, ldc);
      after(0, M, b, e);
    }, kPiecesPerThread);
  }
}

struct MatDims {
  int64_t batch_a, batch_b, M, K, N, rows_a, cols_a, rows_b, cols_b;
};

MatDims matmul_dims(const Shape& a, const Shape& b, bool ta, bool tb) {
  auto fail = [&](const std::string& why) {
    return ShapeError("matmul: shapes " + shape_str(a) + (ta ? ".T" : "") + " and " + shape_str(b) +
                      (tb ? ".T" : "") + " " + why);
  };
  if (a.size() < 2 || a.size() > 3 || b.size() < 2 || b.size() > 3) throw fail("must be 2-D or 3-D (batched)");
  MatDims d{};
  d.batch_a = a.size() == 3 ? a[0] : 0;
  d.batch_b = b.size() == 3 ? b[0] : 0;
  if (d.batch_a && d.batch_b && d.batch_a != d.batch_b) throw fail("have different batch sizes");
  d.rows_a = a[a.size() - 2], d.cols_a = a.back();
  d.rows_b = b[b.size() - 2], d.cols_b = b.back();
  d.M = ta ? d.cols_a : d.rows_a;
  d.K = ta ? d.rows_a : d.cols_a;
  const int64_t kb = tb ? d.cols_b : d.rows_b;
  d.N = tb ? d.rows_b : d.cols_b;
  if (d.K != kb) {
    std::string hint;
    if (!tb && (d.K == d.cols_b)) hint = "; did you mean b.T?";
    throw fail("do not chain (inner " + std::to_string(d.K) + " vs " + std::to_string(kb) + ")" + hint);
  }
  return d;
}
}  // namespace

template <typename T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b, bool ta, bool tb) {
  const MatDims d = matmul_dims(a.shape(), b.shape(), ta, tb);
  const int64_t B = std::max(d.batch_a, d.batch_b);
  Tensor<T> out = Tensor<T>::empty(B ? Shape{B, d.M, d.N} : Shape{d.M, d.N});
  if (d.M * d.N == 0) return out;
  if (d.K == 0) {
    vec::fill(out.numel(), out.data(), T(0));
    return out;
  }
  const int64_t sa = d.batch_a ? d.rows_a * d.cols_a : 0, sb = d.batch_b ? d.rows_b * d.cols_b : 0;
  for (int64_t i = 0; i < std::max<int64_t>(B, 1); ++i)
    gemm_split(ta, tb, d.M, d.N, d.K, T(1), a.data() + i * sa, d.cols_a, b.data() + i * sb, d.cols_b, T(0),
         out.data() + i * d.M * d.N, d.N);
  return out;
}

template <typename T>
void gemm_into(const Tensor<T>& a, const Tensor<T>& b, Tensor<T>& c, bool ta, bool tb, T alpha, T beta, TileFn before,
               TileFn after) {
  const MatDims d = matmul_dims(a.shape(), b.shape(), ta, tb);
  if (d.batch_a || d.batch_b || c.shape() != Shape{d.M, d.N})
    throw ShapeError("gemm_into: output " + shape_str(c.shape()) + " does not match [" + std::to_string(d.M) + "," +
                     std::to_string(d.N) + "] (2-D operands only)");
  if (d.M * d.N == 0) return;
  if (d.K == 0) {  // an empty product: c = beta c, with the tiles' work around it
    before(0, d.M, 0, d.N);
    for (int64_t i = 0; i < c.numel(); ++i) c[i] = beta == T(0) ? T(0) : beta * c[i];
    after(0, d.M, 0, d.N);
    return;
  }
  gemm_split(ta, tb, d.M, d.N, d.K, alpha, a.data(), d.cols_a, b.data(), d.cols_b, beta, c.data(), d.N, before,
             after);
}

template <typename T>
Tensor<T> transpose(const Tensor<T>& a) {
  if (a.dim() < 2) throw ShapeError("transpose: needs at least 2 dimensions, got " + shape_str(a.shape()));
  Shape s = a.shape();
  const int64_t R = s[s.size() - 2], C = s.back();
  std::swap(s[s.size() - 2], s.back());
  Tensor<T> out = Tensor<T>::empty(s);
  const int64_t B = a.numel() / std::max<int64_t>(R * C, 1);
  constexpr int64_t blk = 32;  // cache blocking
  for (int64_t b = 0; b < B; ++b) {
    const T* p = a.data() + b * R * C;
    T* o = out.data() + b * R * C;
    for (int64_t i0 = 0; i0 < R; i0 += blk)
      for (int64_t j0 = 0; j0 < C; j0 += blk)
        for (int64_t i = i0; i < std::min(R, i0 + blk); ++i)
          for (int64_t j = j0; j < std::min(C, j0 + blk); ++j) o[j * R + i] = p[i * C + j];
  }
  return out;
}

#define LZ_INSTANTIATE(T)                                                                          \
  template Tensor<T> matmul(const Tensor<T>&, const Tensor<T>&, bool, bool);                       \
  template void gemm_into(const Tensor<T>&, const Tensor<T>&, Tensor<T>&, bool, bool, T, T, TileFn, TileFn); \
  template Tensor<T> transpose(const Tensor<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
