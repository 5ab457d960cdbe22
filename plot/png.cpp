#include "plot/png.hpp"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "nn/atomic_file.hpp"

namespace lz {

Image::Image(int64_t w_, int64_t h_, Rgb fill) : w(w_), h(h_) {
  if (w < 1 || h < 1 || w > 32768 || h > 32768)
    throw std::invalid_argument("Image: size must be in [1,32768]^2, got " + std::to_string(w) + "x" + std::to_string(h));
  rgb.resize(static_cast<size_t>(w * h * 3));
  for (int64_t i = 0; i < w * h; ++i) rgb[3 * i] = fill.r, rgb[3 * i + 1] = fill.g, rgb[3 * i + 2] = fill.b;
}

Rgb Image::get(int64_t x, int64_t y) const {
  if (x < 0 || y < 0 || x >= w || y >= h)
    throw std::out_of_range("Image::get: pixel (" + std::to_string(x) + "," + std::to_string(y) + ") outside " +
                            std::to_string(w) + "x" + std::to_string(h));
  const uint8_t* p = &rgb[3 * (y * w + x)];
  return {p[0], p[1], p[2]};
}

void Image::set(int64_t x, int64_t y, Rgb c) {
  if (x < 0 || y < 0 || x >= w || y >= h) return;
  uint8_t* p = &rgb[3 * (y * w + x)];
  p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

void Image::blend(int64_t x, int64_t y, Rgb c, double a) {
  if (x < 0 || y < 0 || x >= w || y >= h) return;
  a = std::clamp(a, 0.0, 1.0);
  uint8_t* p = &rgb[3 * (y * w + x)];
  auto mix = [a](uint8_t o, uint8_t n) { return static_cast<uint8_t>(std::lround(o * (1 - a) + n * a)); };
  p[0] = mix(p[0], c.r), p[1] = mix(p[1], c.g), p[2] = mix(p[2], c.b);
}

namespace {
// libpng reports errors through a callback that must not return. It longjmps back to the setjmp
// in the function that called libpng (not a C++ throw: unwinding through C frames of a library
// built without -fexceptions is not safe). The message waits here until then.
thread_local char png_error_msg[256];
[[noreturn]] void png_error_fn(png_structp png, png_const_charp msg) {
  std::snprintf(png_error_msg, sizeof png_error_msg, "%s", msg ? msg : "unknown error");
  png_longjmp(png, 1);
}
void png_warn_fn(png_structp, png_const_charp) {}

// Only trivially destructible locals live across the setjmp.
bool png_write_file(std::FILE* f, const uint8_t* rgb, int64_t w, int64_t h) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_error_fn, png_warn_fn);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t y = 0; y < h; ++y) png_write_row(png, const_cast<png_bytep>(rgb + y * w * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

bool png_read_file(std::FILE* f, Image& img) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, png_error_fn, png_warn_fn);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_init_io(png, f);
  png_read_info(png, info);
  // Normalise every PNG to 8-bit RGB.
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_palette_to_rgb(png);
  png_set_expand_gray_1_2_4_to_8(png);
  png_set_gray_to_rgb(png);
  png_read_update_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (w < 1 || h < 1 || w > 32768 || h > 32768) png_error(png, "image size outside [1,32768]^2");
  img.w = w, img.h = h;
  img.rgb.resize(size_t(w) * h * 3);
  for (png_uint_32 y = 0; y < h; ++y) png_read_row(png, img.rgb.data() + size_t(y) * w * 3, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}
}  // namespace

void write_png(const std::string& path, const uint8_t* rgb, int64_t w, int64_t h) {
  if (w < 1 || h < 1) throw std::invalid_argument("write_png " + path + ": empty image " + std::to_string(w) + "x" + std::to_string(h));
  png_error_msg[0] = 0;
  write_atomic_with(path, [&](std::FILE* f) {
    errno = 0;
    if (!png_write_file(f, rgb, w, h)) {
      // libpng's "Write Error" is a failed fwrite: its errno says why ("No space left on device")
      const int e = errno;
      throw std::runtime_error(std::string("libpng: ") + png_error_msg + (e != 0 ? std::string(": ") + std::strerror(e) : ""));
    }
    return true;
  });
}

void write_png(const std::string& path, const Image& img) { write_png(path, img.rgb.data(), img.w, img.h); }

Image read_png(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  Image img;
  png_error_msg[0] = 0;
  const bool ok = png_read_file(f, img);
  std::fclose(f);
  if (!ok) throw std::runtime_error(path + ": not a readable PNG: " + png_error_msg);
  return img;
}

Rgb palette(int64_t k) {
  static const uint32_t tab10[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                     0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
  const uint32_t c = tab10[((k % 10) + 10) % 10];
  return {uint8_t(c >> 16), uint8_t(c >> 8), uint8_t(c)};
}

Rgb viridis(double t) {
  // matplotlib's viridis (CC0), 256 entries.
  static const uint32_t table[256] = {
    0x440154, 0x440256, 0x450457, 0x450559, 0x46075a, 0x46085c, 0x460a5d, 0x460b5e, 0x470d60, 0x470e61,
    0x471063, 0x471164, 0x471365, 0x481467, 0x481668, 0x481769, 0x48186a, 0x481a6c, 0x481b6d, 0x481c6e,
    0x481d6f, 0x481f70, 0x482071, 0x482173, 0x482374, 0x482475, 0x482576, 0x482677, 0x482878, 0x482979,
    0x472a7a, 0x472c7a, 0x472d7b, 0x472e7c, 0x472f7d, 0x46307e, 0x46327e, 0x46337f, 0x463480, 0x453581,
    0x453781, 0x453882, 0x443983, 0x443a83, 0x443b84, 0x433d84, 0x433e85, 0x423f85, 0x424086, 0x424186,
    0x414287, 0x414487, 0x404588, 0x404688, 0x3f4788, 0x3f4889, 0x3e4989, 0x3e4a89, 0x3e4c8a, 0x3d4d8a,
    0x3d4e8a, 0x3c4f8a, 0x3c508b, 0x3b518b, 0x3b528b, 0x3a538b, 0x3a548c, 0x39558c, 0x39568c, 0x38588c,
    0x38598c, 0x375a8c, 0x375b8d, 0x365c8d, 0x365d8d, 0x355e8d, 0x355f8d, 0x34608d, 0x34618d, 0x33628d,
    0x33638d, 0x32648e, 0x32658e, 0x31668e, 0x31678e, 0x31688e, 0x30698e, 0x306a8e, 0x2f6b8e, 0x2f6c8e,
    0x2e6d8e, 0x2e6e8e, 0x2e6f8e, 0x2d708e, 0x2d718e, 0x2c718e, 0x2c728e, 0x2c738e, 0x2b748e, 0x2b758e,
    0x2a768e, 0x2a778e, 0x2a788e, 0x29798e, 0x297a8e, 0x297b8e, 0x287c8e, 0x287d8e, 0x277e8e, 0x277f8e,
    0x27808e, 0x26818e, 0x26828e, 0x26828e, 0x25838e, 0x25848e, 0x25858e, 0x24868e, 0x24878e, 0x23888e,
    0x23898e, 0x238a8d, 0x228b8d, 0x228c8d, 0x228d8d, 0x218e8d, 0x218f8d, 0x21908d, 0x21918c, 0x20928c,
    0x20928c, 0x20938c, 0x1f948c, 0x1f958b, 0x1f968b, 0x1f978b, 0x1f988b, 0x1f998a, 0x1f9a8a, 0x1e9b8a,
    0x1e9c89, 0x1e9d89, 0x1f9e89, 0x1f9f88, 0x1fa088, 0x1fa188, 0x1fa187, 0x1fa287, 0x20a386, 0x20a486,
    0x21a585, 0x21a685, 0x22a785, 0x22a884, 0x23a983, 0x24aa83, 0x25ab82, 0x25ac82, 0x26ad81, 0x27ad81,
    0x28ae80, 0x29af7f, 0x2ab07f, 0x2cb17e, 0x2db27d, 0x2eb37c, 0x2fb47c, 0x31b57b, 0x32b67a, 0x34b679,
    0x35b779, 0x37b878, 0x38b977, 0x3aba76, 0x3bbb75, 0x3dbc74, 0x3fbc73, 0x40bd72, 0x42be71, 0x44bf70,
    0x46c06f, 0x48c16e, 0x4ac16d, 0x4cc26c, 0x4ec36b, 0x50c46a, 0x52c569, 0x54c568, 0x56c667, 0x58c765,
    0x5ac864, 0x5cc863, 0x5ec962, 0x60ca60, 0x63cb5f, 0x65cb5e, 0x67cc5c, 0x69cd5b, 0x6ccd5a, 0x6ece58,
    0x70cf57, 0x73d056, 0x75d054, 0x77d153, 0x7ad151, 0x7cd250, 0x7fd34e, 0x81d34d, 0x84d44b, 0x86d549,
    0x89d548, 0x8bd646, 0x8ed645, 0x90d743, 0x93d741, 0x95d840, 0x98d83e, 0x9bd93c, 0x9dd93b, 0xa0da39,
    0xa2da37, 0xa5db36, 0xa8db34, 0xaadc32, 0xaddc30, 0xb0dd2f, 0xb2dd2d, 0xb5de2b, 0xb8de29, 0xbade28,
    0xbddf26, 0xc0df25, 0xc2df23, 0xc5e021, 0xc8e020, 0xcae11f, 0xcde11d, 0xd0e11c, 0xd2e21b, 0xd5e21a,
    0xd8e219, 0xdae319, 0xdde318, 0xdfe318, 0xe2e418, 0xe5e419, 0xe7e419, 0xeae51a, 0xece51b, 0xefe51c,
    0xf1e51d, 0xf4e61e, 0xf6e620, 0xf8e621, 0xfbe723, 0xfde725,
  };
  if (!std::isfinite(t)) t = 0;
  const double u = std::clamp(t, 0.0, 1.0) * 255.0;
  const int i = std::min(254, static_cast<int>(u));
  const double f = u - i;
  auto ch = [&](int shift) {
    const double a = (table[i] >> shift) & 0xff, b = (table[i + 1] >> shift) & 0xff;
    return static_cast<uint8_t>(std::lround(a + (b - a) * f));
  };
  return {ch(16), ch(8), ch(0)};
}

Image image_grid(const TensorF& images, int64_t h, int64_t w, int64_t cols, int64_t pad, int64_t scale) {
  if (images.dim() != 2 || images.size(1) != h * w)
    throw std::invalid_argument("image_grid: expected images:[N," + std::to_string(h * w) + "] for " +
                                std::to_string(h) + "x" + std::to_string(w) + " images, got " + shape_str(images.shape()));
  if (cols < 1 || pad < 0 || scale < 1) throw std::invalid_argument("image_grid: need cols >= 1, pad >= 0, scale >= 1");
  const int64_t n = images.size(0);
  if (n < 1) throw std::invalid_argument("image_grid: no images");
  const int64_t c = std::min(cols, n), r = (n + cols - 1) / cols;
  const int64_t cw = w * scale, ch = h * scale;
  Image img(c * cw + (c + 1) * pad, r * ch + (r + 1) * pad, {128, 128, 128});
  for (int64_t k = 0; k < n; ++k) {
    const int64_t ox = pad + (k % cols) * (cw + pad), oy = pad + (k / cols) * (ch + pad);
    for (int64_t y = 0; y < ch; ++y)
      for (int64_t x = 0; x < cw; ++x) {
        float v = images[k * h * w + (y / scale) * w + (x / scale)];
        if (!std::isfinite(v)) v = 0;
        const uint8_t g = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
        img.set(ox + x, oy + y, {g, g, g});
      }
  }
  return img;
}

Canvas::Canvas(int64_t w, int64_t h, double xmin, double xmax, double ymin, double ymax, Rgb background)
    : img_(w, h, background), xmin_(xmin), xmax_(xmax), ymin_(ymin), ymax_(ymax) {
  if (!(xmax > xmin) || !(ymax > ymin) || !std::isfinite(xmax - xmin) || !std::isfinite(ymax - ymin))
    throw std::invalid_argument("Canvas: empty or non-finite data range");
}

Canvas Canvas::fit(const TensorF& pts, int64_t w, int64_t h, double margin) {
  if (pts.dim() != 2 || pts.size(1) != 2) throw std::invalid_argument("Canvas::fit: expected pts:[N,2], got " + shape_str(pts.shape()));
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int64_t i = 0; i < pts.size(0); ++i) {
    const double x = pts[2 * i], y = pts[2 * i + 1];
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  if (!(x1 >= x0)) x0 = -1, x1 = 1, y0 = -1, y1 = 1;
  // Equal units on both axes, so circles look round.
  const double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  double half = std::max({(x1 - x0) / 2, (y1 - y0) / 2 * static_cast<double>(w) / static_cast<double>(h), 1e-6});
  half *= 1 + 2 * margin;
  const double halfy = half * static_cast<double>(h) / static_cast<double>(w);
  return Canvas(w, h, cx - half, cx + half, cy - halfy, cy + halfy);
}

std::array<double, 2> Canvas::to_pixel(double x, double y) const {
  return {(x - xmin_) / (xmax_ - xmin_) * static_cast<double>(img_.w),
          (ymax_ - y) / (ymax_ - ymin_) * static_cast<double>(img_.h)};
}

std::array<double, 2> Canvas::to_data(double px, double py) const {
  return {xmin_ + px / static_cast<double>(img_.w) * (xmax_ - xmin_),
          ymax_ - py / static_cast<double>(img_.h) * (ymax_ - ymin_)};
}

void Canvas::draw_point(double x, double y, Rgb c, double radius, double alpha) {
  const auto [px, py] = to_pixel(x, y);
  if (!std::isfinite(px) || !std::isfinite(py)) return;
  if (px < -radius - 1 || py < -radius - 1 || px > static_cast<double>(img_.w) + radius + 1 ||
      py > static_cast<double>(img_.h) + radius + 1)
    return;
  const int64_t r = static_cast<int64_t>(std::ceil(radius));
  for (int64_t dy = -r; dy <= r; ++dy)
    for (int64_t dx = -r; dx <= r; ++dx) {
      const int64_t ix = static_cast<int64_t>(std::floor(px)) + dx, iy = static_cast<int64_t>(std::floor(py)) + dy;
      const double d = std::hypot(static_cast<double>(ix) + 0.5 - px, static_cast<double>(iy) + 0.5 - py);
      if (d <= radius) img_.blend(ix, iy, c, alpha);
    }
}

void Canvas::draw_line(double x0, double y0, double x1, double y1, Rgb c, double width) {
  const auto [a0, b0] = to_pixel(x0, y0);
  const auto [a1, b1] = to_pixel(x1, y1);
  if (!std::isfinite(a0 + b0 + a1 + b1)) return;
  const double len = std::hypot(a1 - a0, b1 - b0);
  const int64_t steps = std::min<int64_t>(100000, static_cast<int64_t>(std::ceil(len * 2)) + 1);
  const double r = std::max(0.5, width / 2);
  for (int64_t s = 0; s <= steps; ++s) {
    const double t = static_cast<double>(s) / static_cast<double>(steps);
    const double px = a0 + (a1 - a0) * t, py = b0 + (b1 - b0) * t;
    const int64_t ri = static_cast<int64_t>(std::ceil(r));
    for (int64_t dy = -ri; dy <= ri; ++dy)
      for (int64_t dx = -ri; dx <= ri; ++dx) {
        const int64_t ix = static_cast<int64_t>(std::floor(px)) + dx, iy = static_cast<int64_t>(std::floor(py)) + dy;
        if (std::hypot(static_cast<double>(ix) + 0.5 - px, static_cast<double>(iy) + 0.5 - py) <= r) img_.set(ix, iy, c);
      }
  }
}

void Canvas::draw_ellipse(const std::array<double, 2>& mean, const std::array<double, 4>& cov, double nsigma, Rgb c,
                          double width) {
  // Eigen-decomposition of the symmetric 2x2 covariance: axes along the eigenvectors with
  // half-lengths nsigma*sqrt(eigenvalue).
  const double a = cov[0], b = 0.5 * (cov[1] + cov[2]), d = cov[3];
  const double tr = a + d, det = a * d - b * b;
  const double disc = std::sqrt(std::max(0.0, tr * tr / 4 - det));
  const double l1 = std::max(0.0, tr / 2 + disc), l2 = std::max(0.0, tr / 2 - disc);
  const double theta = 0.5 * std::atan2(2 * b, a - d);
  const double ct = std::cos(theta), st = std::sin(theta);
  const double r1 = nsigma * std::sqrt(l1), r2 = nsigma * std::sqrt(l2);
  constexpr int kSegments = 96;
  double px = 0, py = 0;
  for (int i = 0; i <= kSegments; ++i) {
    const double t = 2 * 3.141592653589793 * i / kSegments;
    const double u = r1 * std::cos(t), v = r2 * std::sin(t);
    const double x = mean[0] + ct * u - st * v, y = mean[1] + st * u + ct * v;
    if (i) draw_line(px, py, x, y, c, width);
    px = x, py = y;
  }
}

void Canvas::fill(const std::function<Rgb(double, double)>& f) {
  for (int64_t y = 0; y < img_.h; ++y)
    for (int64_t x = 0; x < img_.w; ++x) {
      const auto [dx, dy] = to_data(static_cast<double>(x) + 0.5, static_cast<double>(y) + 0.5);
      img_.set(x, y, f(dx, dy));
    }
}

Image scatter(const TensorF& pts, const std::vector<int64_t>& labels, int64_t size,
              const std::function<void(Canvas&)>& overlay) {
  if (pts.dim() != 2 || pts.size(1) != 2) throw std::invalid_argument("scatter: expected pts:[N,2], got " + shape_str(pts.shape()));
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != pts.size(0))
    throw std::invalid_argument("scatter: " + std::to_string(pts.size(0)) + " points but " +
                                std::to_string(labels.size()) + " labels");
  Canvas cv = Canvas::fit(pts, size, size);
  const double radius = pts.size(0) > 5000 ? 1.0 : 1.8;
  for (int64_t i = 0; i < pts.size(0); ++i)
    cv.draw_point(pts[2 * i], pts[2 * i + 1], labels.empty() ? palette(0) : palette(labels[i]), radius, 0.7);
  if (overlay) overlay(cv);
  return cv.image();
}

Image heatmap(const TensorF& values, int64_t scale, double lo, double hi) {
  if (values.dim() != 2) throw std::invalid_argument("heatmap: expected values:[H,W], got " + shape_str(values.shape()));
  if (scale < 1) throw std::invalid_argument("heatmap: scale must be >= 1");
  const int64_t h = values.size(0), w = values.size(1);
  if (!(lo < hi)) {
    lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < values.numel(); ++i)
      if (std::isfinite(values[i])) lo = std::min(lo, double(values[i])), hi = std::max(hi, double(values[i]));
    if (!(hi > lo)) hi = lo + 1;
  }
  Image img(w * scale, h * scale);
  for (int64_t y = 0; y < h * scale; ++y)
    for (int64_t x = 0; x < w * scale; ++x) {
      const float v = values[(y / scale) * w + x / scale];
      img.set(x, y, std::isfinite(v) ? viridis((v - lo) / (hi - lo)) : Rgb{128, 128, 128});
    }
  return img;
}

}  // namespace lz
