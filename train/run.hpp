// A run folder and atomic file writes.
//
// Every run writes into its own folder: config.json at the start, one JSON object per logged step
// in metrics.jsonl, summary.json at the end, plus checkpoints and pictures. Whole files are written
// to a temporary name in the same folder and renamed, so a crash never leaves a half-written file.
// metrics.jsonl is the exception by nature (it grows): each record is one complete line written
// with a single write and flushed, so a crash loses at most the line being written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lz {

// Write `bytes` to `path` atomically (nn/atomic_file: temp file "<path>.tmp-<pid>" in the same
// folder, then rename), on MPI rank 0 only. Throws std::runtime_error naming the path and the OS
// error; the temp file is removed on failure.
void atomic_write(const std::string& path, std::string_view bytes);
// As atomic_write, with the content produced by `fill(FILE*)` (for libraries that write to a FILE*).
// fill returns false or throws on failure.
void atomic_write_with(const std::string& path, const std::function<bool(std::FILE*)>& fill);

// Create a folder and its parents (no error if it exists); throws naming the path.
void make_dirs(const std::string& path);

// "runs/<prefix>-YYYYmmdd-HHMMSS-<pid>" in UTC (a second number is added when one process asks
// twice in the same second): two runs started at the same moment never share a folder.
std::string default_run_dir(const std::string& prefix);

// Throws std::runtime_error naming `what` and the key path ("summary: 'log_px.mean' is nan") when
// any number in `j` is NaN or infinite. JSON cannot hold them, and a result that is not a number
// must stop a run, not become a null in its summary.
void require_finite(const nlohmann::json& j, const std::string& what);

enum class RunMode {
  Create,  // a new run: the folder may exist but must not hold another run's files
  Resume,  // continue the run in this folder: it must exist (nothing changes until resume_at)
};

class RunDir {
 public:
  explicit RunDir(std::string path, RunMode mode = RunMode::Create);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::string& path() const { return path_; }
  // Whether this process writes the run's files: MPI rank 0 (always, in one process). The folder
  // writes below check it themselves; a driver asks it before drawing a picture (plot/ knows
  // nothing of ranks: who draws is the caller's decision).
  bool writer() const;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  void write_config(const nlohmann::json& config) { write_json("config.json", config); }
  // Refuses (throws, writes nothing) a summary holding NaN or inf: see require_finite.
  void write_summary(const nlohmann::json& summary);
  void write_json(const std::string& name, const nlohmann::json& j);  // atomic, pretty-printed
  // Append one record to metrics.jsonl (a line, flushed). Non-finite numbers are written as null.
  void log(const nlohmann::json& record);
  // Records in metrics.jsonl so far (counted from the file when resuming).
  int64_t records() const { return records_; }
  // Called once a resumed run's checkpoint has been validated and loaded: cuts metrics.jsonl back
  // to its first n records (what was logged after the checkpoint is logged again, so no record
  // appears twice; throws if the file holds fewer), removes leftover temporary files of a killed
  // run, and removes summary.json (it described a state that is no longer the end).
  void resume_at(int64_t n);

 private:
  std::string path_;
  std::FILE* metrics_ = nullptr;
  int64_t records_ = 0;
};

// Throws std::runtime_error when `loss` is NaN or infinite:
// "loss is nan at step 1234 (batch 17); last good checkpoint: runs/x/ckpt-1000.safetensors"
// (or "...; no checkpoint saved yet" when last_checkpoint is empty).
void check_finite(double loss, int64_t step, int64_t batch, const std::string& last_checkpoint);

}  // namespace lz
