#include "nn/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace lz {

void write_atomic_with(const std::string& path, const std::function<bool(std::FILE*)>& fill) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  bool ok = false;
  std::string why;
  // The reason a write failed is the errno it left (a full disk: "No space left on device").
  auto reason = [](const char* otherwise) { return errno != 0 ? std::string(std::strerror(errno)) : otherwise; };
  try {
    errno = 0;
    ok = fill(f);
    if (!ok) why = reason("the writer failed without an OS error");
  } catch (const std::exception& e) {
    why = e.what();
  }
  errno = 0;
  if (ok && std::fflush(f) != 0) ok = false, why = reason("write error");
  if (ok && std::ferror(f)) ok = false, why = reason("write error");
  if (std::fclose(f) != 0 && ok) ok = false, why = std::strerror(errno);
  if (!ok) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + why);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + e);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  write_atomic_with(path, [&](std::FILE* f) { return std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size(); });
}

}  // namespace lz
