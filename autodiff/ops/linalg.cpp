// Matrix products. Gradients use GEMM's transpose flags, never a materialised transpose:
//   C = A B  =>  dA = dC B^T,  dB = A^T dC.
#include "autodiff/ops.hpp"

namespace lz {

template <typename T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  const Tensor<T> av = a.value(), bv = b.value();
  return Var<T>::record(lz::matmul(av, bv), {a, b}, "matmul", [av, bv](const Tensor<T>& g, GradSink<T>& s) {
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

// x:[N,in] w:[out,in] b:[out] -> [N,out]
template <typename T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
  const Tensor<T> xv = x.value(), wv = w.value();
  const Shape& bs = b.value().shape();
  if (xv.dim() != 2 || wv.dim() != 2 || bs.size() != 1 || bs[0] != wv.size(0))
    throw ShapeError("linear: expected x:[N,in] w:[out,in] b:[out], got x:" + shape_str(xv.shape()) +
                     " w:" + shape_str(wv.shape()) + " b:" + shape_str(bs));
  Tensor<T> out = Tensor<T>::empty({xv.size(0), wv.size(0)});
  // out = broadcast bias, then out += x w^T in the same GEMM (beta = 1)
  const T* bp = b.value().data();
  const int64_t rows = out.shape()[0], cols = out.shape()[1];
  for (int64_t i = 0; i < rows; ++i) std::copy(bp, bp + cols, out.data() + i * cols);
  lz::gemm_into(xv, wv, out, false, true, T(1), T(1));
  return Var<T>::record(std::move(out), {x, w, b}, "linear", [xv, wv](const Tensor<T>& g, GradSink<T>& s) {
    if (s.needs(0)) s.add(0, lz::matmul(g, wv));               // [N,out] x [out,in]
    if (s.needs(1)) s.add(1, lz::matmul(g, xv, true, false));  // [N,out]^T x [N,in]
    if (s.needs(2)) s.add(2, lz::sum(g, 0));
  });
}

template <typename T>
Var<T> transpose(const Var<T>& a) {
  return Var<T>::record(lz::transpose(a.value()), {a}, "transpose",
                        [](const Tensor<T>& g, GradSink<T>& s) { s.add(0, lz::transpose(g)); });
}

#define LZ_INSTANTIATE(T)                                                \
  template Var<T> matmul(const Var<T>&, const Var<T>&);                  \
  template Var<T> linear(const Var<T>&, const Var<T>&, const Var<T>&);   \
  template Var<T> transpose(const Var<T>&);
LZ_INSTANTIATE(float)
LZ_INSTANTIATE(double)

}  // namespace lz
