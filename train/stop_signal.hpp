#pragma once
// How a training run is stopped from outside: SIGINT/SIGTERM are recorded by a handler and acted
// on by the trainer between steps (a checkpoint, then a clean exit), and the fault injection the
// kill-and-resume tests use to stop a run at a chosen step. Used by train/trainer.cpp only.
#include <cstdint>

namespace lz {

// While alive, SIGINT and SIGTERM are caught: the first is recorded (stop_signal()), a second
// one ends the process at once (_exit(128 + sig); checkpoints are written atomically). The
// previous handlers come back on destruction.
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;
};

// The signal recorded since the last StopSignalGuard was made, or 0.
int stop_signal();

// "SIGINT", "SIGTERM", or "a signal".
const char* stop_signal_name(int sig);

// Fault injection for the kill-and-resume tests: LZ_FAULT_AFTER_STEP="<step>:<KILL|INT|TERM>"
// sends that signal to this process once step <step> and its bookkeeping (record, checkpoint)
// are done. KILL cannot be caught: it is the power cut that resume must survive. Under MPI,
// LZ_FAULT_RANK=<r> limits it to rank r (a rank that dies while the others wait).
struct FaultInjection {
  int64_t step = -1;
  int sig = 0;
  // From the environment; none when LZ_FAULT_AFTER_STEP is unset. A malformed value throws
  // std::invalid_argument naming the expected form.
  static FaultInjection from_env();
  // Raises the signal if `step` is the chosen one.
  void at(int64_t step) const;
};

}  // namespace lz
