// The safetensors file layout, read and written without the Rust library:
//   8 bytes   N, little-endian u64: the header's length
//   N bytes   JSON {name: {"dtype": "F32"|"F64", "shape": [...], "data_offsets": [begin, end]},
//                   "__metadata__": {string: string}}, padded with spaces to a multiple of 8
//   rest      raw little-endian tensor data; offsets count from the end of the header
// so a checkpoint opens with `safetensors.numpy.load_file` or numpy alone (json + frombuffer).
// Reading validates everything a corrupt or hostile file could get wrong (lengths, offsets
// overlapping or running past the end, shapes whose byte size overflows) and names the file.
#pragma once

#include <bit>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "nn/atomic_file.hpp"  // write_file_atomic, for the files written beside a checkpoint
#include "tensor/tensor.hpp"

namespace lz {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so must the host be");

using AnyTensor = std::variant<Tensor<float>, Tensor<double>>;

struct SafeTensors {
  std::map<std::string, AnyTensor> tensors;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> order;  // tensor names in the order of their data in the file
};

// "F32" or "F64".
const char* dtype_name(const AnyTensor& t);
Shape any_shape(const AnyTensor& t);

// Write the tensors (in the given order) and metadata; the file appears whole or not at all.
void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, AnyTensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// Parse a whole file; throws std::runtime_error naming the file (and the tensor) on any defect.
SafeTensors read_safetensors(const std::filesystem::path& path);
// Parse an in-memory image; `where` names it in errors (the fuzz target's entry point).
SafeTensors parse_safetensors(const std::string& bytes, const std::string& where);

}  // namespace lz
