// Pictures (plot/): PNG through libpng, image grids, captions, heatmaps and scatters, the
// n-sigma ellipse, and a gnuplot curve of a metrics file.
#define BOOST_TEST_MODULE pictures
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>

#include "plot/caption.hpp"
#include "plot/pictures.hpp"
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
  BOOST_CHECK_THROW(plot_metrics(dir + "/metrics.jsonl", {"nothing"}, dir + "/x.png"), NothingToPlot);
  // a key with no record beside one with records (a short run: test_loss per epoch, no loss yet)
  // draws the one: its empty block used to shift gnuplot's index numbers ("no valid points")
  write_bytes(dir + "/short.jsonl", "{\"step\":3,\"test_loss\":0.5}\n{\"step\":6,\"test_loss\":0.4}\n");
  BOOST_TEST(plot_metrics(dir + "/short.jsonl", {"loss", "test_loss"}, dir + "/short.png"));
  BOOST_TEST(read_png(dir + "/short.png").w == 900);
}


// ---- a full disk, and pictures drawn one by one ------------------------------------------------

namespace {
std::string metrics_file(const std::string& dir, int records) {
  std::string lines;
  for (int s = 1; s <= records; ++s) lines += "{\"step\":" + std::to_string(s) + ",\"loss\":" + std::to_string(1.0 / s) + "}\n";
  write_bytes(dir + "/metrics.jsonl", lines);
  return dir + "/metrics.jsonl";
}
TensorF many_points(int64_t n) {
  TensorF p({n, 2});
  for (int64_t i = 0; i < 2 * n; ++i) p[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)));
  return p;
}
// fn must throw a message holding each of `parts`; the folder must hold no temporary file after.
void fails_cleanly(const std::function<void()>& fn, const std::vector<std::string>& parts, const std::string& dir) {
  try {
    fn();
    BOOST_ERROR("no exception; expected one mentioning '" << parts.front() << "'");
  } catch (const std::exception& e) {
    for (const auto& p : parts) BOOST_TEST(std::string(e.what()).find(p) != std::string::npos, "missing '" << p << "' in: " << e.what());
  }
  BOOST_TEST(temp_leftovers(dir).empty(), "left behind: " << (temp_leftovers(dir).empty() ? "" : temp_leftovers(dir)[0]));
}
}  // namespace

// A write that fails (here: past RLIMIT_FSIZE, "File too large") must say why and leave no
// temporary file: the gnuplot data file (issue 39: "cannot write .../density.png.plot-11780.dat"
// with no reason, the .dat left behind), gnuplot's own PNG, and a PNG through libpng ("writer failed").
LZ_SKIPPABLE_CASE(a_failed_write_says_why_and_leaves_no_temporary_file) {
  if (!have_gnuplot()) return lz::test::missing("gnuplot-nox", "no gnuplot on PATH");
  const std::string dir = scratch_dir("plot_full");
  const std::string metrics = metrics_file(dir, 5);
  const TensorF pts = many_points(4000);  // about 80 kB of data
  {
    FileSizeLimit limit(16 * 1024);
    fails_cleanly([&] { plot_points(pts, Box2{-1, 1, -1, 1}, dir + "/points.png", "t", "p"); },
                  {dir + "/points.png.plot-", ".dat", "File too large"}, dir);
    // the data and the script fit; gnuplot's PNG (about 20 kB at 900 x 500) does not
    fails_cleanly([&] { plot_metrics(metrics, {"loss"}, dir + "/loss.png"); }, {dir + "/loss.png"}, dir);
    Image big(300, 300);
    for (int64_t y = 0; y < 300; ++y)
      for (int64_t x = 0; x < 300; ++x) big.set(x, y, Rgb{uint8_t(x * 7), uint8_t(y * 13), uint8_t(x * y)});
    fails_cleanly([&] { write_png(dir + "/big.png", big); }, {dir + "/big.png", "File too large"}, dir);
  }
  BOOST_TEST(!std::filesystem::exists(dir + "/points.png"));
  BOOST_TEST(!std::filesystem::exists(dir + "/loss.png"));
  BOOST_TEST(!std::filesystem::exists(dir + "/big.png"));
  // the same calls draw once the limit is gone
  BOOST_TEST(plot_points(pts, Box2{-1, 1, -1, 1}, dir + "/points.png", "t", "p"));
  BOOST_TEST(plot_metrics(metrics, {"loss"}, dir + "/loss.png"));
  BOOST_TEST(temp_leftovers(dir).empty());
}

// The same on a real full disk (a 64 KiB tmpfs, as root): the errno's own words.
LZ_SKIPPABLE_CASE(a_full_disk_says_no_space_left_on_device) {
  if (!have_gnuplot()) return lz::test::missing("gnuplot-nox", "no gnuplot on PATH");
  if (::geteuid() != 0) return lz::test::skip("mounting a small tmpfs needs root (the RLIMIT_FSIZE case covers the rest)");
  const std::string dir = scratch_dir("plot_tmpfs") + "/disk";
  SmallTmpfs disk(dir, 64);
  if (!disk.ok()) return lz::test::skip("mount -t tmpfs refused here (a container without CAP_SYS_ADMIN)");
  const std::string metrics = metrics_file(dir, 5);
  disk.fill();
  fails_cleanly([&] { plot_points(many_points(100), Box2{-1, 1, -1, 1}, dir + "/points.png", "t", "p"); },
                {dir + "/points.png.plot-", "No space left on device"}, dir);
  fails_cleanly([&] { write_png(dir + "/small.png", Image(20, 20)); }, {dir + "/small.png", "No space left on device"}, dir);
  BOOST_TEST(!std::filesystem::exists(dir + "/points.png"));
}

// A curve with no record yet is NothingToPlot (a note), and Pictures draws every picture whatever
// the others did, then exits 1 naming those that failed.
BOOST_AUTO_TEST_CASE(pictures_are_drawn_one_by_one) {
  const std::string dir = scratch_dir("pictures_each");
  write_bytes(dir + "/metrics.jsonl", "{\"epoch\":1,\"test\":2}\n");
  BOOST_CHECK_THROW(plot_metrics(dir + "/metrics.jsonl", {"loss"}, dir + "/loss.png"), NothingToPlot);
  std::ostringstream err;
  std::streambuf* old = std::cerr.rdbuf(err.rdbuf());
  Pictures pictures;
  std::vector<std::string> drawn;
  pictures.draw("loss.png", [&] { plot_metrics(dir + "/metrics.jsonl", {"loss"}, dir + "/loss.png"); });
  pictures.draw("a.png", [&] { drawn.push_back("a"); });
  pictures.draw("b.png", [&] { throw std::runtime_error("cannot write b.png: No space left on device"); });
  pictures.draw("c.png", [&] { drawn.push_back("c"); });
  std::cerr.rdbuf(old);
  BOOST_TEST(drawn == (std::vector<std::string>{"a", "c"}), boost::test_tools::per_element());
  BOOST_TEST(pictures.failed() == (std::vector<std::string>{"b.png"}), boost::test_tools::per_element());
  BOOST_TEST(pictures.exit_code() == 1);
  Pictures fine;
  fine.draw("loss.png", [&] { throw NothingToPlot("no records yet"); });
  BOOST_TEST(fine.exit_code() == 0);
}
