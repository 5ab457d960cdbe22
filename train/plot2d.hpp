// 2-D density pictures through gnuplot (pngcairo): a density heatmap beside the data it was fitted
// to, and point clouds (samples, data pushed into z-space), each with a title, axes and a colour
// bar or legend. Skipped with one warning when gnuplot is missing (returns false).
#pragma once

#include <string>

#include "tensor/tensor.hpp"

namespace lz {

struct Box2 {
  double xmin = -1, xmax = 1, ymin = -1, ymax = 1;
};

// The smallest box holding every point of pts:[N,2] (N >= 1), widened by `margin` of its range
// on each side (and to at least 1 unit wide).
Box2 bounding_box(const TensorF& pts, double margin = 0.1);

// Left: density:[ny,nx] (row 0 at the top, cells covering `box`, as models/flow's log_prob_grid
// returns exp'd) as a heatmap with a colour bar; right: the points pts:[N,2] over the same box.
bool plot_density_beside_points(const TensorF& density, const Box2& box, const TensorF& pts, const std::string& png_path,
                                const std::string& title, const std::string& density_title,
                                const std::string& points_title);

// A scatter of pts:[N,2] with a title and a one-entry legend naming the points.
bool plot_points(const TensorF& pts, const Box2& box, const std::string& png_path, const std::string& title,
                 const std::string& legend);

}  // namespace lz
