#define BOOST_TEST_MODULE nn_checkpoint_errors
#include <boost/test/unit_test.hpp>

// Every way a checkpoint can be wrong gives an error naming the file and the tensor, and leaves
// the objects being loaded into untouched. "Untouched" is only shown by loading into objects that
// differ from the file: each failed load here goes into a fresh model (other seed), optimizer
// (other state) and generator (other state), and every tensor of them is compared before/after.

#include <array>
#include <cstring>
#include <fstream>
#include <variant>

#include "nn/checkpoint.hpp"
#include "nn/linear.hpp"
#include "nn/mlp.hpp"
#include "peer.hpp"
#include "tests/helpers.hpp"
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

// Everything a load may change, by value.
template <typename T>
struct Snapshot {
  std::vector<std::pair<std::string, std::vector<T>>> tensors;  // parameters, then optimizer slots
  int64_t steps = -1;
  std::array<uint64_t, 4> rng = {};
  bool operator==(const Snapshot&) const = default;
};
template <typename T>
Snapshot<T> snapshot(const Module<T>& m, const Optimizer<T>* opt = nullptr, const Rng* rng = nullptr) {
  Snapshot<T> s;
  for (const auto& [n, v] : m.named_parameters()) s.tensors.emplace_back(n, v.value().to_vector());
  if (opt) {
    for (const auto& [n, t] : opt->state_tensors("optim.")) s.tensors.emplace_back(n, t.to_vector());
    s.steps = opt->steps();
  }
  if (rng) s.rng = rng->state();
  return s;
}

// No parameter of `m` equals the file's tensor of that name (where both exist with one dtype and
// shape): otherwise "unchanged after a failed load" could not tell a load from no load.
template <typename T>
bool differs_from_file(const Module<T>& m, const std::filesystem::path& path) {
  const SafeTensors st = read_safetensors(path);
  for (const auto& [n, v] : m.named_parameters()) {
    if (!st.tensors.count(n)) continue;
    const auto* t = std::get_if<Tensor<T>>(&st.tensors.at(n));
    if (t && t->shape() == v.shape() && t->to_vector() == v.value().to_vector()) return false;
  }
  return true;
}

// Runs a load that must fail; returns its message, and checks that nothing changed.
template <typename T, typename F>
std::string failed_load(F load, const Module<T>& m, const Optimizer<T>* opt = nullptr, const Rng* rng = nullptr) {
  const Snapshot<T> before = snapshot(m, opt, rng);
  const std::string msg = lz::test::thrown_message(load);
  BOOST_TEST((snapshot(m, opt, rng) == before), "the failed load changed something: " << msg);
  return msg;
}

