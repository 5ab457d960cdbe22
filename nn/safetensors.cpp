#include "nn/safetensors.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace lz {

namespace {

// The Rust library's bound: a header longer than this is a corrupt length, not a real header.
constexpr uint64_t kMaxHeader = 100'000'000;

std::runtime_error bad(const std::string& where, const std::string& what) { return std::runtime_error(where + ": " + what); }

}  // namespace

const char* dtype_name(const AnyTensor& t) { return std::holds_alternative<Tensor<float>>(t) ? "F32" : "F64"; }

Shape any_shape(const AnyTensor& t) {
  return std::visit([](const auto& x) { return x.shape(); }, t);
}

void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, AnyTensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || header.contains(name))
      throw std::invalid_argument(path.string() + ": tensor name '" + name + "' is reserved or repeated");
    const uint64_t bytes = std::visit([](const auto& x) { return static_cast<uint64_t>(x.numel()) * sizeof(x[0]); }, t);
    header[name] = {{"dtype", dtype_name(t)}, {"shape", any_shape(t)}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::string out;
  out.reserve(8 + h.size() + offset);
  const uint64_t n = h.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += h;
  for (const auto& [name, t] : tensors)
    std::visit([&out](const auto& x) {
      out.append(reinterpret_cast<const char*>(x.data()), static_cast<size_t>(x.numel()) * sizeof(x[0]));
    }, t);
  write_file_atomic(path.string(), out);
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& where) {
  if (bytes.size() < 8)
    throw bad(where, "file is " + std::to_string(bytes.size()) +
                         " bytes, too short for a safetensors file (8-byte header length first)");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const uint64_t avail = bytes.size() - 8;
  if (n > kMaxHeader || n > avail)
    throw bad(where, "corrupt header length " + std::to_string(n) + " (the file has " + std::to_string(avail) +
                         " bytes after the length field); not a safetensors file or truncated");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception& e) {
    throw bad(where, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw bad(where, "header is JSON but not an object of tensors");
  const uint64_t data_size = avail - n;
  const char* data = bytes.data() + 8 + n;

  SafeTensors out;
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> spans;
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") {
      if (!e.is_object()) throw bad(where, "__metadata__ must be an object of strings");
      for (const auto& [k, v] : e.items()) {
        if (!v.is_string()) throw bad(where, "__metadata__ entry '" + k + "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string t = "tensor '" + name + "'";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw bad(where, t + ": expected an object with dtype, shape and data_offsets");
    const auto& dt = e["dtype"];
    if (!dt.is_string()) throw bad(where, t + ": dtype is not a string");
    const std::string dtype = dt.get<std::string>();
    if (dtype != "F32" && dtype != "F64")
      throw bad(where, t + ": unsupported dtype '" + dtype + "' (latentzoo reads F32 and F64)");
    const uint64_t esize = dtype == "F32" ? 4 : 8;
    const auto& sh = e["shape"];
    if (!sh.is_array()) throw bad(where, t + ": shape is not an array");
    Shape shape;
    uint64_t numel = 1;
    for (const auto& d : sh) {
      if (!d.is_number_unsigned()) throw bad(where, t + ": shape " + sh.dump() + " has a non-integer or negative entry");
      const uint64_t v = d.get<uint64_t>();
      if (v > (uint64_t(1) << 40) || (v && numel > (uint64_t(1) << 40) / v))
        throw bad(where, t + ": shape " + sh.dump() + " is impossibly large");
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad(where, t + ": data_offsets must be [begin, end] with non-negative integers, found " + off.dump());
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en) throw bad(where, t + ": data_offsets " + off.dump() + " end before they begin");
    if (en - b != numel * esize)
      throw bad(where, t + ": data_offsets " + off.dump() + " span " + std::to_string(en - b) + " bytes, but " +
                           dtype + " " + shape_str(shape) + " needs " + std::to_string(numel * esize));
    if (en > data_size)
      throw bad(where, "truncated: " + t + " ends at byte " + std::to_string(en) + " of the data section, which has " +
                           std::to_string(data_size) + " bytes");
    if (esize == 4) {
      Tensor<float> x = Tensor<float>::empty(shape);
      std::memcpy(x.data(), data + b, en - b);
      out.tensors.emplace(name, std::move(x));
    } else {
      Tensor<double> x = Tensor<double>::empty(shape);
      std::memcpy(x.data(), data + b, en - b);
      out.tensors.emplace(name, std::move(x));
    }
    spans.emplace_back(b, en, name);
  }
  // The data section must be exactly the tensors, back to back (safetensors' own rule).
  std::sort(spans.begin(), spans.end());
  uint64_t pos = 0;
  for (const auto& [b, en, name] : spans) {
    if (b != pos)
      throw bad(where, "tensor '" + name + "' starts at byte " + std::to_string(b) + " of the data section, expected " +
                           std::to_string(pos) + (b < pos ? " (overlaps the previous tensor)" : " (a gap)"));
    pos = en;
    out.order.push_back(name);
  }
  if (pos != data_size)
    throw bad(where, std::to_string(data_size - pos) + " stray bytes after the last tensor (the data section has " +
                         std::to_string(data_size) + " bytes, the tensors " + std::to_string(pos) + ")");
  return out;
}

SafeTensors read_safetensors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open (does the file exist?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  return parse_safetensors(ss.str(), path.string());
}

}  // namespace lz
