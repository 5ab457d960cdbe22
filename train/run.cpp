#include "train/run.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "nn/atomic_file.hpp"
#include "train/distributed.hpp"

namespace lz {

namespace fs = std::filesystem;

// Under MPI rank 0 alone writes files (train/distributed.hpp): the other ranks hold the same
// model and results, and two writers of one shared folder would race.
void atomic_write_with(const std::string& path, const std::function<bool(std::FILE*)>& fill) {
  if (dist::is_root()) write_atomic_with(path, fill);
}

void atomic_write(const std::string& path, std::string_view bytes) {
  if (dist::is_root()) write_file_atomic(path, bytes);
}

bool RunDir::writer() const { return dist::is_root(); }

void make_dirs(const std::string& path) {
  if (!dist::is_root()) return;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path))
    throw std::runtime_error("cannot create folder " + path + ": " + (ec ? ec.message() : "exists and is not a folder"));
}

std::string default_run_dir(const std::string& prefix) {
  static std::time_t last = 0;
  static int same_second = 0;
  const std::time_t t = std::time(nullptr);
  same_second = t == last ? same_second + 1 : 0;
  last = t;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::string name = "runs/" + prefix + "-" + buf + "-" + std::to_string(::getpid());
  // Appended in two steps: `"-" + std::to_string(..)` trips GCC 12's false -Wrestrict (PR 105329).
  if (same_second > 0) name.append("-").append(std::to_string(same_second + 1));
  return name;
}

namespace {
// The files that make a folder a run's: a new run must not mix its records into them.
constexpr const char* kRunFiles[] = {"config.json", "metrics.jsonl", "summary.json", "checkpoint.safetensors"};

// A temporary file of nn/atomic_file ("x.tmp-<pid>"), or of the checkpoint writer before it
// joined that one place ("x.tmp.<pid>"), or of a gnuplot picture (plot/plot.cpp:
// "x.png.plot-<pid>.dat", ".gp", ".gp.err", ".png").
bool is_leftover_temp(const std::string& name) {
  for (const char* mark : {".tmp-", ".tmp."}) {
    const size_t at = name.rfind(mark);
    if (at == std::string::npos || at + 5 == name.size()) continue;
    if (name.find_first_not_of("0123456789", at + 5) == std::string::npos) return true;
  }
  const size_t at = name.rfind(".png.plot-");
  if (at == std::string::npos) return false;
  const size_t digits = at + 10, end = name.find_first_not_of("0123456789", digits);
  if (end == digits || end == std::string::npos) return false;
  const std::string ext = name.substr(end);
  return ext == ".dat" || ext == ".gp" || ext == ".gp.err" || ext == ".png";
}

int64_t count_lines(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return 0;
  int64_t n = 0;
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0)
    for (size_t i = 0; i < got; ++i) n += buf[i] == '\n';
  std::fclose(f);
  return n;
}
}  // namespace

RunDir::RunDir(std::string path, RunMode mode) : path_(std::move(path)) {
  if (path_.empty()) throw std::invalid_argument("RunDir: empty path");
  if (!dist::is_root()) return;  // rank 0 checks, creates and writes the folder
  if (mode == RunMode::Create) {
    for (const char* f : kRunFiles)
      if (fs::exists(file(f)))
        throw std::runtime_error(path_ + " holds another run (" + f + " is there); choose another --out, or continue "
                                 "that run with --resume " + path_);
    make_dirs(path_);
    return;
  }
  if (!fs::is_directory(path_)) throw std::runtime_error("cannot resume in " + path_ + ": no such folder");
  records_ = count_lines(file("metrics.jsonl"));
}

void RunDir::write_summary(const nlohmann::json& summary) {
  require_finite(summary, "summary");
  write_json("summary.json", summary);
}

void RunDir::resume_at(int64_t n) {
  if (!dist::is_root()) {
    records_ = n;
    return;
  }
  if (metrics_) std::fclose(metrics_), metrics_ = nullptr;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path_, ec))
    if (e.is_regular_file() && is_leftover_temp(e.path().filename().string())) fs::remove(e.path(), ec);
  fs::remove(file("summary.json"), ec);
  const std::string path = file("metrics.jsonl");
  std::string kept;
  int64_t lines = 0;
  if (n > 0) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    int c;
    while (lines < n && (c = std::fgetc(f)) != EOF) {
      kept.push_back(static_cast<char>(c));
      lines += c == '\n';
    }
    std::fclose(f);
  }
  if (lines < n)
    throw std::runtime_error(path + " holds " + std::to_string(lines) + " records, but the checkpoint was written after " +
                             std::to_string(n) + "; the run folder was changed by hand");
  atomic_write(path, kept);
  records_ = n;
}

RunDir::~RunDir() {
  if (metrics_) std::fclose(metrics_);
}

void RunDir::write_json(const std::string& name, const nlohmann::json& j) {
  // error_handler::replace: a stray invalid UTF-8 byte in a string must not lose the whole file.
  atomic_write(file(name), j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

namespace {
// JSON has no NaN/inf: nlohmann writes them as null; make that explicit and recursive.
nlohmann::json finite_or_null(const nlohmann::json& j) {
  if (j.is_number_float() && !std::isfinite(j.get<double>())) return nullptr;
  if (j.is_object() || j.is_array()) {
    nlohmann::json out = j;
    for (auto& v : out) v = finite_or_null(v);
    return out;
  }
  return j;
}
}  // namespace

void RunDir::log(const nlohmann::json& record) {
  if (!dist::is_root()) {
    ++records_;
    return;
  }
  if (!metrics_) {
    metrics_ = std::fopen(file("metrics.jsonl").c_str(), "ab");
    if (!metrics_) throw std::runtime_error("cannot open " + file("metrics.jsonl") + ": " + std::strerror(errno));
  }
  const std::string line = finite_or_null(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), metrics_) != line.size() || std::fflush(metrics_) != 0)
    throw std::runtime_error("cannot append to " + file("metrics.jsonl") + ": " + std::strerror(errno));
  ++records_;
}

namespace {
void require_finite_at(const nlohmann::json& j, const std::string& key, const std::string& what) {
  if (j.is_number_float() && !std::isfinite(j.get<double>())) {
    const double v = j.get<double>();
    throw std::runtime_error(what + ": '" + key + "' is " + (std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf") +
                             " (a result that is not a number; nothing was written)");
  }
  if (j.is_object())
    for (const auto& [k, v] : j.items()) require_finite_at(v, key.empty() ? k : key + "." + k, what);
  if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) require_finite_at(j[i], key + "[" + std::to_string(i) + "]", what);
}
}  // namespace

void require_finite(const nlohmann::json& j, const std::string& what) { require_finite_at(j, "", what); }

void check_finite(double loss, int64_t step, int64_t batch, const std::string& last_checkpoint) {
  if (std::isfinite(loss)) return;
  throw std::runtime_error(std::string("loss is ") + (std::isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf") +
                           " at step " + std::to_string(step) + " (batch " + std::to_string(batch) + "); " +
                           (last_checkpoint.empty() ? std::string("no checkpoint saved yet")
                                                    : "last good checkpoint: " + last_checkpoint));
}

}  // namespace lz