struct Fixture {
  std::filesystem::path dir = test::temp_dir("ckpt_errors");
  std::filesystem::path path = dir / "m.safetensors";
  Rng rng{1};
  MLP<double> mlp{{3, 7, 2}, Activation::Tanh, rng};
  Rng fresh_rng{99};
  MLP<double> fresh{{3, 7, 2}, Activation::Tanh, fresh_rng};  // what the failed loads go into
  Fixture() {
    save_checkpoint(path, mlp, nullptr, &rng);
    BOOST_REQUIRE(differs_from_file(fresh, path));
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(checkpoint_errors, Fixture)

BOOST_AUTO_TEST_CASE(wrong_shape_names_tensor_and_file) {
  Rng r(2);
  MLP<double> other({3, 8, 2}, Activation::Tanh, r);
  BOOST_REQUIRE(differs_from_file(other, path));  // fc2.bias has the file's shape [2]: it must stay
  // Nothing was loaded, not even the tensors checked before or after the bad one.
  const std::string msg = failed_load([&] { load_checkpoint(path, other); }, other);
  BOOST_TEST(has(msg, path.string()), msg);
  BOOST_TEST(has(msg, "'fc1.weight'"), msg);
  BOOST_TEST(has(msg, "shape [7,3], expected [8,3]"), msg);
}

BOOST_AUTO_TEST_CASE(wrong_dtype) {
  Rng r(2);
  MLP<float> f({3, 7, 2}, Activation::Tanh, r);
  const std::string msg = failed_load([&] { load_checkpoint(path, f); }, f);
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
  Rng r2(4);
  One one_fresh(r2);
  Two two_fresh(r2);
  BOOST_REQUIRE(differs_from_file(two_fresh, p1));  // 'a.*' would load from p1 if anything did
  BOOST_REQUIRE(differs_from_file(one_fresh, p2));
  const std::string missing = failed_load([&] { load_checkpoint(p1, two_fresh); }, two_fresh);
  BOOST_TEST(has(missing, p1.string() + ": missing tensor 'b.weight'"), missing);
  const std::string unexpected = failed_load([&] { load_checkpoint(p2, one_fresh); }, one_fresh);
  BOOST_TEST(has(unexpected, p2.string() + ": unexpected tensor 'b."), unexpected);
}

BOOST_AUTO_TEST_CASE(truncated_file) {
  const std::string s = slurp(path);
  spit(path, s.substr(0, s.size() - 4));
  const std::string msg = failed_load([&] { load_checkpoint(path, fresh); }, fresh);
  BOOST_TEST(has(msg, path.string()), msg);
  BOOST_TEST(has(msg, "truncated: tensor 'fc2.bias'"), msg);  // the last tensor in the file
  spit(path, s.substr(0, 3));
  const std::string tiny = failed_load([&] { load_checkpoint(path, fresh); }, fresh);
  BOOST_TEST(has(tiny, path.string() + ": file is 3 bytes, too short"), tiny);
  spit(path, "");
  BOOST_TEST(has(failed_load([&] { load_checkpoint(path, fresh); }, fresh), "file is 0 bytes"));
}

BOOST_AUTO_TEST_CASE(bad_header) {
  std::string s = slurp(path);
  std::string corrupt = s;
  std::memset(corrupt.data(), 0xff, 8);
  spit(path, corrupt);
  const std::string len = failed_load([&] { load_checkpoint(path, fresh); }, fresh);
  BOOST_TEST(has(len, path.string() + ": corrupt header length 18446744073709551615"), len);
  std::string json = s;
  json[8] = '!';  // the header's opening brace
  spit(path, json);
  const std::string bad_json = failed_load([&] { load_checkpoint(path, fresh); }, fresh);
  BOOST_TEST(has(bad_json, path.string() + ": header is not valid JSON"), bad_json);
  spit(path, raw_file("[1,2,3] ", ""));
  BOOST_TEST(has(failed_load([&] { load_checkpoint(path, fresh); }, fresh), "not an object"));
  const std::string missing_file = failed_load([&] { load_checkpoint(dir / "nope.safetensors", fresh); }, fresh);
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
  // Loaded into: the fresh model, its Adam two steps in (so its slots are not the file's), and a
  // generator in another state than the file's.
  Adam<double> adam(fresh);
  fresh.zero_grad();
  for (auto& p : fresh.parameters()) p.grad_mut() = TensorD::uniform(p.shape(), -1, 1, fresh_rng);
  adam.step();
  adam.step();  // two steps: the file's has one
  Rng r(5);
  auto fails = [&](auto load) { return failed_load(load, fresh, &adam, &r); };

  // Saved without optimizer or with the wrong kind.
  const std::string none = fails([&] { load_checkpoint(path, fresh, &adam); });
  BOOST_TEST(has(none, path.string() + ": no 'optim.type' in the metadata; the checkpoint was saved without an optimizer"),
             none);
  SGD<double> sgd(mlp, {.lr = 0.1, .momentum = 0.9});
  save_checkpoint(path, mlp, &sgd);  // no generator
  const std::string kind = fails([&] { load_checkpoint(path, fresh, &adam); });
  BOOST_TEST(has(kind, "optimizer state is for 'sgd', loading into 'adam'"), kind);
  const std::string no_rng = fails([&] { load_checkpoint(path, fresh, nullptr, &r); });
  BOOST_TEST(has(no_rng, "no 'rng.state'"), no_rng);

  // An incomplete optimizer state: drop one slot from a real file.
  Adam<double> source(mlp);
  mlp.zero_grad();
  for (auto& p : mlp.parameters()) p.grad_mut() = TensorD::ones(p.shape());
  source.step();
  save_checkpoint(path, mlp, &source, &rng);
  SafeTensors st = read_safetensors(path);
  std::vector<std::pair<std::string, AnyTensor>> kept;
  for (const auto& n : st.order)
    if (n != "optim.fc2.weight.exp_avg_sq") kept.emplace_back(n, st.tensors.at(n));
  write_safetensors(path, kept, st.metadata);
  const std::string partial = fails([&] { load_checkpoint(path, fresh, &adam); });
  BOOST_TEST(has(partial, path.string() + ": optimizer state of 'fc2.weight' is incomplete: missing tensor "
                                          "'optim.fc2.weight.exp_avg_sq'"),
             partial);

  // A slot with the wrong shape, and a slot for no parameter.
  kept.clear();
  for (const auto& n : st.order) {
    if (n == "optim.fc1.bias.exp_avg")
      kept.emplace_back(n, TensorD::zeros({3}));
    else
      kept.emplace_back(n, st.tensors.at(n));
  }
  write_safetensors(path, kept, st.metadata);
  const std::string shape = fails([&] { load_checkpoint(path, fresh, &adam); });
  BOOST_TEST(has(shape, "optimizer tensor 'optim.fc1.bias.exp_avg' has shape [3], expected [7]"), shape);
  kept.clear();
  for (const auto& n : st.order) kept.emplace_back(n, st.tensors.at(n));
  kept.emplace_back("optim.fc9.weight.exp_avg", TensorD::zeros({1}));
  write_safetensors(path, kept, st.metadata);
  const std::string extra = fails([&] { load_checkpoint(path, fresh, &adam); });
  BOOST_TEST(has(extra, "unexpected optimizer tensor 'optim.fc9.weight.exp_avg'"), extra);

  // A corrupt generator state, in a file whose model and optimizer tensors are all good.
  auto meta = st.metadata;
  meta["rng.state"] = "1 2 three 4";
  kept.pop_back();
  write_safetensors(path, kept, meta);
  const std::string bad_rng = fails([&] { load_checkpoint(path, fresh, &adam, &r); });
  BOOST_TEST(has(bad_rng, "'rng.state' = 'three' is not a number"), bad_rng);

  // And the same file with a good generator state loads, changing all three: the checks above
  // could see a change.
  write_safetensors(path, kept, st.metadata);
  const Snapshot<double> before = snapshot(fresh, &adam, &r);
  load_checkpoint(path, fresh, &adam, &r);
  const Snapshot<double> after = snapshot(fresh, &adam, &r);
  BOOST_TEST((after.tensors != before.tensors));
  BOOST_TEST(after.steps != before.steps);
  BOOST_TEST((after.rng != before.rng));
  BOOST_TEST((after == snapshot(mlp, &source, &rng)));
}

BOOST_AUTO_TEST_SUITE_END()

// issue 39: a checkpoint written on a full disk said only "writer failed". The write's own error
// is named (past RLIMIT_FSIZE: "File too large"; on a full disk "No space left on device"), and
// the temporary file is gone.
BOOST_AUTO_TEST_CASE(a_failed_write_names_the_reason) {
  const std::string dir = lz::testing::scratch_dir("ckpt_full");
  Rng rng(3);
  MLP<float> big({64, 256, 64}, Activation::ReLU, rng);  // about 130 kB of parameters
  std::string msg;
  {
    lz::testing::FileSizeLimit limit(8 * 1024);
    try {
      save_checkpoint<float>(dir + "/c.safetensors", big);
    } catch (const std::runtime_error& e) {
      msg = e.what();
    }
  }
  BOOST_TEST(has(msg, "cannot write " + dir + "/c.safetensors: File too large"), msg);
  BOOST_TEST(!has(msg, "writer failed"), msg);
  BOOST_TEST(lz::testing::temp_leftovers(dir).empty());
  BOOST_TEST(!std::filesystem::exists(dir + "/c.safetensors"));
}
