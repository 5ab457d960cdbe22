#include "train/stop_signal.hpp"

#include <charconv>
#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include "train/distributed.hpp"

namespace lz {

namespace {

// The handler only records which signal came; the loop acts on it between steps.
volatile std::sig_atomic_t g_signal = 0;
struct sigaction g_old_int {};
struct sigaction g_old_term {};

extern "C" void on_stop_signal(int sig) {
  if (g_signal != 0) _exit(128 + sig);  // a second Ctrl-C: stop now (checkpoints are atomic)
  g_signal = sig;
}

}  // namespace

StopSignalGuard::StopSignalGuard() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignalGuard::~StopSignalGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int stop_signal() { return int(g_signal); }

const char* stop_signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

FaultInjection FaultInjection::from_env() {
  FaultInjection f;
  const char* e = std::getenv("LZ_FAULT_AFTER_STEP");
  if (!e) return f;
  if (const char* r = std::getenv("LZ_FAULT_RANK"); r && std::to_string(dist::rank()) != r) return f;
  const std::string s = e;
  const size_t colon = s.find(':');
  const std::string what = colon == std::string::npos ? "" : s.substr(colon + 1);
  f.sig = what == "KILL" ? SIGKILL : what == "INT" ? SIGINT : what == "TERM" ? SIGTERM : 0;
  auto r = std::from_chars(s.data(), s.data() + (colon == std::string::npos ? 0 : colon), f.step);
  if (f.sig == 0 || r.ec != std::errc())
    throw std::invalid_argument("LZ_FAULT_AFTER_STEP='" + s + "': expected <step>:KILL, :INT or :TERM");
  return f;
}

void FaultInjection::at(int64_t step) const {
  if (step == this->step) std::raise(sig);
}

}  // namespace lz
