// Shared by the train/ tests: scratch folders and small file writers.
#pragma once

#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <zlib.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lz::testing {

// A fresh, empty folder under the build tree, named after the test.
inline std::string scratch_dir(const std::string& name) {
  const std::filesystem::path p = std::filesystem::path(LZ_BINARY_DIR) / "tests-tmp" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline void write_gz(const std::string& path, const std::string& bytes) {
  gzFile g = gzopen(path.c_str(), "wb");
  gzwrite(g, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(g);
}

// An IDX file image: magic, big-endian dims, payload.
inline std::string idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string s;
  auto be = [&](uint32_t v) {
    for (int k = 3; k >= 0; --k) s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  };
  be(magic);
  for (uint32_t d : dims) be(d);
  s.append(data.begin(), data.end());
  return s;
}

// Files in `dir` whose name contains ".tmp" or ".plot-" (a half-written temp file, or a picture's, left behind).
inline std::vector<std::string> temp_leftovers(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (const std::string n = e.path().filename().string();
        n.find(".tmp") != std::string::npos || n.find(".plot-") != std::string::npos)  // atomic writes, gnuplot's files
      out.push_back(e.path().string());
  return out;
}

// A full disk without privileges: while alive, no file of this process (or of a program it starts)
// may grow past `bytes` (RLIMIT_FSIZE); a write beyond fails with EFBIG, "File too large" (SIGXFSZ,
// which would kill the process, is ignored meanwhile and in children started meanwhile).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit r = old_;
    r.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &r);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = SIG_DFL;
};

// A real full disk: a tmpfs of `kib` KiB mounted on `dir` (root only; ok() says whether it
// worked), unmounted on destruction. fill() writes a file until the tmpfs has no byte left.
class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& dir, int kib) : dir_(dir) {
    std::filesystem::create_directories(dir);
    ok_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + std::to_string(kib) + "k").c_str()) == 0;
  }
  ~SmallTmpfs() {
    if (ok_) ::umount(dir_.c_str());
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
  bool ok() const { return ok_; }
  void fill() const {
    std::FILE* f = std::fopen((dir_ + "/filler").c_str(), "wb");
    if (!f) return;
    const std::string block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size() && std::fflush(f) == 0) {
    }
    std::fclose(f);
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace lz::testing
