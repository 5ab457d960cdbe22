// Tensor<T>: a shape and contiguous row-major data behind a shared buffer.
//
// Copies are cheap (they share the buffer); `reshape` and `view` (a contiguous range of the
// buffer) are views onto the same buffer; every other op in tensor/ops.hpp makes a new tensor. There are no strides: every tensor
// is contiguous, which keeps every kernel a flat loop (docs/design.md: strides only on a measured need).
// Instantiated for float (training) and double (gradient checks, EM).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/rng.hpp"
#include "tensor/shape.hpp"

namespace lz {

// Thrown for every shape mismatch; the message names the op and both shapes.
struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

template <typename T>
class Tensor {
 public:
  Tensor() = default;  // an empty tensor: no buffer, shape [0]... use defined() to test
  explicit Tensor(Shape shape);  // zero-filled
  Tensor(Shape shape, T fill);

  static Tensor zeros(Shape s) { return Tensor(std::move(s)); }
  static Tensor ones(Shape s) { return Tensor(std::move(s), T(1)); }
  static Tensor full(Shape s, T v) { return Tensor(std::move(s), v); }
  static Tensor scalar(T v) { return Tensor(Shape{}, v); }
  static Tensor from(const std::vector<T>& values, Shape s);
  static Tensor from(const std::vector<T>& values) { return from(values, {static_cast<int64_t>(values.size())}); }
  static Tensor arange(int64_t n);
  static Tensor uniform(Shape s, T lo, T hi, Rng& rng);
  static Tensor normal(Shape s, T mean, T stddev, Rng& rng);
  // Uninitialised storage, for kernels that overwrite every element.
  static Tensor empty(Shape s);

  bool defined() const { return buf_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const { return numel_; }

  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }
  T& at(std::initializer_list<int64_t> idx);
  const T& at(std::initializer_list<int64_t> idx) const;
  T item() const;  // the value of a one-element tensor

  // A view with a new shape over the same buffer; one dimension may be -1.
  Tensor reshape(Shape s) const;
  // A view of shape `s` over elements [offset, offset + numel(s)) of this tensor, sharing its
  // buffer: how a module's parameters each view one flat buffer (nn/module.hpp). Contiguous like
  // every tensor; throws if the range is not inside this tensor.
  Tensor view(int64_t offset, Shape s) const;
  // True if both are views of one allocation (copies, reshapes and view()s of one tensor).
  bool shares_buffer(const Tensor& o) const { return buf_ != nullptr && buf_ == o.buf_; }
  Tensor clone() const;
  // True if no other tensor shares this buffer (so it may be updated in place safely).
  bool unique() const { return buf_.use_count() == 1; }

  std::vector<T> to_vector() const { return std::vector<T>(data_, data_ + numel_); }
  std::string to_string(int64_t max_per_dim = 6) const;

 private:
  std::shared_ptr<T[]> buf_;
  T* data_ = nullptr;
  Shape shape_;
  int64_t numel_ = 0;
};

template <typename T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t);

using TensorF = Tensor<float>;
using TensorD = Tensor<double>;

// The same values in another dtype (float <-> double), a new buffer: PCA and EM run in double
// on data the drivers load as float.
template <typename U, typename T>
Tensor<U> tensor_cast(const Tensor<T>& x) {
  Tensor<U> out = Tensor<U>::empty(x.shape());
  const T* src = x.data();
  U* dst = out.data();
  for (int64_t i = 0; i < x.numel(); ++i) dst[i] = static_cast<U>(src[i]);
  return out;
}

}  // namespace lz
