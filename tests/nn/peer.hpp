// Helpers for the tests that call a Python peer (/usr/bin/python3, never the pyenv on PATH).
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace lz::test {

struct Run {
  int status = -1;  // the exit code, or -1 if the process did not exit normally
  std::string output;  // stdout and stderr
};

inline Run run(const std::string& cmd) {
  Run r;
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline const char* python() { return "/usr/bin/python3"; }

// True if /usr/bin/python3 exists and imports `module`.
inline bool python_has(const std::string& module) {
  if (::access(python(), X_OK) != 0) return false;
  return run(std::string(python()) + " -c 'import " + module + "'").status == 0;
}

inline std::string script(const std::string& name) { return std::string(LZ_SOURCE_DIR) + "/tests/python/" + name; }

// A fresh directory under the build tree for this test's files.
inline std::filesystem::path temp_dir(const std::string& tag) {
  auto d = std::filesystem::path(LZ_BINARY_DIR) / "test_tmp" / (tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace lz::test
