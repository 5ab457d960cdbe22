// Whole files written atomically: to a temporary name in the same folder ("<path>.tmp-<pid>"),
// then renamed over the path, so a crash never leaves a half-written file. The one place this is
// written: checkpoints (nn/safetensors, nn/checkpoint) and the run folder's files and pictures
// (train/run, which also keeps the other MPI ranks from writing) all call it.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace lz {

// The content comes from `fill(FILE*)` (for libraries that write to a FILE*, such as libpng);
// fill returns false or throws on failure. Throws std::runtime_error naming the path and the OS
// error (the errno a failed write left: "No space left on device"); the temporary file is removed
// on failure.
void write_atomic_with(const std::string& path, const std::function<bool(std::FILE*)>& fill);
// The same for a byte string.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace lz
