// Will a network fit in memory? Checked before anything is allocated, so that a size the flags
// allow but the machine cannot hold (`mdn --hidden 65536,65536`: 16 GB resident after 40 s, then
// the kernel's OOM killer) is refused at once, naming the flag, the estimate and what is available.
//
// The estimate, for float training with Adam: every parameter four times (itself, its gradient,
// Adam's two moments), every activation three times (the output, the pre-activation the backward
// pass keeps, its gradient) for a batch's rows, and twice the widest layer for the largest number
// of rows evaluated at once without a graph (a test set or a picture's grid in one pass). What is available is the least
// of MemAvailable (/proc/meminfo), the cgroup's limit minus its usage (v2 memory.max, v1
// memory.limit_in_bytes), and the address-space limit (ulimit -v).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lz {

// Parameters and activations per row of an MLP with these widths (input, hidden..., output).
struct NetworkSize {
  int64_t parameters = 0;           // weights and biases
  int64_t activations_per_row = 0;  // the widths after the input, summed
  int64_t widest = 0;               // the widest layer's output
  NetworkSize& operator+=(const NetworkSize& o);
};
NetworkSize mlp_size(const std::vector<int64_t>& widths);
// The same for in -> hidden... -> out.
NetworkSize mlp_size(int64_t in, const std::vector<int64_t>& hidden, int64_t out);

// Bytes the estimate above comes to for `net` trained with `rows` rows at once, and evaluated
// without a graph on `eval_rows` rows at once (only a layer's input and output alive), in floats.
double training_bytes(const NetworkSize& net, int64_t rows, int64_t eval_rows = 0);

struct AvailableMemory {
  double bytes = 0;
  std::string source;  // "MemAvailable in /proc/meminfo", "the cgroup's limit ...", "ulimit -v"
};
// What this process may still allocate; none when nothing could be read.
std::optional<AvailableMemory> available_memory();

// Throws lz::FlagError (exit 2) when training_bytes(net, rows, eval_rows) exceeds `available` (default:
// available_memory(); nothing is checked when that is unknown): "--hidden 65536,65536: the
// networks need about 68.7 GB (...), more than the 21.2 GB available (MemAvailable in /proc/meminfo)".
void check_fits_in_memory(const std::string& flag, const std::string& value, const NetworkSize& net, int64_t rows,
                          int64_t eval_rows = 0, std::optional<AvailableMemory> available = available_memory());

// "68.7 GB", "512 MB": bytes in decimal units, three significant figures.
std::string human_bytes(double bytes);

}  // namespace lz
