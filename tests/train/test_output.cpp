#define BOOST_TEST_MODULE output
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "train/caption.hpp"
#include "train/flags.hpp"
#include "train/plot.hpp"
#include "train/plot2d.hpp"
#include "train/png.hpp"
#include "train/progress.hpp"
#include "train/run.hpp"
#include "tests/skip.hpp"
#include "tests/train/helpers.hpp"

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

BOOST_AUTO_TEST_CASE(run_dir_writes_config_metrics_summary) {
  const std::string dir = scratch_dir("run") + "/nested/run1";
  {
    RunDir run(dir);
    run.write_config({{"lr", 0.001}, {"data", "digits"}});
    run.log({{"step", 1}, {"loss", 2.5}});
    run.log({{"step", 2}, {"loss", NAN}});
    run.write_summary({{"test_accuracy", 0.95}});
  }
  const auto cfg = nlohmann::json::parse(read_text(dir + "/config.json"));
  BOOST_TEST(cfg["data"] == "digits");
  std::istringstream lines(read_text(dir + "/metrics.jsonl"));
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  BOOST_TEST(!std::getline(lines, l3));
  BOOST_TEST(nlohmann::json::parse(l1)["loss"] == 2.5);
  BOOST_TEST(nlohmann::json::parse(l2)["loss"].is_null());  // JSON has no NaN
  BOOST_TEST(nlohmann::json::parse(read_text(dir + "/summary.json"))["test_accuracy"] == 0.95);
  BOOST_TEST(temp_leftovers(dir).empty());
}

BOOST_AUTO_TEST_CASE(atomic_write_keeps_the_old_file_on_failure) {
  const std::string dir = scratch_dir("atomic");
  atomic_write(dir + "/f.txt", "old");
  BOOST_CHECK_THROW(atomic_write_with(dir + "/f.txt",
                                      [](std::FILE* f) {
                                        std::fputs("half", f);
                                        throw std::runtime_error("disk on fire");
                                        return true;
                                      }),
                    std::runtime_error);
  BOOST_TEST(read_text(dir + "/f.txt") == "old");
  BOOST_TEST(temp_leftovers(dir).empty());
  try {
    atomic_write(dir + "/no/such/folder/f.txt", "x");
    BOOST_FAIL("no throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find(dir + "/no/such/folder/f.txt") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(check_finite_names_step_batch_and_checkpoint) {
  BOOST_CHECK_NO_THROW(check_finite(1.5, 1, 1, ""));
  try {
    check_finite(NAN, 1234, 17, "runs/x/ckpt-1000.safetensors");
    BOOST_FAIL("no throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) ==
               "loss is nan at step 1234 (batch 17); last good checkpoint: runs/x/ckpt-1000.safetensors");
  }
  try {
    check_finite(-INFINITY, 3, 2, "");
    BOOST_FAIL("no throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) == "loss is -inf at step 3 (batch 2); no checkpoint saved yet");
  }
}

LZ_SKIPPABLE_CASE(gnuplot_curve_is_a_png) {
  if (!have_gnuplot()) return lz::test::missing("gnuplot-nox", "no gnuplot on PATH");
  const std::string dir = scratch_dir("plot");
  {
    RunDir run(dir);
    for (int s = 1; s <= 20; ++s) run.log({{"step", s}, {"loss", 1.0 / s}, {"acc", 1 - 1.0 / s}});
  }
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

namespace {
// Runs Flags::parse on argv, capturing stderr.
struct Parsed {
  std::optional<int> rc;
  std::string err;
};
Parsed parse(Flags& f, std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  std::stringstream buf;
  auto* old = std::cerr.rdbuf(buf.rdbuf());
  Parsed p;
  p.rc = f.parse(static_cast<int>(argv.size()), argv.data());
  std::cerr.rdbuf(old);
  p.err = buf.str();
  return p;
}
struct Driver {
  Flags flags{"test driver", "test"};
  int epochs = 10;
  double lr = 1e-3;
  std::string data = "digits";
  Driver() {
    flags.add("--epochs", epochs, "epochs").check(Range(1, 1000));
    flags.add("--lr", lr, "learning rate").check(PositiveNumber);
    flags.add("--data", data, "data set").check(OneOf({"digits", "fashion"}));
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(flags_defaults_values_and_help) {
  Driver d;
  const Parsed p = parse(d.flags, {"--epochs", "3"});
  BOOST_TEST(!p.rc.has_value());
  BOOST_TEST(d.epochs == 3);
  BOOST_TEST(d.flags.out.rfind("runs/test-", 0) == 0);
  const nlohmann::json v = d.flags.values();
  BOOST_TEST(v["epochs"] == 3);
  BOOST_TEST(v["lr"] == 1e-3);
  BOOST_TEST(v["data"] == "digits");
  BOOST_TEST(v["threads"] == 1);
  Driver h;
  std::stringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  const Parsed ph = parse(h.flags, {"--help"});
  std::cout.rdbuf(old);
  BOOST_TEST(ph.rc.value_or(-1) == 0);
  BOOST_TEST(out.str().find("--epochs") != std::string::npos);
  BOOST_TEST(out.str().find("10") != std::string::npos);  // the default shows
}

BOOST_AUTO_TEST_CASE(flags_bad_values_name_the_flag) {
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--epochs", "0"});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("--epochs") != std::string::npos);
    BOOST_TEST(p.err.find("not in range 1 to 1000") != std::string::npos);
  }
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--data", "cifar"});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("--data") != std::string::npos);
    BOOST_TEST(p.err.find("digits") != std::string::npos);
  }
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--epoch", "3"});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("--epoch") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(flags_config_file) {
  const std::string dir = scratch_dir("flags");
  write_bytes(dir + "/ok.json", R"({"epochs": 5, "lr": 0.01, "data": "fashion"})");
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--config", (dir + "/ok.json").c_str(), "--lr", "0.5"});
    BOOST_TEST(!p.rc.has_value());
    BOOST_TEST(d.epochs == 5);
    BOOST_TEST(d.lr == 0.5);  // the command line wins
    BOOST_TEST(d.data == "fashion");
  }
  write_bytes(dir + "/bad.json", R"({"epochs": 5, "hiden": 3})");
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--config", (dir + "/bad.json").c_str()});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("bad.json: unknown key 'hiden'") != std::string::npos);
    BOOST_TEST(p.err.find("valid keys: out, seed, threads, epochs, lr, data") != std::string::npos);
  }
  write_bytes(dir + "/range.json", R"({"epochs": 5000})");
  {
    Driver d;
    const Parsed p = parse(d.flags, {"--config", (dir + "/range.json").c_str()});
    BOOST_TEST(p.rc.value_or(-1) == 2);
    BOOST_TEST(p.err.find("range.json: key 'epochs'") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(progress_plain_lines_when_not_a_terminal) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("train", 4, 64, 0.0, f);  // interval 0: a line for every step
    BOOST_TEST(!p.is_terminal());
    for (int s = 1; s <= 4; ++s) p.update(1, s, 2.0);
  }
  std::rewind(f);
  char buf[4096] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string s(buf, n);
  BOOST_TEST(s.find('\r') == std::string::npos);
  BOOST_TEST(s.find("step 4/4 loss 2") != std::string::npos);
  BOOST_TEST(s.find("items/s") != std::string::npos);
  BOOST_TEST(format_duration(3725) == "1h02m");
  BOOST_TEST(format_duration(65) == "1m05s");
}
