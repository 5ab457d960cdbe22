#include "plot/plot.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
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

namespace {
// True if the file ends in a PNG's IEND chunk (length 0, "IEND", its CRC).
bool ends_in_iend(const std::string& path) {
  static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f || f.tellg() < 12) return false;
  f.seekg(-12, std::ios::end);
  unsigned char tail[12];
  f.read(reinterpret_cast<char*>(tail), 12);
  return f && std::equal(tail, tail + 12, iend);
}
// Why a write into path's folder may have failed when the writer did not say: the disk is full, or unknown.
std::string folder_full_reason(const std::string& path) {
  std::string folder = std::filesystem::path(path).parent_path().string();
  struct statvfs st{};
  if (::statvfs(folder.empty() ? "." : folder.c_str(), &st) == 0 && st.f_bavail == 0) return std::strerror(ENOSPC);
  return "the file ends before the PNG's last chunk";
}
}  // namespace

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
    throw std::runtime_error("gnuplot failed to draw " + png_path + ": " + (err.empty() ? "no message" : err));
  }
  // gnuplot (cairo) may exit 0 after a write that failed part-way: a whole PNG ends in its IEND chunk.
  if (!ends_in_iend(png_tmp)) {
    std::remove(png_tmp.c_str());
    throw std::runtime_error("gnuplot wrote an incomplete " + png_tmp + " for " + png_path + ": " + folder_full_reason(png_path) +
                             (err.empty() ? "" : " (gnuplot: " + err + ")"));
  }
  if (std::rename(png_tmp.c_str(), png_path.c_str()) != 0) {
    const int e = errno;
    std::remove(png_tmp.c_str());
    throw std::runtime_error("cannot rename " + png_tmp + " to " + png_path + ": " + std::strerror(e));
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
  if (series.empty()) {
    std::string names;
    for (const auto& k : keys) names += (names.empty() ? "'" : ", '") + k + "'";
    throw NothingToPlot(metrics_jsonl + ": no records with '" + opt.x_key + "' and " + names +
                        " yet (a run shorter than --log-every steps has no loss record)");
  }

  // gnuplot refuses an empty x range: widen it when every point has the same x.
  double xlo = INFINITY, xhi = -INFINITY;
  for (const auto& [k, pts] : series)
    for (auto [x, y] : pts) xlo = std::min(xlo, x), xhi = std::max(xhi, x);
  return draw_with_gnuplot(
      png_path, opt.width, opt.height,
      [&](std::ofstream& d) {
        // Only keys with points get a block: gnuplot numbers its index blocks by what it finds,
        // and a key without records (a short run's "loss") would shift the others' numbers.
        for (const auto& k : keys) {
          if (series[k].empty()) continue;
          d << "# " << k << "\n";
          for (auto [x, y] : series[k]) d << x << " " << y << "\n";
          d << "\n\n";  // gnuplot: two blank lines separate index blocks
        }
      },
      [&](std::ofstream& s, const std::string& data) {
        s << "set title " << gq(opt.title.empty() ? metrics_jsonl : opt.title) << "\n"
          << "set xlabel " << gq(opt.x_key) << "\nset grid\nset key outside right\n";
        if (opt.log_y) s << "set logscale y\n";
        if (xhi == xlo) s << "set xrange [" << xlo - 1 << ":" << xhi + 1 << "]\n";
        s << "plot ";
        bool first = true;
        for (size_t i = 0, block = 0; i < keys.size(); ++i) {
          if (series[keys[i]].empty()) continue;
          s << (first ? "" : ", ") << data << " index " << block++
            << (series[keys[i]].size() < 30 ? " with linespoints pt 7 ps 0.6 lw 2 title " : " with lines lw 2 title ")
            << gq(keys[i]);
          first = false;
        }
        s << "\n";
      });
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
  // A file of ours, written and closed; on failure (a full disk) it is removed and the error names
  // it and the reason, the errno's text.
  auto write_checked = [&](const std::string& path, const std::function<void(std::ofstream&)>& fill) {
    errno = 0;
    std::ofstream f(path);
    try {
      if (f) fill(f);
    } catch (...) {
      f.close();
      std::remove(path.c_str());
      throw;
    }
    if (f) f.close();
    if (!f) {
      const int e = errno;
      std::remove(path.c_str());
      throw std::runtime_error("cannot write " + path + ": " + (e ? std::strerror(e) : "write error"));
    }
  };
  write_checked(data, write_data);
  try {
    write_checked(script, [&](std::ofstream& s) {
      s << "set terminal pngcairo size " << w << "," << h << " noenhanced\nset output " << gq(png_tmp) << "\n";
      write_script(s, gq(data));
    });
    run_gnuplot(script, png_tmp, png_path);
  } catch (...) {
    std::remove(data.c_str());
    throw;
  }
  std::remove(data.c_str());
  return true;
}

}  // namespace lz
