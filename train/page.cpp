#include "train/page.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace lz {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  return out;
}

namespace {

// A relative link to a file name: the characters a URL path cannot hold as they are, %-encoded
// (a space, '#', '?', '%' and the non-ASCII bytes), then escaped for the attribute.
std::string href(const std::string& name) {
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (unsigned char c : name) {
    if (std::isalnum(c) || std::string_view("-._~/!$&'()*+,;=:@").find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return html_escape(out);
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A JSON file, or null when it is missing or does not parse (the page says which).
json read_json(const fs::path& p, std::string& problem) {
  if (!fs::exists(p)) return nullptr;
  try {
    return json::parse(read_file(p));
  } catch (const std::exception& e) {
    problem = p.filename().string() + " does not parse: " + e.what();
    return nullptr;
  }
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// One value as text: numbers compactly, strings as they are, a long list of numbers cut short.
std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return number(v.get<double>());
  if (v.is_array() && v.size() > 12) {
    std::string s = "[";
    for (size_t i = 0; i < 8; ++i) s += (i ? ", " : "") + value_text(v[i]);
    return s + ", … (" + std::to_string(v.size()) + " values)]";
  }
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + value_text(v[i]);
    return s + "]";
  }
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Rows of (dotted key, value) for a JSON object: nested objects flattened ("log_px.mean"), arrays
// of objects by index ("bic_table[2].k"), arrays of plain values on one row.
void flatten(const json& j, const std::string& key, std::vector<std::pair<std::string, std::string>>& rows) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) flatten(v, key.empty() ? k : key + "." + k, rows);
    return;
  }
  if (j.is_array() && !j.empty() && j[0].is_object()) {
    if (j.size() > 50) {
      rows.push_back({key, std::to_string(j.size()) + " entries"});
      return;
    }
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], key + "[" + std::to_string(i) + "]", rows);
    return;
  }
  rows.push_back({key, value_text(j)});
}

void table(std::ostringstream& o, const json& j) {
  std::vector<std::pair<std::string, std::string>> rows;
  flatten(j, "", rows);
  o << "<table>\n";
  for (const auto& [k, v] : rows) o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
  o << "</table>\n";
}

// Tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about five of them.
std::vector<double> ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / p < 1.5 ? p : raw / p < 3.5 ? 2 * p : raw / p < 7.5 ? 5 * p : 10 * p;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9 && t.size() < 20; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

struct Series {
  std::string key, x_key;
  std::vector<double> x, y;
};

// The logged quantities of metrics.jsonl, each against the first counter its records all carry
// (step, epoch or iteration; else the record's position). Counters and wall-clock time are axes,
// not curves; a null (a value that was not finite) is left out.
std::vector<Series> read_series(const fs::path& metrics, std::string& problem) {
  std::vector<json> recs;
  std::ifstream in(metrics);
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty()) continue;
    try {
      json r = json::parse(line);
      if (r.is_object()) recs.push_back(std::move(r));
    } catch (const std::exception&) {
      problem = "metrics.jsonl line " + std::to_string(line_no) + " does not parse (left out)";
    }
  }
  const std::vector<std::string> axes = {"step", "epoch", "iteration"};
  std::vector<std::string> order;
  std::map<std::string, std::vector<size_t>> rows;  // key -> records holding a number for it
  for (size_t i = 0; i < recs.size(); ++i)
    for (const auto& [k, v] : recs[i].items()) {
      if (std::find(axes.begin(), axes.end(), k) != axes.end() || k == "seconds" || !v.is_number()) continue;
      if (!rows.count(k)) order.push_back(k);
      rows[k].push_back(i);
    }
  std::vector<Series> out;
  for (const std::string& k : order) {
    Series s{k, "", {}, {}};
    for (const std::string& a : axes)
      if (std::all_of(rows[k].begin(), rows[k].end(), [&](size_t i) { return recs[i].contains(a) && recs[i][a].is_number(); })) {
        s.x_key = a;
        break;
      }
    for (size_t i : rows[k]) {
      s.x.push_back(s.x_key.empty() ? double(i + 1) : recs[i][s.x_key].get<double>());
      s.y.push_back(recs[i][k].get<double>());
    }
    if (s.x_key.empty()) s.x_key = "record";
    out.push_back(std::move(s));
  }
  return out;
}

