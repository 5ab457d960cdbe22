#include "datasets/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace lz {

namespace {
std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
}  // namespace

IdxArray parse_idx(const uint8_t* bytes, size_t size, uint32_t expected_magic, const std::string& where) {
  if (size < 4)
    throw std::runtime_error(where + ": truncated IDX header: expected at least 4 bytes, found " + std::to_string(size));
  const uint32_t magic = be32(bytes);
  if (magic != expected_magic)
    throw std::runtime_error(where + ": wrong IDX magic number: expected " + hex32(expected_magic) + " (" +
                             (expected_magic == kIdxImagesMagic ? "ubyte images [N,H,W]"
                              : expected_magic == kIdxLabelsMagic ? "ubyte labels [N]"
                                                                  : "ubyte") +
                             "), found " + hex32(magic));
  const size_t rank = bytes[3];
  const size_t header = 4 + 4 * rank;
  if (size < header)
    throw std::runtime_error(where + ": truncated IDX header: rank " + std::to_string(rank) + " needs " +
                             std::to_string(header) + " bytes, found " + std::to_string(size));
  IdxArray out;
  const uint64_t payload = size - header;
  // The product of the dimensions, saturating: a header may claim more than 2^64 bytes.
  uint64_t count = 1;
  bool overflow = false, zero = false;
  std::string dims;
  for (size_t d = 0; d < rank; ++d) {
    const uint32_t n = be32(bytes + 4 + 4 * d);
    out.dims.push_back(n);
    dims.append(d ? "x" : "").append(std::to_string(n));
    if (n == 0) zero = true;
    if (__builtin_mul_overflow(count, uint64_t(n), &count)) overflow = true;
  }
  if (zero) count = 0, overflow = false;
  if (overflow || count > payload)
    throw std::runtime_error(where + ": truncated IDX data: dimensions " + dims + " need " +
                             (overflow ? "more than 2^64" : std::to_string(count)) + " bytes after the " +
                             std::to_string(header) + "-byte header, found " + std::to_string(payload));
  if (count < payload)
    throw std::runtime_error(where + ": IDX size mismatch: dimensions " + dims + " need " + std::to_string(count) +
                             " bytes after the header, found " + std::to_string(payload) + " (" +
                             std::to_string(payload - count) + " trailing bytes)");
  out.data.assign(bytes + header, bytes + size);
  return out;
}

std::vector<uint8_t> gunzip_if_needed(const std::vector<uint8_t>& bytes, const std::string& where, size_t max_out) {
  if (bytes.size() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b) return bytes;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error(where + ": zlib inflateInit2 failed");
  std::vector<uint8_t> out;
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= max_out) {
      inflateEnd(&zs);
      throw std::runtime_error(where + ": gzip data inflates past the limit of " + std::to_string(max_out) + " bytes");
    }
    const size_t chunk = std::min<size_t>(size_t(1) << 20, max_out - out.size());
    const size_t old = out.size();
    out.resize(old + chunk);
    zs.next_out = out.data() + old;
    zs.avail_out = static_cast<uInt>(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + chunk - zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      throw std::runtime_error(where + ": truncated gzip stream (ended after " + std::to_string(bytes.size()) +
                               " compressed bytes, " + std::to_string(out.size()) + " inflated)");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      throw std::runtime_error(where + ": corrupt gzip data: " + msg);
    }
  }
  inflateEnd(&zs);
  return out;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  // A folder opens as a stream and fails only when read, with the C++ library's words and no path
  // ("basic_filebuf::underflow error reading the file: Is a directory"): say it first.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(path + " is a folder, expected a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw std::runtime_error("error reading " + path + ": " + e.what());
  }
  if (f.bad()) throw std::runtime_error("error reading " + path + ": " + std::strerror(errno));
  return bytes;
}

IdxArray read_idx(const std::string& path, uint32_t expected_magic) {
  const std::vector<uint8_t> raw = read_file_bytes(path);
  if (raw.empty()) throw std::runtime_error(path + ": empty file (expected an IDX file, magic " + hex32(expected_magic) + ")");
  const bool gzip = raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
  if (!gzip && path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0)
    std::cerr << "warning: " << path << ": named .gz but not gzip-compressed; reading it as an uncompressed IDX file\n";
  const std::vector<uint8_t> bytes = gunzip_if_needed(raw, path);
  return parse_idx(bytes.data(), bytes.size(), expected_magic, path);
}

Dataset idx_dataset(const IdxArray& images, const IdxArray& labels, int64_t num_classes, const std::string& name,
                    const std::string& images_where, const std::string& labels_where) {
  if (images.dims.size() != 3)
    throw std::runtime_error(images_where + ": expected images of rank 3 [N,H,W], found rank " +
                             std::to_string(images.dims.size()));
  if (labels.dims.size() != 1)
    throw std::runtime_error(labels_where + ": expected labels of rank 1 [N], found rank " +
                             std::to_string(labels.dims.size()));
  const int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  if (labels.dims[0] != n)
    throw std::runtime_error(labels_where + ": count mismatch: " + std::to_string(labels.dims[0]) + " labels but " +
                             images_where + " has " + std::to_string(n) + " images");
  Dataset d;
  d.name = name;
  d.image_h = h;
  d.image_w = w;
  d.num_classes = num_classes;
  d.x = TensorF::empty({n, h * w});
  float* x = d.x.data();
  for (size_t i = 0; i < images.data.size(); ++i) x[i] = static_cast<float>(images.data[i]) / 255.0f;
  d.y.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    if (labels.data[i] >= num_classes)
      throw std::runtime_error(labels_where + ": label " + std::to_string(labels.data[i]) + " at index " +
                               std::to_string(i) + " is outside [0, " + std::to_string(num_classes) + ")");
    d.y[i] = labels.data[i];
  }
  return d;
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path, int64_t num_classes,
                 const std::string& name) {
  const IdxArray images = read_idx(images_path, kIdxImagesMagic);
  const IdxArray labels = read_idx(labels_path, kIdxLabelsMagic);
  return idx_dataset(images, labels, num_classes, name, images_path, labels_path);
}

Dataset load_fashion_mnist(const std::string& split, const std::string& dir) {
  std::string prefix;
  if (split == "train") prefix = "train";
  else if (split == "test") prefix = "t10k";
  else throw std::invalid_argument("load_fashion_mnist: split must be 'train' or 'test', got '" + split + "'");
  Dataset d = load_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz", dir + "/" + prefix + "-labels-idx1-ubyte.gz", 10,
                       "fashion-mnist/" + split);
  if (d.image_h != 28 || d.image_w != 28)
    throw std::runtime_error(dir + "/" + prefix + "-images-idx3-ubyte.gz: expected 28x28 images, found " +
                             std::to_string(d.image_h) + "x" + std::to_string(d.image_w));
  return d;
}

}  // namespace lz
