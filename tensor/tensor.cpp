#include "tensor/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <new>
#include <sstream>

#include "tensor/ops.hpp"
#include "tensor/storage.hpp"

namespace lz {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ',';
    r += std::to_string(s[i]);
  }
  return r + "]";
}

int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op) {
  const int64_t a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) + " out of range for a " +
                     std::to_string(ndim) + "-d tensor");
  return a;
}

AxisSplit split_axis(const Shape& s, int64_t axis, const char* op) {
  AxisSplit r;
  r.axis = normalize_axis(axis, static_cast<int64_t>(s.size()), op);
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (d < r.axis) r.outer *= s[d];
    if (d > r.axis) r.inner *= s[d];
    r.kept.push_back(d == r.axis ? 1 : s[d]);
    if (d != r.axis) r.squeezed.push_back(s[d]);
  }
  r.n = s[r.axis];
  return r;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                       " do not broadcast (dimension " + std::to_string(i) + ": " + std::to_string(da) +
                       " vs " + std::to_string(db) + ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t stride = 1;
  const size_t off = out.size() - s.size();
  for (size_t i = s.size(); i-- > 0;) {
    st[i + off] = s[i] == 1 ? 0 : stride;
    stride *= s[i];
  }
  return st;
}

namespace {
// Storage comes from tensor/storage.hpp: 64-byte aligned, size-classed and reused per thread from
// 4 KiB up, plain malloc below (glibc's aligned_alloc bypasses its per-thread cache and was the
// largest single cost of an op on small tensors, measured with callgrind).
template <typename T>
std::shared_ptr<T[]> allocate(int64_t n) {
  const size_t bytes = static_cast<size_t>(n) * sizeof(T);
  T* p = static_cast<T*>(storage::acquire(bytes));
  return std::shared_ptr<T[]>(p, [bytes](T* q) { storage::release(q, bytes); });
}

void check_shape(const Shape& s) {
  for (int64_t d : s)
    if (d < 0) throw ShapeError("tensor: negative dimension in shape " + shape_str(s));
}
}  // namespace

template <typename T>
Tensor<T>::Tensor(Shape shape) : Tensor(std::move(shape), T(0)) {}

template <typename T>
Tensor<T>::Tensor(Shape shape, T fill) : shape_(std::move(shape)) {
  check_shape(shape_);
  numel_ = shape_numel(shape_);
  buf_ = allocate<T>(numel_);
  data_ = buf_.get();
  std::fill(data_, data_ + numel_, fill);
}

template <typename T>
Tensor<T> Tensor<T>::empty(Shape s) {
  check_shape(s);
  Tensor t;
  t.shape_ = std::move(s);
  t.numel_ = shape_numel(t.shape_);
  t.buf_ = allocate<T>(t.numel_);
  t.data_ = t.buf_.get();
  return t;
}

template <typename T>
Tensor<T> Tensor<T>::from(const std::vector<T>& values, Shape s) {
  if (shape_numel(s) != static_cast<int64_t>(values.size()))
    throw ShapeError("Tensor::from: " + std::to_string(values.size()) + " values do not fill shape " +
                     shape_str(s));
  Tensor t = empty(std::move(s));
  std::copy(values.begin(), values.end(), t.data_);
  return t;
}

template <typename T>
Tensor<T> Tensor<T>::arange(int64_t n) {
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data_[i] = static_cast<T>(i);
  return t;
}

template <typename T>
Tensor<T> Tensor<T>::uniform(Shape s, T lo, T hi, Rng& rng) {
  Tensor t = empty(std::move(s));
  for (int64_t i = 0; i < t.numel_; ++i) t.data_[i] = static_cast<T>(rng.uniform(lo, hi));
  return t;
}

template <typename T>
Tensor<T> Tensor<T>::normal(Shape s, T mean, T stddev, Rng& rng) {
  Tensor t = empty(std::move(s));
  for (int64_t i = 0; i < t.numel_; ++i) t.data_[i] = static_cast<T>(mean + stddev * rng.normal());
  return t;
}

