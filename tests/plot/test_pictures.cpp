// Pictures (plot/): PNG through libpng, image grids, captions, heatmaps and scatters, the
// n-sigma ellipse, and a gnuplot curve of a metrics file.
#define BOOST_TEST_MODULE pictures
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "plot/caption.hpp"
#include "plot/plot.hpp"
#include "plot/plot2d.hpp"
#include "plot/png.hpp"
#include "tests/helpers.hpp"
#include "tests/skip.hpp"

using namespace lz;
using namespace lz::testing;

namespace {
bool same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
}  // namespace

BOOST_AUTO_TEST_CASE(png_round_trip_through_libpng) {
  const std::string dir = scratch_dir("png");
  // Every pixel distinct in every channel's pattern, and no symmetry under transposition (or a
  // flip), so a swapped x/y, a row order or a channel order mistake changes some pixel.
  auto colour = [](int64_t x, int64_t y) {
    return Rgb{static_cast<uint8_t>(30 * x + 7), static_cast<uint8_t>(50 * y + 3), static_cast<uint8_t>((11 * x + 37 * y) % 256)};
  };
  Image img(7, 5);
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x) img.set(x, y, colour(x, y));
  write_png(dir + "/a.png", img);
  const Image back = read_png(dir + "/a.png");
  BOOST_TEST(back.w == 7);
  BOOST_TEST(back.h == 5);
  BOOST_REQUIRE(back.rgb.size() == size_t(7 * 5 * 3));
  int64_t wrong = 0;
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x) wrong += !same(back.get(x, y), colour(x, y));
  BOOST_TEST(wrong == 0);
  BOOST_TEST(temp_leftovers(dir).empty());
}

BOOST_AUTO_TEST_CASE(image_grid_layout_and_pixels) {
  // 5 images 2x3: image k has pixel value k/4 everywhere except pixel 0 = 1
  TensorF x({5, 6});
  for (int k = 0; k < 5; ++k)
    for (int p = 0; p < 6; ++p) x[k * 6 + p] = p == 0 ? 1.0f : k / 4.0f;
  const Image g = image_grid(x, 2, 3, 3, 1, 2);
  // 3 columns of 3*2 px + 4 pads; 2 rows of 2*2 px + 3 pads
  BOOST_TEST(g.w == 3 * 6 + 4);
  BOOST_TEST(g.h == 2 * 4 + 3);
  BOOST_TEST(same(g.get(0, 0), {128, 128, 128}));     // padding
  BOOST_TEST(same(g.get(1, 1), {255, 255, 255}));     // image 0, pixel 0
  BOOST_TEST(same(g.get(1 + 2, 1), {0, 0, 0}));       // image 0, pixel 1 (value 0)
  const int64_t ox = 1 + 1 * (6 + 1), oy = 1 + 1 * (4 + 1);  // image 4 = row 1, col 1
  BOOST_TEST(same(g.get(ox + 5, oy + 3), {255, 255, 255}));  // value 4/4
  const int64_t ox2 = 1 + 2 * 7;                             // image 2 = row 0, col 2: value 0.5
  BOOST_TEST(same(g.get(ox2 + 2, 1), {128, 128, 128}));      // round(0.5*255) = 128
  BOOST_CHECK_THROW(image_grid(x, 3, 3, 3), std::invalid_argument);
}

namespace {
int64_t dark_pixels(const Image& img, int64_t y0, int64_t y1) {
  int64_t n = 0;
  for (int64_t y = y0; y < y1; ++y)
    for (int64_t x = 0; x < img.w; ++x) n += img.get(x, y).r < 128;
  return n;
}
}  // namespace

