#define BOOST_TEST_MODULE nn_checkpoint_errors
#include <boost/test/unit_test.hpp>

// Every way a checkpoint can be wrong gives an error naming the file and the tensor, and leaves
// the objects being loaded into untouched.

#include <cstring>
#include <fstream>

#include "nn/checkpoint.hpp"
#include "nn/linear.hpp"
#include "nn/mlp.hpp"
#include "peer.hpp"
#include "thrown.hpp"

using namespace lz;

namespace {

bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

struct One : Module<double> {
  explicit One(Rng& rng) { register_module("a", std::make_shared<Linear<double>>(3, 2, rng)); }
};
struct Two : Module<double> {
  explicit Two(Rng& rng) {
    register_module("a", std::make_shared<Linear<double>>(3, 2, rng));
    register_module("b", std::make_shared<Linear<double>>(3, 2, rng));
  }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const std::filesystem::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

// A raw file: header length, header, data.
std::string raw_file(const std::string& header, const std::string& data) {
  const uint64_t n = header.size();
  std::string s(reinterpret_cast<const char*>(&n), 8);
  return s + header + data;
}

struct Fixture {
  std::filesystem::path dir = test::temp_dir("ckpt_errors");
  std::filesystem::path path = dir / "m.safetensors";
  Rng rng{1};
  MLP<double> mlp{{3, 7, 2}, Activation::Tanh, rng};
  Fixture() { save_checkpoint(path, mlp, nullptr, &rng); }
  ~Fixture() { std::filesystem::remove_all(dir); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(checkpoint_errors, Fixture)

BOOST_AUTO_TEST_CASE(wrong_shape_names_tensor_and_file) {
  Rng r(2);
  MLP<double> other({3, 8, 2}, Activation::Tanh, r);
  const TensorD before = other.layers()[1]->weight().value().clone();
  const std::string msg = lz::test::thrown_message([&] { load_checkpoint(path, other); });
  BOOST_TEST(has(msg, path.string()), msg);
  BOOST_TEST(has(msg, "'fc1.weight'"), msg);
  BOOST_TEST(has(msg, "shape [7,3], expected [8,3]"), msg);
  // Nothing was loaded, not even the tensors checked before the bad one.
  BOOST_TEST(other.layers()[1]->weight().value().to_vector() == before.to_vector());
}

BOOST_AUTO_TEST_CASE(wrong_dtype) {
  Rng r(2);
  MLP<float> f({3, 7, 2}, Activation::Tanh, r);
  const std::string msg = lz::test::thrown_message([&] { load_checkpoint(path, f); });
  BOOST_TEST(has(msg, path.string()), msg);
  BOOST_TEST(has(msg, "'fc1.weight' has dtype F64, expected F32"), msg);
}

BOOST_AUTO_TEST_CASE(missing_and_unexpected) {
  Rng r(3);
  One one(r);
  Two two(r);
  const auto p1 = dir / "one.safetensors", p2 = dir / "two.safetensors";
  save_checkpoint(p1, one);
  save_checkpoint(p2, two);
  const std::string missing = lz::test::thrown_message([&] { load_checkpoint(p1, two); });
  BOOST_TEST(has(missing, p1.string() + ": missing tensor 'b.weight'"), missing);
  const std::string unexpected = lz::test::thrown_message([&] { load_checkpoint(p2, one); });
  BOOST_TEST(has(unexpected, p2.string() + ": unexpected tensor 'b."), unexpected);
}

BOOST_AUTO_TEST_CASE(truncated_file) {
  const std::string s = slurp(path);
  spit(path, s.substr(0, s.size() - 4));
  const std::string msg = lz::test::thrown_message([&] { load_checkpoint(path, mlp); });
  BOOST_TEST(has(msg, path.string()), msg);
  BOOST_TEST(has(msg, "truncated: tensor 'fc2.bias'"), msg);  // the last tensor in the file
  spit(path, s.substr(0, 3));
  const std::string tiny = lz::test::thrown_message([&] { load_checkpoint(path, mlp); });
  BOOST_TEST(has(tiny, path.string() + ": file is 3 bytes, too short"), tiny);
  spit(path, "");
  BOOST_TEST(has(lz::test::thrown_message([&] { load_checkpoint(path, mlp); }), "file is 0 bytes"));
}

BOOST_AUTO_TEST_CASE(bad_header) {
  std::string s = slurp(path);
  std::string corrupt = s;
  std::memset(corrupt.data(), 0xff, 8);
  spit(path, corrupt);
  const std::string len = lz::test::thrown_message([&] { load_checkpoint(path, mlp); });
  BOOST_TEST(has(len, path.string() + ": corrupt header length 18446744073709551615"), len);
  std::string json = s;
  json[8] = '!';  // the header's opening brace
  spit(path, json);
  const std::string bad_json = lz::test::thrown_message([&] { load_checkpoint(path, mlp); });
  BOOST_TEST(has(bad_json, path.string() + ": header is not valid JSON"), bad_json);
  spit(path, raw_file("[1,2,3] ", ""));
  BOOST_TEST(has(lz::test::thrown_message([&] { load_checkpoint(path, mlp); }), "not an object"));
  const std::string missing_file = lz::test::thrown_message([&] { load_checkpoint(dir / "nope.safetensors", mlp); });
  BOOST_TEST(has(missing_file, "nope.safetensors: cannot open"), missing_file);
}

BOOST_AUTO_TEST_CASE(bad_entries) {
  auto msg_for = [&](const std::string& header, const std::string& data) {
    spit(path, raw_file(header, data));
    return lz::test::thrown_message([&] { read_safetensors(path); });
  };
  const std::string f16 = msg_for(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", std::string(4, '\0'));
  BOOST_TEST(has(f16, "tensor 'w': unsupported dtype 'F16'"), f16);
  const std::string size =
      msg_for(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  BOOST_TEST(has(size, "tensor 'w': data_offsets [0,8] span 8 bytes, but F32 [3] needs 12"), size);
  const std::string overlap = msg_for(
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
      std::string(8, '\0'));
  BOOST_TEST(has(overlap, "overlaps"), overlap);
  const std::string stray = msg_for(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(8, '\0'));
  BOOST_TEST(has(stray, "4 stray bytes"), stray);
  const std::string neg = msg_for(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  BOOST_TEST(has(neg, "tensor 'w': shape [-1]"), neg);
  const std::string huge =
      msg_for(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", std::string(8, '\0'));
  BOOST_TEST(has(huge, "impossibly large"), huge);
  const std::string meta = msg_for(R"({"__metadata__":{"k":1}})", "");
  BOOST_TEST(has(meta, "__metadata__ entry 'k' is not a string"), meta);
}

BOOST_AUTO_TEST_CASE(optimizer_and_rng_state) {
  Adam<double> adam(mlp);
  // Saved without optimizer or with the wrong kind.
  const std::string none = lz::test::thrown_message([&] { load_checkpoint(path, mlp, &adam); });
  BOOST_TEST(has(none, path.string() + ": no 'optim.type' in the metadata; the checkpoint was saved without an optimizer"),
             none);
  SGD<double> sgd(mlp, {.lr = 0.1, .momentum = 0.9});
  save_checkpoint(path, mlp, &sgd);  // no generator
  const std::string kind = lz::test::thrown_message([&] { load_checkpoint(path, mlp, &adam); });
  BOOST_TEST(has(kind, "optimizer state is for 'sgd', loading into 'adam'"), kind);
  Rng r(5);
  const std::string no_rng = lz::test::thrown_message([&] { load_checkpoint(path, mlp, nullptr, &r); });
  BOOST_TEST(has(no_rng, "no 'rng.state'"), no_rng);

  // An incomplete optimizer state: drop one slot from a real file.
  mlp.zero_grad();
  for (auto& p : mlp.parameters()) p.grad_mut() = TensorD::ones(p.shape());
  adam.step();
  save_checkpoint(path, mlp, &adam, &rng);
  SafeTensors st = read_safetensors(path);
  std::vector<std::pair<std::string, AnyTensor>> kept;
  for (const auto& n : st.order)
    if (n != "optim.fc2.weight.exp_avg_sq") kept.emplace_back(n, st.tensors.at(n));
  write_safetensors(path, kept, st.metadata);
  Adam<double> fresh(mlp);
  const std::string partial = lz::test::thrown_message([&] { load_checkpoint(path, mlp, &fresh); });
  BOOST_TEST(has(partial, path.string() + ": optimizer state of 'fc2.weight' is incomplete: missing tensor "
                                          "'optim.fc2.weight.exp_avg_sq'"),
             partial);
  BOOST_TEST(fresh.steps() == 0);

  // A slot with the wrong shape, and a slot for no parameter.
  kept.clear();
  for (const auto& n : st.order) {
    if (n == "optim.fc1.bias.exp_avg")
      kept.emplace_back(n, TensorD::zeros({3}));
    else
      kept.emplace_back(n, st.tensors.at(n));
  }
  write_safetensors(path, kept, st.metadata);
  const std::string shape = lz::test::thrown_message([&] { load_checkpoint(path, mlp, &fresh); });
  BOOST_TEST(has(shape, "optimizer tensor 'optim.fc1.bias.exp_avg' has shape [3], expected [7]"), shape);
  kept.clear();
  for (const auto& n : st.order) kept.emplace_back(n, st.tensors.at(n));
  kept.emplace_back("optim.fc9.weight.exp_avg", TensorD::zeros({1}));
  write_safetensors(path, kept, st.metadata);
  const std::string extra = lz::test::thrown_message([&] { load_checkpoint(path, mlp, &fresh); });
  BOOST_TEST(has(extra, "unexpected optimizer tensor 'optim.fc9.weight.exp_avg'"), extra);

  // A corrupt generator state.
  auto meta = st.metadata;
  meta["rng.state"] = "1 2 three 4";
  kept.pop_back();
  write_safetensors(path, kept, meta);
  const std::string bad_rng = lz::test::thrown_message([&] { load_checkpoint(path, mlp, &fresh, &r); });
  BOOST_TEST(has(bad_rng, "'rng.state' = 'three' is not a number"), bad_rng);
}

BOOST_AUTO_TEST_SUITE_END()
