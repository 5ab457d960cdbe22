// Progress of a long loop on stderr.
//
// On a terminal: one line rewritten in place (\r) at most ~10 times a second. Otherwise (a log
// file, CI): a plain line every `plain_interval` seconds, so logs stay readable.
// Shows epoch, step/total, the loss (an exponential moving average), items/s and the ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace lz {

class Progress {
 public:
  // total_steps: steps in the whole run (for the ETA); items_per_step: e.g. the batch size.
  Progress(std::string label, int64_t total_steps, int64_t items_per_step = 1, double plain_interval = 5.0,
           std::FILE* out = stderr);
  ~Progress();  // ends the \r line with a newline if one is open

  // Call once per step (step counts from 1). `loss` may be NaN to omit it.
  void update(int64_t epoch, int64_t step, double loss);
  // A message on its own line (ends the \r line first).
  void note(const std::string& message);
  // An epoch's summary. On a terminal it rides on the line rewritten in place (one line for the
  // whole run, not one per epoch); otherwise it is printed at most every `plain_interval` seconds.
  // `last`: the run's final summary, always printed on its own line.
  void summary(const std::string& message, bool last);
  void finish();

  double elapsed_seconds() const;
  bool is_terminal() const { return tty_; }

 private:
  std::string line(int64_t epoch, int64_t step) const;
  std::string label_;
  int64_t total_, items_;
  double interval_;
  std::FILE* out_;
  bool tty_;
  bool open_line_ = false;
  std::string summary_;  // the last epoch's summary, shown after the step counters on a terminal
  double loss_avg_ = 0;
  bool have_loss_ = false;
  int64_t last_step_ = 0, last_epoch_ = 0;
  std::chrono::steady_clock::time_point start_, last_print_, last_summary_;
};

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace lz
