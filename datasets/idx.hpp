// IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or raw, read through zlib.
//
// An IDX file: 2 zero bytes, a type byte (0x08 = unsigned byte), a rank byte, one big-endian
// uint32 per dimension, then the data. Images are magic 0x00000803 ([N,H,W]), labels 0x00000801 ([N]).
// Every check names the file and what was expected against what was found.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace lz {

constexpr uint32_t kIdxImagesMagic = 0x00000803;
constexpr uint32_t kIdxLabelsMagic = 0x00000801;

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, product(dims) bytes
};

// In-memory entry point (also the fuzz target's): parse IDX bytes, already decompressed.
// `where` names the source in messages. Throws std::runtime_error.
IdxArray parse_idx(const uint8_t* bytes, size_t size, uint32_t expected_magic, const std::string& where);

// If `bytes` start with the gzip magic, inflate them (at most `max_out` bytes out); else return a copy.
std::vector<uint8_t> gunzip_if_needed(const std::vector<uint8_t>& bytes, const std::string& where,
                                      size_t max_out = size_t(1) << 31);

// Read a whole file (throws "cannot open <path>: <reason>").
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Read and parse one IDX file (.gz or raw).
IdxArray read_idx(const std::string& path, uint32_t expected_magic);

// Images [N,H,W] scaled to [0,1] as x:[N,H*W] with labels [N] in [0, num_classes).
// Throws when the counts differ or a label is out of range, naming both files.
Dataset idx_dataset(const IdxArray& images, const IdxArray& labels, int64_t num_classes, const std::string& name,
                    const std::string& images_where, const std::string& labels_where);
Dataset load_idx(const std::string& images_path, const std::string& labels_path, int64_t num_classes,
                 const std::string& name);

// Fashion-MNIST from Debian's dataset-fashion-mnist: split "train" (60,000) or "test" (10,000).
inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
Dataset load_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir);

}  // namespace lz