BOOST_AUTO_TEST_CASE(caption_band_above_the_grid) {
  TensorF x({6, 4});
  for (int64_t i = 0; i < 24; ++i) x[i] = (i % 5) / 4.0f;
  const Image g = image_grid(x, 2, 2, 3, 1, 20);  // 3 x 2 images of 40 x 40
  const Image c = with_caption(g, "Samples, T = 1");
  BOOST_REQUIRE(c.h > g.h);
  BOOST_TEST(c.w == g.w);
  const int64_t band = c.h - g.h;
  BOOST_TEST(band >= 13);  // at least one line of 13-pixel text
  // The grid's pixels are unchanged below the band.
  int64_t moved = 0;
  for (int64_t y = 0; y < g.h; ++y)
    for (int64_t x0 = 0; x0 < g.w; ++x0) moved += !same(c.get(x0, band + y), g.get(x0, y));
  BOOST_TEST(moved == 0);
  // Black text on white: some dark pixels in the band, white at its corners and edges.
  BOOST_TEST(dark_pixels(c, 0, band) > 20);
  BOOST_TEST(same(c.get(0, 0), {255, 255, 255}));
  BOOST_TEST(same(c.get(c.w - 1, band - 1), {255, 255, 255}));
  BOOST_TEST(wrap_caption("Samples, T = 1", g.w - 8).size() == 1u);
  // A second line makes the band taller by one line.
  const Image two = with_caption(g, "first line\nsecond line");
  BOOST_TEST(two.h > c.h);
  BOOST_TEST(dark_pixels(two, band, two.h - g.h) > 20);
}

BOOST_AUTO_TEST_CASE(caption_wraps_between_words) {
  const std::string text = "the learned density of the flow on two moons, eight affine couplings";
  const auto wide = wrap_caption(text, 2000);
  BOOST_REQUIRE(wide.size() == 1u);
  BOOST_TEST(wide[0] == text);
  const auto narrow = wrap_caption(text, 120);
  BOOST_TEST(narrow.size() >= 3u);
  std::string joined;
  for (const auto& l : narrow) {
    BOOST_TEST(!l.empty());
    BOOST_TEST(l.front() != ' ');
    joined += (joined.empty() ? "" : " ") + l;
  }
  BOOST_TEST(joined == text);  // no word lost, split or reordered
  // An explicit newline always breaks; a word wider than the width gets a line of its own.
  BOOST_TEST(wrap_caption("a\nb", 2000).size() == 2u);
  BOOST_TEST(wrap_caption("x unbreakablewordthatiswide y", 30).size() == 3u);
  // Non-ASCII text (UTF-8) and a malformed byte lay out without throwing.
  BOOST_TEST(wrap_caption("σ = 0.05, 28×28 \xff", 2000).size() == 1u);
}

BOOST_AUTO_TEST_CASE(caption_without_a_font_keeps_the_picture) {
  Image g(30, 20, {10, 20, 30});
  ::setenv("LZ_FONT", "/nonexistent/font.ttf", 1);
  const Image c = with_caption(g, "no font here");
  const auto lines = wrap_caption("no font here", 100);
  ::unsetenv("LZ_FONT");
  BOOST_TEST(c.w == g.w);
  BOOST_TEST(c.h == g.h);
  BOOST_TEST((c.rgb == g.rgb));
  BOOST_TEST(lines.empty());
  BOOST_TEST(with_caption(g, "font back").h > g.h);
}

BOOST_AUTO_TEST_CASE(heatmap_uses_viridis_ends) {
  TensorF v = TensorF::from({0, 1, 2, 3}, {2, 2});
  v[3] = NAN;
  const Image h = heatmap(v, 3);
  BOOST_TEST(h.w == 6);
  BOOST_TEST(same(h.get(0, 0), {0x44, 0x01, 0x54}));     // minimum -> viridis(0)
  BOOST_TEST(same(h.get(5, 5), {128, 128, 128}));        // NaN -> grey
  BOOST_TEST(same(h.get(0, 3), {0xfd, 0xe7, 0x25}));     // maximum (2) -> viridis(1)
  const Rgb mid = viridis(0.5);  // between table entries 127 (#21908d) and 128 (#21918c)
  BOOST_TEST(mid.r == 0x21);
  BOOST_TEST(std::abs(mid.g - 0x91) <= 1);
  BOOST_TEST(std::abs(mid.b - 0x8c) <= 1);
}