// One chart: the series as a polyline (at most 2000 points) in a box with ticks on both axes.
void svg_chart(std::ostringstream& o, const Series& s) {
  constexpr double W = 480, H = 270, L = 72, R = 16, T = 28, B = 42;
  const auto [xmin_it, xmax_it] = std::minmax_element(s.x.begin(), s.x.end());
  const auto [ymin_it, ymax_it] = std::minmax_element(s.y.begin(), s.y.end());
  double x0 = *xmin_it, x1 = *xmax_it, y0 = *ymin_it, y1 = *ymax_it;
  if (x1 == x0) x0 -= 1, x1 += 1;
  if (y1 == y0) {
    const double d = y0 == 0 ? 1 : std::abs(y0) * 0.05;
    y0 -= d, y1 += d;
  } else {
    const double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
  }
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  const std::string name = html_escape(s.key);
  o << "<figure class=\"curve\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" role=\"img\" aria-label=\"" << name << " against "
    << html_escape(s.x_key) << "\">\n";
  o << "<text x=\"" << W / 2 << "\" y=\"18\" text-anchor=\"middle\" class=\"t\">" << name << "</text>\n";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (double v : ticks(y0, y1))
    o << "<line x1=\"" << L - 4 << "\" x2=\"" << W - R << "\" y1=\"" << number(py(v)) << "\" y2=\"" << number(py(v))
      << "\" stroke=\"#ddd\"/><text x=\"" << L - 6 << "\" y=\"" << number(py(v) + 4) << "\" text-anchor=\"end\">"
      << number(v) << "</text>\n";
  for (double v : ticks(x0, x1))
    o << "<line x1=\"" << number(px(v)) << "\" x2=\"" << number(px(v)) << "\" y1=\"" << H - B << "\" y2=\"" << H - B + 4
      << "\" stroke=\"#888\"/><text x=\"" << number(px(v)) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">"
      << number(v) << "</text>\n";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 6 << "\" text-anchor=\"middle\">" << html_escape(s.x_key)
    << "</text>\n";
  const size_t n = s.x.size(), stride = std::max<size_t>(1, (n + 1999) / 2000);
  std::string pts;
  for (size_t i = 0; i < n; i += stride) pts += number(px(s.x[i])) + "," + number(py(s.y[i])) + " ";
  if ((n - 1) % stride != 0) pts += number(px(s.x[n - 1])) + "," + number(py(s.y[n - 1]));
  if (n == 1)
    o << "<circle cx=\"" << number(px(s.x[0])) << "\" cy=\"" << number(py(s.y[0])) << "\" r=\"3\" fill=\"#1f77b4\"/>\n";
  else
    o << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"" << pts << "\"/>\n";
  o << "</svg><figcaption>" << name << " against " << html_escape(s.x_key) << " (" << n << " records; last "
    << number(s.y.back()) << ")</figcaption></figure>\n";
}

// A temporary file of nn/atomic_file ("x.tmp-<pid>"): it may be gone by the time the page is read.
bool is_temp(const std::string& name) { return name.find(".tmp-") != std::string::npos || name.find(".tmp.") != std::string::npos; }

