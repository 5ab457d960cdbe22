#include "cli/memory.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/flag_error.hpp"

namespace lz {

NetworkSize& NetworkSize::operator+=(const NetworkSize& o) {
  parameters += o.parameters;
  activations_per_row += o.activations_per_row;
  widest = std::max(widest, o.widest);
  return *this;
}

NetworkSize mlp_size(const std::vector<int64_t>& widths) {
  NetworkSize s;
  for (size_t i = 1; i < widths.size(); ++i) {
    s.parameters += widths[i - 1] * widths[i] + widths[i];
    s.activations_per_row += widths[i];
    s.widest = std::max(s.widest, widths[i]);
  }
  return s;
}

NetworkSize mlp_size(int64_t in, const std::vector<int64_t>& hidden, int64_t out) {
  std::vector<int64_t> widths{in};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(out);
  return mlp_size(widths);
}

double training_bytes(const NetworkSize& net, int64_t rows, int64_t eval_rows) {
  return 4.0 * (4.0 * static_cast<double>(net.parameters) +
                3.0 * static_cast<double>(net.activations_per_row) * static_cast<double>(std::max<int64_t>(rows, 1)) +
                2.0 * static_cast<double>(net.widest) * static_cast<double>(std::max<int64_t>(eval_rows, 0)));
}

namespace {

// The first number in a file ("max" reads as none).
std::optional<double> read_number(const std::string& path) {
  std::ifstream f(path);
  double v = 0;
  if (f >> v) return v;
  return std::nullopt;
}

std::optional<AvailableMemory> cgroup_memory() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  std::string v2, v1;
  while (std::getline(f, line)) {
    if (line.rfind("0::", 0) == 0) v2 = line.substr(3);
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a != std::string::npos && b != std::string::npos) {
      std::stringstream controllers(line.substr(a + 1, b - a - 1));
      for (std::string c; std::getline(controllers, c, ',');)
        if (c == "memory") v1 = line.substr(b + 1);
    }
  }
  // A limit above 2^60 is "no limit" (cgroup v1 writes 2^63 rounded to a page).
  auto fits = [](std::optional<double> limit, std::optional<double> used, const std::string& where) -> std::optional<AvailableMemory> {
    if (!limit || *limit >= 1.15e18) return std::nullopt;
    return AvailableMemory{std::max(0.0, *limit - used.value_or(0)), "the cgroup's memory limit, " + where + ", less its usage"};
  };
  for (const std::string& dir : {"/sys/fs/cgroup" + v2, std::string("/sys/fs/cgroup")})
    if (auto m = fits(read_number(dir + "/memory.max"), read_number(dir + "/memory.current"), dir + "/memory.max")) return m;
  for (const std::string& dir : {"/sys/fs/cgroup/memory" + v1, std::string("/sys/fs/cgroup/memory")})
    if (auto m = fits(read_number(dir + "/memory.limit_in_bytes"), read_number(dir + "/memory.usage_in_bytes"),
                      dir + "/memory.limit_in_bytes"))
      return m;
  return std::nullopt;
}

std::optional<AvailableMemory> meminfo() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (f >> key >> kib >> unit)
    if (key == "MemAvailable:") return AvailableMemory{kib * 1024, "MemAvailable in /proc/meminfo"};
  return std::nullopt;
}

std::optional<AvailableMemory> address_space() {
  rlimit r{};
  if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return std::nullopt;
  // What is mapped already counts against it (the program, its libraries, the data loaded so far).
  double mapped = 0;
  std::ifstream f("/proc/self/statm");
  double pages = 0;
  if (f >> pages) mapped = pages * 4096;
  return AvailableMemory{std::max(0.0, static_cast<double>(r.rlim_cur) - mapped),
                         "the address-space limit (ulimit -v), less what is mapped"};
}

}  // namespace

std::optional<AvailableMemory> available_memory() {
  std::optional<AvailableMemory> best;
  for (auto m : {meminfo(), cgroup_memory(), address_space()})
    if (m && (!best || m->bytes < best->bytes)) best = m;
  return best;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1000 && u < 5) bytes /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return buf;
}

void check_fits_in_memory(const std::string& flag, const std::string& value, const NetworkSize& net, int64_t rows,
                          int64_t eval_rows, std::optional<AvailableMemory> available) {
  if (!available) return;
  const double need = training_bytes(net, rows, eval_rows);
  if (need <= available->bytes) return;
  char params[32];
  std::snprintf(params, sizeof params, "%.3g", static_cast<double>(net.parameters));
  throw FlagError(flag + " " + value + ": training needs about " + human_bytes(need) + " (" + params +
                  " parameters, each with its gradient and Adam's two moments, and the activations of " +
                  std::to_string(rows) + " rows at once" +
                  (eval_rows > 0 ? ", " + std::to_string(eval_rows) + " in an evaluation" : std::string()) +
                  "), more than the " + human_bytes(available->bytes) +
                  " available (" + available->source + "); choose smaller sizes");
}

}  // namespace lz
