// Where a step's time goes, for the bench binaries: `steps` steps run under the profiler
// (tensor/profile.hpp), separately from the timed runs so that its cost never enters a speed
// figure, and one line per category:
//   ours share threads=<t> category=<name> fraction=<f> ms_per_step=<m>
// then `ours profiled threads=<t> step_ms=<m>` (the profiled step, slower than the timed one by
// the profiler's own cost). The bench scripts turn these into INFO <bench>_time_share_* lines.
#pragma once

#include <cstdio>

#include "tensor/profile.hpp"

namespace lz::bench {

template <typename Step>
void print_time_shares(int threads, int steps, Step step) {
  profile::reset();
  profile::enable(true);
  for (int i = 0; i < steps; ++i) step();
  const profile::Totals t = profile::totals();
  profile::enable(false);
  const double total = t.total();
  for (int c = 0; c < profile::kCats; ++c)
    std::printf("ours share threads=%d category=%s fraction=%.3f ms_per_step=%.4f\n", threads,
                profile::name(static_cast<profile::Cat>(c)), t.seconds[c] / total, 1e3 * t.seconds[c] / steps);
  std::printf("ours profiled threads=%d step_ms=%.4f\n", threads, 1e3 * total / steps);
  std::fflush(stdout);
}

}  // namespace lz::bench