std::string size_text(uintmax_t b) {
  char buf[32];
  if (b < 10000) std::snprintf(buf, sizeof buf, "%ju B", b);
  else if (b < 10000000) std::snprintf(buf, sizeof buf, "%.0f KB", double(b) / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f MB", double(b) / 1e6);
  return buf;
}

constexpr const char* kStyle = R"(body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{font-weight:normal;color:#555;background:#f6f6f6;font-family:monospace}td{font-family:monospace;word-break:break-all}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.85em;color:#555}svg text{font-size:11px;fill:#333}svg text.t{font-size:13px}
.status{padding:.4em .8em;background:#eef6ee;border-left:4px solid #4a4}.stopped{background:#fbf1e6;border-left-color:#d80}
.problem{color:#a00})";

}  // namespace

std::string run_page_html(const std::string& folder, const std::string& title) {
  const fs::path dir(folder);
  std::string name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  const std::string heading = title.empty() ? name : title + ": " + name;
  std::vector<std::string> problems;
  std::string problem;
  const json summary = read_json(dir / "summary.json", problem);
  if (!problem.empty()) problems.push_back(problem), problem.clear();
  const json config = read_json(dir / "config.json", problem);
  if (!problem.empty()) problems.push_back(problem), problem.clear();
  std::vector<Series> series;
  if (fs::exists(dir / "metrics.jsonl")) series = read_series(dir / "metrics.jsonl", problem);
  if (!problem.empty()) problems.push_back(problem), problem.clear();

  std::vector<std::string> files, pictures, runs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (e.is_directory(ec)) {
      if (fs::exists(e.path() / "config.json") || fs::exists(e.path() / "index.html")) runs.push_back(f);
      continue;
    }
    if (!e.is_regular_file(ec) || f == "index.html" || is_temp(f)) continue;
    files.push_back(f);
    if (e.path().extension() == ".png" && f != "page.png") pictures.push_back(f);
  }
  std::sort(files.begin(), files.end());
  std::sort(pictures.begin(), pictures.end());
  std::sort(runs.begin(), runs.end());

  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << html_escape(heading)
    << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>" << html_escape(heading) << "</h1>\n";
  if (summary.is_object()) {
    const std::string stopped = summary.contains("stopped_by") ? value_text(summary["stopped_by"]) : "";
    o << "<p class=\"status\">finished" << (stopped.empty() ? "" : " (stopped by " + html_escape(stopped) + ")")
      << ": summary.json is below</p>\n";
  } else {
    o << "<p class=\"status stopped\">no summary.json: the run stopped before its end (a signal, the time budget, an "
         "error) or is still running; what it wrote so far is below";
    if (!series.empty() || fs::exists(dir / "checkpoint.safetensors")) o << " (resume it with <code>--resume</code>)";
    o << "</p>\n";
  }
  for (const std::string& p : problems) o << "<p class=\"problem\">" << html_escape(p) << "</p>\n";
  o << "<p>";
  for (const char* s : {"summary", "curves", "pictures", "runs", "config", "files"}) {
    if (std::string(s) == "summary" && !summary.is_object()) continue;
    if (std::string(s) == "curves" && series.empty()) continue;
    if (std::string(s) == "pictures" && pictures.empty()) continue;
    if (std::string(s) == "runs" && runs.empty()) continue;
    if (std::string(s) == "config" && !config.is_object()) continue;
    o << "<a href=\"#" << s << "\">" << s << "</a> ";
  }
  o << "</p>\n";
  if (summary.is_object()) {
    o << "<h2 id=\"summary\">Summary</h2>\n";
    table(o, summary);
  }
  if (!series.empty()) {
    o << "<h2 id=\"curves\">Curves (metrics.jsonl)</h2>\n";
    for (const Series& s : series) svg_chart(o, s);
  }
  if (!pictures.empty()) {
    o << "<h2 id=\"pictures\">Pictures</h2>\n";
    for (const std::string& p : pictures)
      o << "<figure><a href=\"" << href(p) << "\"><img src=\"" << href(p) << "\" alt=\"" << html_escape(p)
        << "\"></a><figcaption>" << html_escape(p) << "</figcaption></figure>\n";
  }
  if (!runs.empty()) {
    o << "<h2 id=\"runs\">Runs in this folder</h2>\n<ul>\n";
    for (const std::string& r : runs) {
      const bool page = fs::exists(dir / r / "index.html");
      o << "<li><a href=\"" << href(page ? r + "/index.html" : r + "/") << "\">" << html_escape(r) << "</a></li>\n";
    }
    o << "</ul>\n";
  }
  if (config.is_object()) {
    o << "<h2 id=\"config\">Config (config.json)</h2>\n";
    table(o, config);
  }
  o << "<h2 id=\"files\">Files</h2>\n<ul>\n";
  for (const std::string& f : files) {
    const uintmax_t size = fs::file_size(dir / f, ec);
    o << "<li><a href=\"" << href(f) << "\">" << html_escape(f) << "</a> (" << (ec ? "?" : size_text(size)) << ")</li>\n";
  }
  o << "</ul>\n</body>\n</html>\n";
  return o.str();
}

void write_run_page(const std::string& folder, const std::string& title) {
  atomic_write(folder + "/index.html", run_page_html(folder, title));
}

RunPage::~RunPage() {
  if (!run_.writer()) return;
  try {
    write_run_page(run_.path(), title_);
  } catch (const std::exception& e) {
    std::cerr << "warning: the run's page " << run_.file("index.html") << " was not written: " << e.what() << "\n";
  }
}

}  // namespace lz
