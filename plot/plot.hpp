// Curves of metrics.jsonl keys as a PNG, drawn by gnuplot (Debian's gnuplot-nox).
//
// If gnuplot is not installed, plot_metrics warns once on stderr and returns false: a missing
// picture must not fail a training run.
#pragma once

#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lz {

// plot_metrics found no record to draw (a run shorter than --log-every): nothing is wrong, there
// is only nothing to show yet (plot/pictures.hpp makes it a note).
class NothingToPlot : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PlotOptions {
  std::string x_key = "step";  // the x axis: a key of each record
  std::string title;
  bool log_y = false;
  int width = 900, height = 500;
};

// One line per key in `keys`, from the records of `metrics_jsonl` that hold both x_key and the key
// (as finite numbers). Written atomically to `png_path`. Returns false (with a warning) when gnuplot
// is missing; throws NothingToPlot when no record holds the keys, std::runtime_error naming the
// file on unreadable metrics, a failed write (with the errno's text) or a gnuplot failure. No
// temporary file is left behind.
bool plot_metrics(const std::string& metrics_jsonl, const std::vector<std::string>& keys, const std::string& png_path,
                  const PlotOptions& opt = {});

// Curves given as numbers: each series a line through (x, y), with error bars where `err` is given
// (one per point). Written atomically; false (with a warning) without gnuplot; throws naming the
// series whose lengths disagree, or on a gnuplot failure.
struct Series {
  std::vector<double> x, y, err;  // err empty: no error bars
  std::string title;
};
struct SeriesPlot {
  std::string title, x_label, y_label;
  std::string key = "bottom right";  // gnuplot's legend placement
  int width = 800, height = 500;
};
bool plot_series(const std::vector<Series>& series, const std::string& png_path, const SeriesPlot& opt);

// True if a gnuplot executable is on PATH.
bool have_gnuplot();

// For other gnuplot pictures (plot/plot2d): a gnuplot single-quoted string; true (after one
// warning per process) when gnuplot is missing and the picture should be skipped; and running a
// script that writes png_tmp, then renaming it to png_path (the script is removed; throws with
// gnuplot's stderr on failure).
std::string gnuplot_quote(const std::string& s);
bool warn_if_no_gnuplot(const std::string& png_path);
void run_gnuplot(const std::string& script, const std::string& png_tmp, const std::string& png_path);
// The whole round trip every gnuplot picture makes: false (one warning) without gnuplot; else a
// data file from write_data, a script whose terminal (pngcairo, w x h) and output are set before
// write_script(stream, quoted data path) adds the rest, run_gnuplot, and the data file removed.
bool draw_with_gnuplot(const std::string& png_path, int w, int h, const std::function<void(std::ofstream&)>& write_data,
                       const std::function<void(std::ofstream&, const std::string& data)>& write_script);

}  // namespace lz
