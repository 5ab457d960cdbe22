#include "plot/plot.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>


namespace lz {

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

std::string gnuplot_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

namespace {
std::string gq(const std::string& s) { return gnuplot_quote(s); }
}  // namespace

bool warn_if_no_gnuplot(const std::string& png_path) {
  if (have_gnuplot()) return false;
  static bool warned = false;
  if (!warned) std::cerr << "warning: gnuplot not found; skipping " << png_path << " (apt-get install gnuplot-nox)\n";
  warned = true;
  return true;
}

void run_gnuplot(const std::string& script, const std::string& png_tmp, const std::string& png_path) {
  const std::string err_path = script + ".err";
  const int rc = std::system(("gnuplot " + gq(script) + " 2>" + gq(err_path)).c_str());
  std::string err;
  {
    std::ifstream e(err_path);
    std::stringstream ss;
    ss << e.rdbuf();
    err = ss.str();
  }
  std::remove(script.c_str());
  std::remove(err_path.c_str());
  if (rc != 0 || !std::filesystem::exists(png_tmp)) {
    std::remove(png_tmp.c_str());
    throw std::runtime_error("gnuplot failed to draw " + png_path + ": " + err);
  }
  if (std::rename(png_tmp.c_str(), png_path.c_str()) != 0) {
    std::remove(png_tmp.c_str());
    throw std::runtime_error("cannot rename the plot to " + png_path);
  }
}

bool plot_metrics(const std::string& metrics_jsonl, const std::vector<std::string>& keys, const std::string& png_path,
                  const PlotOptions& opt) {
  if (warn_if_no_gnuplot(png_path)) return false;
  std::ifstream f(metrics_jsonl);
  if (!f) throw std::runtime_error("cannot open " + metrics_jsonl);
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  std::string line;
  for (int64_t ln = 1; std::getline(f, line); ++ln) {
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(metrics_jsonl + ":" + std::to_string(ln) + ": invalid JSON: " + e.what());
    }
    if (!j.is_object() || !j.contains(opt.x_key) || !j[opt.x_key].is_number()) continue;
    const double x = j[opt.x_key].get<double>();
    for (const auto& k : keys)
      if (j.contains(k) && j[k].is_number() && std::isfinite(j[k].get<double>()))
        series[k].push_back({x, j[k].get<double>()});
  }
  if (series.empty()) throw std::runtime_error(metrics_jsonl + ": no records with '" + opt.x_key + "' and any of the keys to plot");

  const std::string base = png_path + ".plot-" + std::to_string(::getpid());
  const std::string data = base + ".dat", script = base + ".gp", png_tmp = base + ".png";
  {
    std::ofstream d(data);
    for (const auto& k : keys) {
      d << "# " << k << "\n";
      for (auto [x, y] : series[k]) d << x << " " << y << "\n";
      d << "\n\n";  // gnuplot: two blank lines separate index blocks
    }
  }
  {
    std::ofstream s(script);
    s << "set terminal pngcairo size " << opt.width << "," << opt.height << " noenhanced\n"
      << "set output " << gq(png_tmp) << "\n"
      << "set title " << gq(opt.title.empty() ? metrics_jsonl : opt.title) << "\n"
      << "set xlabel " << gq(opt.x_key) << "\nset grid\nset key outside right\n";
    if (opt.log_y) s << "set logscale y\n";
    // gnuplot refuses an empty x range: widen it when every point has the same x.
    double xlo = INFINITY, xhi = -INFINITY;
    for (const auto& [k, pts] : series)
      for (auto [x, y] : pts) xlo = std::min(xlo, x), xhi = std::max(xhi, x);
    if (xhi == xlo) s << "set xrange [" << xlo - 1 << ":" << xhi + 1 << "]\n";
    s << "plot ";
    bool first = true;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (series[keys[i]].empty()) continue;
      s << (first ? "" : ", ") << gq(data) << " index " << i
        << (series[keys[i]].size() < 30 ? " with linespoints pt 7 ps 0.6 lw 2 title " : " with lines lw 2 title ")
        << gq(keys[i]);
      first = false;
    }
    s << "\n";
  }
  try {
    run_gnuplot(script, png_tmp, png_path);
  } catch (...) {
    std::remove(data.c_str());
    throw;
  }
  std::remove(data.c_str());
  return true;
}

bool plot_series(const std::vector<Series>& series, const std::string& png_path, const SeriesPlot& opt) {
  for (const Series& sr : series)
    if (sr.x.size() != sr.y.size() || (!sr.err.empty() && sr.err.size() != sr.x.size()) || sr.x.empty())
      throw std::invalid_argument("plot_series: series '" + sr.title + "' has " + std::to_string(sr.x.size()) + " x, " +
                                  std::to_string(sr.y.size()) + " y and " + std::to_string(sr.err.size()) +
                                  " error values (expected as many y as x, at least one, and no or as many errors)");
  return draw_with_gnuplot(
      png_path, opt.width, opt.height,
      [&](std::ofstream& d) {
        d.precision(17);
        for (const Series& sr : series) {
          for (size_t i = 0; i < sr.x.size(); ++i)
            d << sr.x[i] << " " << sr.y[i] << " " << (sr.err.empty() ? 0.0 : sr.err[i]) << "\n";
          d << "\n\n";
        }
      },
      [&](std::ofstream& s, const std::string& data) {
        s << "set title " << gq(opt.title) << "\nset xlabel " << gq(opt.x_label) << "\nset ylabel " << gq(opt.y_label)
          << "\nset grid\nset key " << opt.key << "\nset offsets graph 0.05, graph 0.05\nplot ";
        for (size_t i = 0; i < series.size(); ++i)
          s << (i ? ", " : "") << data << " index " << i
            << (series[i].err.empty() ? " using 1:2 with lines lw 2 title " : " using 1:2:3 with yerrorlines lw 2 title ")
            << gq(series[i].title);
        s << "\n";
      });
}

bool draw_with_gnuplot(const std::string& png_path, int w, int h, const std::function<void(std::ofstream&)>& write_data,
                       const std::function<void(std::ofstream&, const std::string& data)>& write_script) {
  if (warn_if_no_gnuplot(png_path)) return false;
  const std::string base = png_path + ".plot-" + std::to_string(::getpid());
  const std::string data = base + ".dat", script = base + ".gp", png_tmp = base + ".png";
  {
    std::ofstream d(data);
    write_data(d);
    if (!d) throw std::runtime_error("cannot write " + data);
  }
  {
    std::ofstream s(script);
    s << "set terminal pngcairo size " << w << "," << h << " noenhanced\nset output " << gq(png_tmp) << "\n";
    write_script(s, gq(data));
  }
  try {
    run_gnuplot(script, png_tmp, png_path);
  } catch (...) {
    std::remove(data.c_str());
    throw;
  }
  std::remove(data.c_str());
  return true;
}

}  // namespace lz
