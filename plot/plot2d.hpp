// 2-D density pictures through gnuplot (pngcairo): a density heatmap beside the data it was fitted
// to, and point clouds (samples, data pushed into z-space), each with a title, axes and a colour
// bar or legend. Skipped with one warning when gnuplot is missing (returns false).
#pragma once

#include <array>
#include <string>
#include <vector>

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

// A polyline over a picture, with its legend entry (none when the title is empty); colour as
// gnuplot reads it ("#d62728").
struct Curve {
  std::string title;
  std::vector<double> x, y;
  std::string colour = "#d62728";
  double width = 3;
};

// The n-σ contour of the 2-D Gaussian N(mean, cov) (cov row-major [a b; b d], positive definite)
// as a closed polyline of `points` vertices: mean + n·L·(cos t, sin t) with L L^T = cov.
Curve ellipse_curve(const std::array<double, 2>& mean, const std::array<double, 4>& cov, double n_sigma,
                    std::string title, std::string colour, double width = 2, int points = 120);

// One panel: density:[ny,nx] (row 0 at the top, cells covering `box`) as a heatmap with a colour
// bar labelled `density_label` and clipped at `cb_max` (0: the grid's maximum; a few sharp peaks
// would otherwise wash the rest out), the points pts:[N,2] on top (translucent, one legend entry)
// and each curve on top of those. Axes labelled xlabel and ylabel.
bool plot_heatmap_with_overlays(const TensorF& density, const Box2& box, const TensorF& pts,
                                const std::vector<Curve>& curves, const std::string& png_path, const std::string& title,
                                const std::string& xlabel, const std::string& ylabel, const std::string& density_label,
                                const std::string& points_label, double cb_max = 0);

// Trajectories around circular obstacles, one panel per model side by side: each panel's sampled
// paths:[S, T, 2] (thin, translucent) over the demonstration demo:[T, 2] (thick, dashed), with the
// obstacles drawn as discs; a legend in each panel names the three.
struct TrajectoryPanel {
  std::string title;
  TensorF paths;  // [S, T, 2]
};
struct Circle {
  double x = 0, y = 0, r = 0;
};
bool plot_trajectory_panels(const std::vector<TrajectoryPanel>& panels, const TensorF& demo,
                            const std::vector<Circle>& obstacles, const Box2& box, const std::string& png_path,
                            const std::string& title);

// A scatter of pts:[N,2] coloured by labels[N] (one colour and one legend entry per class, named
// by `class_names` or by the label's number), axes labelled; the box is fitted to the points.
// `curves` are drawn on top (a mixture's ellipses); `marks` as black crosses (its means).
// label_colour(k) is class k's colour, for curves that belong to a class.
bool plot_labelled_points(const TensorF& pts, const std::vector<int64_t>& labels, const std::vector<std::string>& class_names,
                          const std::string& png_path, const std::string& title, const std::string& xlabel,
                          const std::string& ylabel, const std::vector<Curve>& curves = {},
                          const std::vector<std::array<double, 2>>& marks = {}, const std::string& marks_title = "");
std::string label_colour(int64_t k);

}  // namespace lz