template <typename T>
int64_t Tensor<T>::size(int64_t axis) const {
  return shape_[normalize_axis(axis, dim(), "size")];
}

template <typename T>
T& Tensor<T>::at(std::initializer_list<int64_t> idx) {
  return const_cast<T&>(static_cast<const Tensor&>(*this).at(idx));
}

template <typename T>
const T& Tensor<T>::at(std::initializer_list<int64_t> idx) const {
  if (static_cast<int64_t>(idx.size()) != dim())
    throw ShapeError("at: " + std::to_string(idx.size()) + " indices for shape " + shape_str(shape_));
  int64_t off = 0, d = 0;
  for (int64_t i : idx) {
    if (i < 0 || i >= shape_[d])
      throw std::out_of_range("at: index " + std::to_string(i) + " out of range for dimension " +
                              std::to_string(d) + " of shape " + shape_str(shape_));
    off = off * shape_[d] + i;
    ++d;
  }
  return data_[off];
}

template <typename T>
T Tensor<T>::item() const {
  if (numel_ != 1) throw ShapeError("item: tensor of shape " + shape_str(shape_) + " is not one element");
  return data_[0];
}

template <typename T>
Tensor<T> Tensor<T>::reshape(Shape s) const {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: more than one -1 in " + shape_str(s));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0 && known > 0 && numel_ % known == 0) s[infer] = numel_ / known;
  if (shape_numel(s) != numel_)
    throw ShapeError("reshape: cannot view shape " + shape_str(shape_) + " (" + std::to_string(numel_) +
                     " elements) as " + shape_str(s));
  Tensor t = *this;
  t.shape_ = std::move(s);
  return t;
}

template <typename T>
Tensor<T> Tensor<T>::view(int64_t offset, Shape s) const {
  check_shape(s);
  const int64_t n = shape_numel(s);
  if (offset < 0 || offset > numel_ || n > numel_ - offset)
    throw ShapeError("view: elements [" + std::to_string(offset) + ", " + std::to_string(offset + n) + ") as " +
                     shape_str(s) + " are not inside a tensor of shape " + shape_str(shape_) + " (" +
                     std::to_string(numel_) + " elements)");
  Tensor t = *this;
  t.data_ = data_ + offset;
  t.shape_ = std::move(s);
  t.numel_ = n;
  return t;
}

template <typename T>
Tensor<T> Tensor<T>::clone() const {
  Tensor t = empty(shape_);
  if (numel_) std::memcpy(t.data_, data_, sizeof(T) * numel_);
  return t;
}

template <typename T>
std::string Tensor<T>::to_string(int64_t max_per_dim) const {
  std::ostringstream os;
  os << "Tensor" << shape_str(shape_) << " ";
  if (!defined()) return os.str() + "(undefined)";
  os << std::setprecision(sizeof(T) == 4 ? 6 : 10);
  // Print as nested rows, eliding the middle of long dimensions.
  std::function<void(int64_t, int64_t)> rec = [&](int64_t d, int64_t off) {
    if (d == dim()) {
      os << data_[off];
      return;
    }
    int64_t stride = 1;
    for (int64_t k = d + 1; k < dim(); ++k) stride *= shape_[k];
    os << "[";
    for (int64_t i = 0; i < shape_[d]; ++i) {
      if (shape_[d] > max_per_dim && i == max_per_dim / 2) {
        os << "..., ";
        i = shape_[d] - max_per_dim / 2 - 1;
        continue;
      }
      if (i) os << ", ";
      rec(d + 1, off + i * stride);
    }
    os << "]";
  };
  rec(0, 0);
  return os.str();
}

template <typename T>
std::ostream& operator<<(std::ostream& os, const Tensor<T>& t) {
  return os << t.to_string();
}

template class Tensor<float>;
template class Tensor<double>;
template std::ostream& operator<<(std::ostream&, const Tensor<float>&);
template std::ostream& operator<<(std::ostream&, const Tensor<double>&);

}  // namespace lz
