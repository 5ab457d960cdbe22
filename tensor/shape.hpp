// Shapes and NumPy broadcasting rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lz {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[128,784]"

// Resolve a possibly negative axis against `ndim`; throws naming `op` if out of range.
int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op);

// A tensor seen as [outer, n, inner] around one axis, as every reduction along an axis sees it;
// `kept` is the shape with that axis 1 (keepdim), `squeezed` without it. `op` names errors.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1, axis = 0;
  Shape kept, squeezed;
};
AxisSplit split_axis(const Shape& s, int64_t axis, const char* op);

// NumPy's rule: align trailing dimensions, each pair equal or one of them 1.
// Throws ShapeError naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Row-major strides of `s` as seen from the broadcast shape `out` (0 where broadcast).
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out);

}  // namespace lz
