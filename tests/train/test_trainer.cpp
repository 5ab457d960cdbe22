// The training loop on a model small enough to reason about: what it hands the loss, and the
// non-finite stops (a loss, an optimizer moment, an evaluation), each naming the step, what went
// non-finite and the last good checkpoint, and leaving that checkpoint untouched.
#define BOOST_TEST_MODULE trainer
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "autodiff/ops.hpp"
#include "nn/safetensors.hpp"
#include "tests/helpers.hpp"
#include "tests/thrown.hpp"
#include "train/trainer.hpp"

using namespace lz;
using namespace lz::testing;
using namespace lz::test;

namespace {

// y = a·x with one parameter [1]; the loss is chosen per test.
struct Scalar : Module<float> {
  Var<float> a;
  Scalar() { a = register_parameter("a", TensorF::from({0.5f}, {1})); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_row_once_per_epoch_with_the_scheduled_weight_and_lr) {
  Scalar m;
  Adam<float> opt(m, AdamOptions{.lr = 0.1});
  Rng rng(3);
  TrainerOptions o{.epochs = 2, .batch = 4, .log_every = 2};
  o.weight_at = [](int64_t step) { return 0.25 * double(step); };
  o.lr_at = [](int64_t step) { return 0.01 * double(step); };
  Trainer<float> t(m, opt, rng, o);
  std::vector<int> seen(10, 0);
  std::vector<StepContext> ctxs;
  const TrainResult r = t.fit(10, [&](const std::vector<int64_t>& rows, const StepContext& ctx) {
    for (int64_t i : rows) ++seen[size_t(i)];
    ctxs.push_back(ctx);
    BOOST_TEST(opt.lr() == 0.01 * double(ctx.step));
    return sum(square(m.a));
  });
  for (int s : seen) BOOST_TEST(s == 2);
  BOOST_REQUIRE(ctxs.size() == 6u);  // ceil(10/4) = 3 batches per epoch
  for (size_t i = 0; i < ctxs.size(); ++i) {
    BOOST_TEST(ctxs[i].step == int64_t(i) + 1);
    BOOST_TEST(ctxs[i].epoch == int64_t(i) / 3 + 1);
    BOOST_TEST(ctxs[i].batch == int64_t(i) % 3);
    BOOST_TEST(ctxs[i].weight == 0.25 * double(i));  // weight_at(steps done before this one)
    BOOST_TEST(ctxs[i].rng == &rng);
  }
  BOOST_TEST(r.steps == 6);
  BOOST_TEST(r.epochs_done == 2);
  BOOST_TEST(r.stopped == "epochs");
}

BOOST_AUTO_TEST_CASE(a_nan_loss_stops_naming_step_batch_and_last_checkpoint) {
  const std::string dir = scratch_dir("trainer_nan_loss");
  RunDir run(dir);
  Scalar m;
  Adam<float> opt(m);
  Rng rng(1);
  Trainer<float> t(m, opt, rng, TrainerOptions{.label = "test", .epochs = 5, .batch = 2, .log_every = 1}, &run);
  const std::string msg = thrown_message([&] {
    t.fit(4, [&](const std::vector<int64_t>&, const StepContext& ctx) {
      return ctx.step == 5 ? sum(m.a * VarF(TensorF::from({NAN}, {1}))) : sum(square(m.a));
    });
  });
  // 2 batches per epoch: step 5 is batch 1 of epoch 3; the checkpoint after epoch 2 is the last good one
  BOOST_TEST(msg == "loss is nan at step 5 (batch 1); last good checkpoint: " + dir + "/checkpoint.safetensors (step 4)");
  const SafeTensors f = read_safetensors(dir + "/checkpoint.safetensors");
  BOOST_TEST(f.metadata.at("train.step") == "4");
  BOOST_TEST(!std::filesystem::exists(dir + "/summary.json"));
}

BOOST_AUTO_TEST_CASE(an_overflowing_optimizer_moment_stops_the_run_though_the_loss_is_finite) {
  // loss = 1e30·a: finite, but its gradient squared overflows Adam's exp_avg_sq to inf in float
  // while the update m / (sqrt(v) + eps) stays finite: only checking the state finds it.
  const std::string dir = scratch_dir("trainer_nan_moment");
  RunDir run(dir);
  Scalar m;
  Adam<float> opt(m);
  Rng rng(1);
  Trainer<float> t(m, opt, rng, TrainerOptions{.epochs = 3, .batch = 1, .log_every = 1}, &run);
  const std::string msg = thrown_message([&] {
    t.fit(2, [&](const std::vector<int64_t>&, const StepContext& ctx) {
      const float scale = ctx.step < 3 ? 1.f : 1e30f;
      return sum(m.a * VarF(TensorF::from({scale}, {1})));
    });
  });
  BOOST_TEST(msg == "'optim.a.exp_avg_sq' holds nan or inf after step 3; last good checkpoint: " + dir +
                        "/checkpoint.safetensors (step 2)");
  BOOST_TEST(std::isfinite(m.a.value()[0]));  // the parameter itself stayed finite
  BOOST_TEST(read_safetensors(dir + "/checkpoint.safetensors").metadata.at("train.step") == "2");
}

BOOST_AUTO_TEST_CASE(a_nan_evaluation_stops_before_its_epoch_is_checkpointed) {
  const std::string dir = scratch_dir("trainer_nan_eval");
  RunDir run(dir);
  Scalar m;
  Adam<float> opt(m);
  Rng rng(1);
  Trainer<float> t(m, opt, rng, TrainerOptions{.epochs = 3, .batch = 2, .log_every = 100}, &run);
  const std::string msg = thrown_message([&] {
    t.fit(
        4, [&](const std::vector<int64_t>&, const StepContext&) { return sum(square(m.a)); },
        [&](int64_t epoch) {
          return nlohmann::json{{"test", {{"log_px", epoch == 2 ? NAN : -1.0}}}};
        });
  });
  BOOST_TEST(msg == "the evaluation after epoch 2: 'test.log_px' is nan (a result that is not a number; nothing was "
                    "written); last good checkpoint: " + dir + "/checkpoint.safetensors");
  BOOST_TEST(read_safetensors(dir + "/checkpoint.safetensors").metadata.at("train.epochs_done") == "1");
  BOOST_TEST(read_text(dir + "/metrics.jsonl").find("null") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_summary_with_nan_is_refused_and_not_written) {
  const std::string dir = scratch_dir("trainer_nan_summary");
  RunDir run(dir);
  const std::string msg = thrown_message([&] { run.write_summary({{"log_px", {{"mean", -90.0}, {"se", INFINITY}}}}); });
  BOOST_TEST(msg == "summary: 'log_px.se' is inf (a result that is not a number; nothing was written)");
  BOOST_TEST(!std::filesystem::exists(dir + "/summary.json"));
}

BOOST_AUTO_TEST_CASE(the_time_budget_stops_with_a_checkpoint_to_continue_from) {
  const std::string dir = scratch_dir("trainer_budget");
  RunDir run(dir);
  Scalar m;
  Adam<float> opt(m);
  Rng rng(1);
  Trainer<float> t(m, opt, rng, TrainerOptions{.epochs = 1000, .batch = 1, .time_budget_seconds = 1e-9}, &run);
  const TrainResult r = t.fit(5, [&](const std::vector<int64_t>&, const StepContext&) { return sum(square(m.a)); });
  BOOST_TEST(r.stopped == "time budget");
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.steps == 1);
  BOOST_TEST(read_safetensors(dir + "/checkpoint.safetensors").metadata.at("train.pos") == "1");
}
