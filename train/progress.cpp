#include "train/progress.hpp"

#include <unistd.h>

#include <cmath>

namespace lz {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", long(t / 3600), long(t % 3600 / 60));
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", long(t / 60), long(t % 60));
  else std::snprintf(buf, sizeof buf, "%lds", long(t));
  return buf;
}

Progress::Progress(std::string label, int64_t total_steps, int64_t items_per_step, double plain_interval, std::FILE* out)
    : label_(std::move(label)),
      total_(total_steps),
      items_(items_per_step),
      interval_(plain_interval),
      out_(out),
      tty_(isatty(fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_),
      last_summary_(start_) {}

Progress::~Progress() { finish(); }

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::line(int64_t epoch, int64_t step) const {
  const double el = elapsed_seconds();
  const double rate = el > 0 ? static_cast<double>(step * items_) / el : 0.0;
  const double eta = step > 0 ? el * static_cast<double>(total_ - step) / static_cast<double>(step) : NAN;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s epoch %ld step %ld/%ld", label_.c_str(), long(epoch), long(step), long(total_));
  std::string s = buf;
  if (have_loss_) {
    std::snprintf(buf, sizeof buf, " loss %.4g", loss_avg_);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, " %.0f items/s elapsed %s ETA %s", rate, format_duration(el).c_str(),
                format_duration(eta).c_str());
  s += buf;
  if (!summary_.empty()) s += " | " + summary_;
  return s;
}

void Progress::update(int64_t epoch, int64_t step, double loss) {
  if (!std::isnan(loss)) {
    // A moving average: a single batch's loss is too noisy to read.
    loss_avg_ = have_loss_ ? 0.95 * loss_avg_ + 0.05 * loss : loss;
    have_loss_ = true;
  }
  last_step_ = step, last_epoch_ = epoch;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  const bool last = step >= total_;
  if (tty_) {
    if (since < 0.1 && !last) return;
    std::fprintf(out_, "\r%s\033[K", line(epoch, step).c_str());
    open_line_ = true;
  } else {
    if (since < interval_ && !last) return;
    std::fprintf(out_, "%s\n", line(epoch, step).c_str());
  }
  std::fflush(out_);
  last_print_ = now;
}

void Progress::note(const std::string& message) {
  if (open_line_) std::fputc('\n', out_);
  open_line_ = false;
  std::fprintf(out_, "%s\n", message.c_str());
  std::fflush(out_);
}

void Progress::summary(const std::string& message, bool last) {
  if (last) {
    summary_.clear();
    note(message);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    summary_ = message;
    std::fprintf(out_, "\r%s\033[K", line(last_epoch_, last_step_).c_str());
    open_line_ = true;
  } else {
    if (std::chrono::duration<double>(now - last_summary_).count() < interval_) return;
    std::fprintf(out_, "%s\n", message.c_str());
  }
  std::fflush(out_);
  last_summary_ = now;
}

void Progress::finish() {
  if (open_line_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  open_line_ = false;
}

}  // namespace lz
