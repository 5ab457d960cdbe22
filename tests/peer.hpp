// Helpers for the tests that call a Python peer (/usr/bin/python3, never the pyenv on PATH).
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "skip.hpp"

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

inline std::string script(const std::string& name) { return std::string(LZ_SOURCE_DIR) + "/tests/python/" + name; }

// Runs tests/python/<name> with `args`. The scripts import their peers through peer.py, which
// exits 77 when one is not installed: then this reports `package` missing (a skip, or a failure
// under LZ_REQUIRE_PEERS) and returns false. Any other non-zero exit, a broken import included,
// is a failure with the script's output. True: the script ran; its output is in `out`.
inline bool run_peer(const std::string& package, const std::string& name, const std::string& args, Run* out = nullptr) {
  if (::access(python(), X_OK) != 0) {
    missing("python3", "no /usr/bin/python3");
    return false;
  }
  const Run r = run(std::string(python()) + " " + script(name) + " " + args);
  if (out) *out = r;
  if (r.status == 77) {
    missing(package, r.output.substr(0, r.output.find_last_not_of('\n') + 1));
    return false;
  }
  BOOST_TEST_REQUIRE(r.status == 0, name << " failed (exit " << r.status << "):\n" << r.output);
  return true;
}

// A fresh directory under the build tree for this test's files.
inline std::filesystem::path temp_dir(const std::string& tag) {
  auto d = std::filesystem::path(LZ_BINARY_DIR) / "test_tmp" / (tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

}  // namespace lz::test