BOOST_AUTO_TEST_CASE(scatter_colours_points_and_overlay_draws_ellipse) {
  const TensorF pts = TensorF::from({-1, -1, 1, 1, 0, 0}, {3, 2});
  bool overlay_ran = false;
  const Image img = scatter(pts, {0, 1, 2}, 200, [&](Canvas& c) {
    overlay_ran = true;
    c.draw_ellipse({0, 0}, {0.25, 0, 0, 0.25}, 2.0, {0, 0, 0});  // circle of radius 1 about the origin
    const auto [px, py] = c.to_pixel(1.0, 0.0);
    BOOST_TEST(same(c.image().get(static_cast<int64_t>(px), static_cast<int64_t>(py)), {0, 0, 0}));
    const auto [qx, qy] = c.to_pixel(0.5, 0.0);
    BOOST_TEST(!same(c.image().get(static_cast<int64_t>(qx), static_cast<int64_t>(qy)), {0, 0, 0}));
  });
  BOOST_TEST(overlay_ran);
  BOOST_TEST(img.w == 200);
  // the point of class 1 at (1,1) is the top-right extreme: somewhere near the corner is tab10 orange
  Canvas c = Canvas::fit(pts, 200, 200);
  const auto [px, py] = c.to_pixel(1, 1);
  const Rgb got = img.get(static_cast<int64_t>(px), static_cast<int64_t>(py));
  // blended at alpha 0.7 over white: 0.3*255 + 0.7*(255,127,14)
  BOOST_TEST(std::abs(got.r - 255) <= 1);
  BOOST_TEST(std::abs(got.g - static_cast<int>(std::lround(0.3 * 255 + 0.7 * 127))) <= 1);
  BOOST_TEST(std::abs(got.b - static_cast<int>(std::lround(0.3 * 255 + 0.7 * 14))) <= 1);
}

// Every vertex of the n-σ ellipse has Mahalanobis distance n from the mean, and the polyline closes.
BOOST_AUTO_TEST_CASE(ellipse_curve_is_the_n_sigma_contour) {
  const std::array<double, 4> cov = {2.0, 0.6, 0.6, 0.5};
  const double det = cov[0] * cov[3] - cov[1] * cov[2];
  const Curve c = ellipse_curve({1.0, -2.0}, cov, 2.0, "e", "black", 1, 64);
  BOOST_TEST(c.x.size() == 65u);
  BOOST_TEST(c.x.front() == c.x.back(), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(c.y.front() == c.y.back(), boost::test_tools::tolerance(1e-12));
  for (size_t i = 0; i < c.x.size(); ++i) {
    const double u = c.x[i] - 1.0, v = c.y[i] + 2.0;
    const double m2 = (cov[3] * u * u - 2 * cov[1] * u * v + cov[0] * v * v) / det;
    BOOST_TEST(m2 == 4.0, boost::test_tools::tolerance(1e-12));
  }
  BOOST_CHECK_THROW(ellipse_curve({0, 0}, {1.0, 2.0, 2.0, 1.0}, 1.0, "", "black"), std::invalid_argument);
}

LZ_SKIPPABLE_CASE(gnuplot_curve_is_a_png) {
  if (!have_gnuplot()) return lz::test::missing("gnuplot-nox", "no gnuplot on PATH");
  const std::string dir = scratch_dir("plot");
  std::string lines;  // a metrics.jsonl as a run folder writes it (train/run), one record a line
  for (int s = 1; s <= 20; ++s)
    lines += "{\"step\":" + std::to_string(s) + ",\"loss\":" + std::to_string(1.0 / s) + ",\"acc\":" +
             std::to_string(1 - 1.0 / s) + "}\n";
  write_bytes(dir + "/metrics.jsonl", lines);
  PlotOptions o;
  o.width = 640;
  o.height = 320;
  BOOST_TEST(plot_metrics(dir + "/metrics.jsonl", {"loss", "acc"}, dir + "/loss.png", o));
  const Image img = read_png(dir + "/loss.png");
  BOOST_TEST(img.w == 640);
  BOOST_TEST(img.h == 320);
  BOOST_TEST(temp_leftovers(dir).empty());
  BOOST_CHECK_THROW(plot_metrics(dir + "/metrics.jsonl", {"nothing"}, dir + "/x.png"), std::runtime_error);
}

