// Pictures as PNG through libpng: image grids, 2-D scatter plots, heatmaps.
//
// An Image is 8-bit RGB, row-major, origin top-left. A Canvas maps data coordinates onto an
// Image (y up) and draws points, lines and covariance ellipses, for scatter plots with overlays
// such as a GMM's components. Every PNG is written atomically (temp name, then rename).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace lz {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

struct Image {
  int64_t w = 0, h = 0;
  std::vector<uint8_t> rgb;  // w*h*3
  Image() = default;
  Image(int64_t w, int64_t h, Rgb fill = {255, 255, 255});
  Rgb get(int64_t x, int64_t y) const;
  void set(int64_t x, int64_t y, Rgb c);  // ignores pixels outside the image
  void blend(int64_t x, int64_t y, Rgb c, double alpha);
};

// Write 8-bit RGB (w*h*3 bytes) as a PNG, atomically. Throws naming the path.
void write_png(const std::string& path, const uint8_t* rgb, int64_t w, int64_t h);
void write_png(const std::string& path, const Image& img);
// Read a PNG back (any colour type, converted to 8-bit RGB). Throws naming the path.
Image read_png(const std::string& path);

// The categorical palette (matplotlib's tab10), cycling for k >= 10.
Rgb palette(int64_t k);
// Viridis at t in [0,1] (clamped), interpolated from a 256-entry table.
Rgb viridis(double t);

// Grayscale images x:[N, H*W] with values in [0,1] (clamped) tiled `cols` per row with `pad`
// pixels of grey between them, each pixel magnified `scale` times.
Image image_grid(const TensorF& images, int64_t h, int64_t w, int64_t cols, int64_t pad = 2, int64_t scale = 1);

class Canvas {
 public:
  // A w x h image showing data coordinates [xmin,xmax] x [ymin,ymax] (y up).
  Canvas(int64_t w, int64_t h, double xmin, double xmax, double ymin, double ymax, Rgb background = {255, 255, 255});
  // A canvas whose bounds hold every point of pts:[N,2] with a margin (a fraction of the range).
  static Canvas fit(const TensorF& pts, int64_t w, int64_t h, double margin = 0.05);

  void draw_point(double x, double y, Rgb c, double radius = 1.5, double alpha = 0.8);
  void draw_line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.0);
  // The nsigma contour of N(mean, cov), cov = {s_xx, s_xy, s_yx, s_yy}.
  void draw_ellipse(const std::array<double, 2>& mean, const std::array<double, 4>& cov, double nsigma, Rgb c,
                    double width = 1.5);
  // Fill the whole canvas from a function of data coordinates (e.g. a density).
  void fill(const std::function<Rgb(double x, double y)>& f);

  std::array<double, 2> to_pixel(double x, double y) const;
  std::array<double, 2> to_data(double px, double py) const;
  Image& image() { return img_; }
  const Image& image() const { return img_; }
  void save(const std::string& path) const { write_png(path, img_); }

 private:
  Image img_;
  double xmin_, xmax_, ymin_, ymax_;
};

// Scatter plot of pts:[N,2], coloured by labels (palette) or all one colour when labels is empty;
// `overlay` draws on top (ellipses, means, curves).
Image scatter(const TensorF& pts, const std::vector<int64_t>& labels, int64_t size = 512,
              const std::function<void(Canvas&)>& overlay = {});

// A heatmap of values:[H,W] (row 0 at the top) through viridis, min..max mapped to 0..1
// (or [lo,hi] if lo < hi); each cell magnified `scale` times. Non-finite cells are drawn grey.
Image heatmap(const TensorF& values, int64_t scale = 1, double lo = 0, double hi = 0);

}  // namespace lz
