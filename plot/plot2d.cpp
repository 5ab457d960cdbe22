#include "plot/plot2d.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <stdexcept>

#include "plot/plot.hpp"

namespace lz {

Box2 bounding_box(const TensorF& pts, double margin) {
  if (pts.dim() != 2 || pts.size(1) != 2 || pts.size(0) < 1)
    throw ShapeError("bounding_box: expected points [N>=1,2], got " + shape_str(pts.shape()));
  Box2 b{pts[0], pts[0], pts[1], pts[1]};
  for (int64_t i = 0; i < pts.size(0); ++i) {
    b.xmin = std::min<double>(b.xmin, pts[2 * i]), b.xmax = std::max<double>(b.xmax, pts[2 * i]);
    b.ymin = std::min<double>(b.ymin, pts[2 * i + 1]), b.ymax = std::max<double>(b.ymax, pts[2 * i + 1]);
  }
  const double w = std::max(1.0, b.xmax - b.xmin), h = std::max(1.0, b.ymax - b.ymin);
  const double cx = (b.xmin + b.xmax) / 2, cy = (b.ymin + b.ymax) / 2;
  return {cx - w * (0.5 + margin), cx + w * (0.5 + margin), cy - h * (0.5 + margin), cy + h * (0.5 + margin)};
}

namespace {
void write_points(std::ofstream& d, const TensorF& pts) {
  for (int64_t i = 0; i < pts.size(0); ++i) d << pts[2 * i] << " " << pts[2 * i + 1] << "\n";
}

std::string ranges(const Box2& b) {
  return "set xrange [" + std::to_string(b.xmin) + ":" + std::to_string(b.xmax) + "]\nset yrange [" +
         std::to_string(b.ymin) + ":" + std::to_string(b.ymax) + "]\nset size ratio -1\nset xlabel 'x1'\nset ylabel 'x2'\n";
}

}  // namespace

bool plot_density_beside_points(const TensorF& density, const Box2& box, const TensorF& pts, const std::string& png_path,
                                const std::string& title, const std::string& density_title,
                                const std::string& points_title) {
  if (density.dim() != 2) throw ShapeError("plot_density_beside_points: expected a grid [ny,nx], got " + shape_str(density.shape()));
  if (pts.dim() != 2 || pts.size(1) != 2) throw ShapeError("plot_density_beside_points: expected points [N,2], got " + shape_str(pts.shape()));
  const int64_t ny = density.size(0), nx = density.size(1);
  const double dx = (box.xmax - box.xmin) / static_cast<double>(nx), dy = (box.ymax - box.ymin) / static_cast<double>(ny);
  return draw_with_gnuplot(
      png_path, 1400, 650,
      [&](std::ofstream& d) {
        for (int64_t r = 0; r < ny; ++r) {
          for (int64_t c = 0; c < nx; ++c)
            d << box.xmin + (static_cast<double>(c) + 0.5) * dx << " " << box.ymax - (static_cast<double>(r) + 0.5) * dy
              << " " << density[r * nx + c] << "\n";
          d << "\n";
        }
        d << "\n";  // index 0: the grid; index 1: the points
        write_points(d, pts);
      },
      [&](std::ofstream& s, const std::string& data) {
        s << "set multiplot layout 1,2 title " << gnuplot_quote(title) << "\n" << ranges(box)
          << "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')\nset cblabel 'density'\n"
          << "set title " << gnuplot_quote(density_title) << "\n"
          << "plot " << data << " index 0 using 1:2:3 with image notitle\n"
          << "set title " << gnuplot_quote(points_title) << "\nset key top right\n"
          << "plot " << data << " index 1 using 1:2 with points pt 7 ps 0.25 lc rgb '#1f77b4' title "
          << gnuplot_quote(std::to_string(pts.size(0)) + " points") << "\nunset multiplot\n";
      });
}

bool plot_points(const TensorF& pts, const Box2& box, const std::string& png_path, const std::string& title,
                 const std::string& legend) {
  if (pts.dim() != 2 || pts.size(1) != 2) throw ShapeError("plot_points: expected points [N,2], got " + shape_str(pts.shape()));
  return draw_with_gnuplot(
      png_path, 700, 650, [&](std::ofstream& d) { write_points(d, pts); },
      [&](std::ofstream& s, const std::string& data) {
        s << ranges(box) << "set title " << gnuplot_quote(title) << "\nset key top right\n"
          << "plot " << data << " using 1:2 with points pt 7 ps 0.25 lc rgb '#d62728' title " << gnuplot_quote(legend)
          << "\n";
      });
}

bool plot_heatmap_with_overlays(const TensorF& density, const Box2& box, const TensorF& pts,
                                const std::vector<Curve>& curves, const std::string& png_path, const std::string& title,
                                const std::string& xlabel, const std::string& ylabel, const std::string& density_label,
                                const std::string& points_label, double cb_max) {
  if (density.dim() != 2) throw ShapeError("plot_heatmap_with_overlays: expected a grid [ny,nx], got " + shape_str(density.shape()));
  if (pts.dim() != 2 || pts.size(1) != 2) throw ShapeError("plot_heatmap_with_overlays: expected points [N,2], got " + shape_str(pts.shape()));
  for (const Curve& c : curves)
    if (c.x.size() != c.y.size() || c.x.size() < 2)
      throw std::invalid_argument("plot_heatmap_with_overlays: curve '" + c.title + "' needs as many x as y, at least 2, got " +
                                  std::to_string(c.x.size()) + " and " + std::to_string(c.y.size()));
  const int64_t ny = density.size(0), nx = density.size(1);
  const double dx = (box.xmax - box.xmin) / static_cast<double>(nx), dy = (box.ymax - box.ymin) / static_cast<double>(ny);
  if (cb_max <= 0)
    for (int64_t i = 0; i < density.numel(); ++i) cb_max = std::max<double>(cb_max, density[i]);
  if (!(cb_max > 0)) cb_max = 1;
  return draw_with_gnuplot(
      png_path, 1000, 720,
      [&](std::ofstream& d) {
        for (int64_t r = 0; r < ny; ++r) {
          for (int64_t c = 0; c < nx; ++c)
            d << box.xmin + (static_cast<double>(c) + 0.5) * dx << " " << box.ymax - (static_cast<double>(r) + 0.5) * dy
              << " " << std::min<double>(density[r * nx + c], cb_max) << "\n";
          d << "\n";
        }
        d << "\n";  // index 0: the grid; 1: the points; 2, 3, ...: the curves
        write_points(d, pts);
        for (const Curve& c : curves) {
          d << "\n\n";
          for (size_t i = 0; i < c.x.size(); ++i) d << c.x[i] << " " << c.y[i] << "\n";
        }
      },
      [&](std::ofstream& s, const std::string& data) {
        s << "set title " << gnuplot_quote(title) << "\nset xrange [" << box.xmin << ":" << box.xmax << "]\nset yrange ["
          << box.ymin << ":" << box.ymax << "]\nset xlabel " << gnuplot_quote(xlabel) << "\nset ylabel "
          << gnuplot_quote(ylabel) << "\nset cbrange [0:" << cb_max << "]\nset cblabel " << gnuplot_quote(density_label)
          << "\nset palette defined (0 '#000004', 0.25 '#3b0f70', 0.5 '#8c2981', 0.75 '#de4968', 1 '#fcfdbf')\n"
          << "set key top left opaque box\n"
          << "plot " << data << " index 0 using 1:2:3 with image notitle, " << data
          << " index 1 using 1:2 with points pt 7 ps 0.3 lc rgb '#4066ff66' title "
          << gnuplot_quote(points_label);
        for (size_t i = 0; i < curves.size(); ++i)
          s << ", " << data << " index " << i + 2 << " using 1:2 with lines lw 3 lc rgb " << gnuplot_quote(curves[i].colour)
            << " title " << gnuplot_quote(curves[i].title);
        s << "\n";
      });
}

bool plot_trajectory_panels(const std::vector<TrajectoryPanel>& panels, const TensorF& demo,
                            const std::vector<Circle>& obstacles, const Box2& box, const std::string& png_path,
                            const std::string& title) {
  for (const TrajectoryPanel& p : panels)
    if (p.paths.dim() != 3 || p.paths.size(2) != 2)
      throw ShapeError("plot_trajectory_panels: expected paths [S,T,2] for '" + p.title + "', got " + shape_str(p.paths.shape()));
  if (demo.dim() != 2 || demo.size(1) != 2)
    throw ShapeError("plot_trajectory_panels: expected the demonstration [T,2], got " + shape_str(demo.shape()));
  const int w = 480 * static_cast<int>(std::max<size_t>(1, panels.size()));
  return draw_with_gnuplot(
      png_path, w, 520,
      [&](std::ofstream& d) {
        for (const Circle& c : obstacles) d << c.x << " " << c.y << " " << c.r << "\n";
        d << "\n\n";
        write_points(d, demo);
        d << "\n\n";  // index 0: obstacles; 1: the demonstration; 2 + p: panel p's paths
        for (const TrajectoryPanel& p : panels) {
          const int64_t S = p.paths.size(0), T = p.paths.size(1);
          for (int64_t i = 0; i < S; ++i) {
            for (int64_t t = 0; t < T; ++t) d << p.paths[(i * T + t) * 2] << " " << p.paths[(i * T + t) * 2 + 1] << "\n";
            d << "\n";
          }
          d << "\n";
        }
      },
      [&](std::ofstream& s, const std::string& data) {
        s << "set multiplot layout 1," << panels.size() << " title " << gnuplot_quote(title) << "\n"
          << ranges(box) << "set key bottom center\nset style fill transparent solid 0.35 noborder\n";
        for (size_t p = 0; p < panels.size(); ++p)
          s << "set title " << gnuplot_quote(panels[p].title) << "\nplot " << data
            << " index 0 using 1:2:3 with circles lc rgb '#7f7f7f' title 'obstacle', " << data << " index " << 2 + p
            << " using 1:2 with lines lw 1 lc rgb '#801f77b4' title "
            << gnuplot_quote(std::to_string(panels[p].paths.size(0)) + " predicted chunks") << ", " << data
            << " index 1 using 1:2 with linespoints lw 3 dt 2 pt 7 ps 0.5 lc rgb 'black' title 'demonstration'\n";
        s << "unset multiplot\n";
      });
}

std::string label_colour(int64_t k) {
  static const char* kTab10[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kTab10[k % 10];
}

Curve ellipse_curve(const std::array<double, 2>& mean, const std::array<double, 4>& cov, double n_sigma,
                    std::string title, std::string colour, double width, int points) {
  const double l11 = std::sqrt(cov[0]), l21 = cov[2] / l11, l22 = std::sqrt(cov[3] - l21 * l21);
  if (!(l11 > 0) || !(l22 > 0) || points < 3)
    throw std::invalid_argument("ellipse_curve: expected a positive definite 2x2 covariance and >= 3 points");
  Curve c{std::move(title), {}, {}, std::move(colour), width};
  for (int i = 0; i <= points; ++i) {  // the last vertex repeats the first: closed
    const double t = 2 * std::numbers::pi * i / points, u = std::cos(t), v = std::sin(t);
    c.x.push_back(mean[0] + n_sigma * l11 * u);
    c.y.push_back(mean[1] + n_sigma * (l21 * u + l22 * v));
  }
  return c;
}

bool plot_labelled_points(const TensorF& pts, const std::vector<int64_t>& labels, const std::vector<std::string>& class_names,
                          const std::string& png_path, const std::string& title, const std::string& xlabel,
                          const std::string& ylabel, const std::vector<Curve>& curves,
                          const std::vector<std::array<double, 2>>& marks, const std::string& marks_title) {
  if (pts.dim() != 2 || pts.size(1) != 2 || static_cast<int64_t>(labels.size()) != pts.size(0))
    throw ShapeError("plot_labelled_points: expected points [N,2] and N labels, got " + shape_str(pts.shape()) + " and " +
                     std::to_string(labels.size()));
  int64_t classes = 0;
  for (int64_t l : labels) {
    if (l < 0) throw std::invalid_argument("plot_labelled_points: negative label " + std::to_string(l));
    classes = std::max(classes, l + 1);
  }
  return draw_with_gnuplot(
      png_path, 820, 700,
      [&](std::ofstream& d) {
        for (int64_t c = 0; c < classes; ++c) {  // index c: the points of class c
          for (int64_t i = 0; i < pts.size(0); ++i)
            if (labels[i] == c) d << pts[2 * i] << " " << pts[2 * i + 1] << "\n";
          d << "nan nan\n\n\n";  // an empty class still has a block, so indices stay aligned
        }
        for (const Curve& cv : curves) {  // then one block per curve, then the marks
          for (size_t i = 0; i < cv.x.size(); ++i) d << cv.x[i] << " " << cv.y[i] << "\n";
          d << "\n\n";
        }
        for (const auto& m : marks) d << m[0] << " " << m[1] << "\n";
        d << "nan nan\n";
      },
      [&](std::ofstream& s, const std::string& data) {
        s << "set title " << gnuplot_quote(title) << "\nset xlabel " << gnuplot_quote(xlabel) << "\nset ylabel "
          << gnuplot_quote(ylabel) << "\nset grid\nset key outside right title 'class'\nplot ";
        for (int64_t c = 0; c < classes; ++c)
          s << (c ? ", " : "") << data << " index " << c << " using 1:2 with points pt 7 ps 0.35 lc rgb '"
            << label_colour(c) << "' title "
            << gnuplot_quote(c < static_cast<int64_t>(class_names.size()) ? class_names[c] : std::to_string(c));
        for (size_t i = 0; i < curves.size(); ++i)
          s << ", " << data << " index " << classes + static_cast<int64_t>(i) << " using 1:2 with lines lw "
            << curves[i].width << " lc rgb " << gnuplot_quote(curves[i].colour)
            << (curves[i].title.empty() ? std::string(" notitle") : " title " + gnuplot_quote(curves[i].title));
        if (!marks.empty())
          s << ", " << data << " index " << classes + static_cast<int64_t>(curves.size())
            << " using 1:2 with points pt 2 ps 2 lw 2 lc rgb 'black' title " << gnuplot_quote(marks_title);
        s << "\n";
      });
}

}  // namespace lz
