#include "train/run.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

namespace lz {

namespace fs = std::filesystem;

void atomic_write_with(const std::string& path, const std::function<bool(std::FILE*)>& fill) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  bool ok = false;
  std::string why;
  try {
    ok = fill(f);
    if (!ok) why = "writer failed";
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (ok && std::fflush(f) != 0) ok = false, why = std::strerror(errno);
  if (ok && std::ferror(f)) ok = false, why = "write error";
  if (std::fclose(f) != 0 && ok) ok = false, why = std::strerror(errno);
  if (!ok) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + why);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + e);
  }
}

void atomic_write(const std::string& path, std::string_view bytes) {
  atomic_write_with(path, [&](std::FILE* f) { return std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size(); });
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !fs::is_directory(path))
    throw std::runtime_error("cannot create folder " + path + ": " + (ec ? ec.message() : "exists and is not a folder"));
}

std::string default_run_dir(const std::string& prefix) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return "runs/" + prefix + "-" + buf;
}

RunDir::RunDir(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw std::invalid_argument("RunDir: empty path");
  make_dirs(path_);
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
  if (!metrics_) {
    metrics_ = std::fopen(file("metrics.jsonl").c_str(), "ab");
    if (!metrics_) throw std::runtime_error("cannot open " + file("metrics.jsonl") + ": " + std::strerror(errno));
  }
  const std::string line = finite_or_null(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), metrics_) != line.size() || std::fflush(metrics_) != 0)
    throw std::runtime_error("cannot append to " + file("metrics.jsonl") + ": " + std::strerror(errno));
}

void check_finite(double loss, int64_t step, int64_t batch, const std::string& last_checkpoint) {
  if (std::isfinite(loss)) return;
  throw std::runtime_error(std::string("loss is ") + (std::isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf") +
                           " at step " + std::to_string(step) + " (batch " + std::to_string(batch) + "); " +
                           (last_checkpoint.empty() ? std::string("no checkpoint saved yet")
                                                    : "last good checkpoint: " + last_checkpoint));
}

}  // namespace lz
