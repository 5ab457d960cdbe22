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

// NumPy's rule: align trailing dimensions, each pair equal or one of them 1.
// Throws ShapeError naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Row-major strides of `s` as seen from the broadcast shape `out` (0 where broadcast).
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out);

}  // namespace lz
