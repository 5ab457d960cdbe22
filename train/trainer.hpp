// The one training loop every gradient-trained driver uses.
//
//   for epoch in epochs_done+1 .. epochs:
//     for each minibatch of this epoch's shuffled order:
//       loss = loss_fn(rows, ctx)            the model's objective, weighted by ctx.weight (KL warm-up)
//       stop if loss is not finite           naming the step, the batch and the last good checkpoint
//       zero_grad; backward; clip; lr = schedule(step); optimizer step
//       every log_every steps: check parameters and optimizer state, one metrics.jsonl record
//       on SIGINT/SIGTERM or an exhausted time budget: checkpoint, then stop
//     eval_fn(epoch) -> held-out metrics (checked finite), one record; checkpoint
//
// A checkpoint is one safetensors file (run/checkpoint.safetensors, written to a temporary name
// and renamed): the parameters, the optimizer's state, the generator's state, and in its metadata
// the counters ("train.*": step, epochs done, position in the epoch, the generator's state when
// the epoch's order was drawn, the running sums of the logged means, the number of metrics
// records) and the run's config. Resuming restores all of it, cuts metrics.jsonl back to the
// records written before the checkpoint and redraws the epoch's order from the saved state, so a
// run killed at any moment (even by SIGKILL) and resumed ends bit for bit where the uninterrupted
// run ends.
//
// Under MPI (mpirun -np N <driver>, train/distributed.hpp) the same loop is data-parallel: every
// rank holds the whole model (rank 0's parameters and generator, broadcast when fit starts) and
// draws the same epoch order from the same generator; each step, rank r computes the loss of its
// contiguous share rows[B·r/N, B·(r+1)/N) of the global batch, scales its gradient by its share
// of the batch (n_r/B: the loss is a mean over rows, so Σ_r (n_r/B)·∇loss_r is the gradient of the
// whole batch's mean, also for uneven shares) and one MPI_Allreduce sums the flat gradient buffer
// (nn/module.hpp); a second, of four doubles, sums the logged loss and the stop flags (a signal on
// any rank, the time budget) so every rank stops at the same step. Every rank then takes the same
// clipping and optimizer step, so the parameters stay identical without further traffic. Rank 0
// alone writes checkpoints and metrics; a checkpoint holds nothing rank-specific, so a run resumes
// on any number of ranks. Random noise in a loss must come from StepContext's per-example
// generators (train/noise.hpp), never from ctx.rng, so that the result does not depend on the
// number of ranks (checked: under MPI a loss that draws from ctx.rng is an error).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "tensor/rng.hpp"
#include "train/run.hpp"

namespace lz {

// What the loss function gets at each step.
struct StepContext {
  int64_t step = 0;    // the step being taken, counting from 1 over the whole run
  int64_t epoch = 0;   // from 1
  int64_t batch = 0;   // position in the epoch, from 0
  double weight = 1;   // the loss-weight schedule at this step (β of KL warm-up), 1 without one
  Rng* rng = nullptr;  // the run's generator: its state is in every checkpoint (not for noise in a loss)
  // Per-example noise (train/noise.hpp): a key per step, the position of rows[0] in the global
  // batch (rank r's share starts there) and the global batch size. The key is a hash of the
  // generator state the epoch's order was drawn from and the batch's position in the epoch: the
  // same on every rank, restored by a checkpoint, and it draws nothing from the run's generator,
  // so a driver without per-example noise (flow, mdn, classify) trains exactly as it did before.
  uint64_t noise_key = 0;
  int64_t first = 0;
  int64_t global_batch = 0;
};

struct TrainerOptions {
  std::string label = "train";  // progress prefix, and the driver named in the resume hint
  int64_t epochs = 10;
  int64_t batch = 64;
  int64_t log_every = 100;         // steps per metrics.jsonl record (the mean loss over them)
  int64_t checkpoint_every = 0;    // steps between checkpoints inside an epoch (0: at epoch ends only)
  double time_budget_seconds = 0;  // stop (with a checkpoint) once training has taken this long; 0: none
  double clip_norm = 0;            // clip the gradients' global 2-norm to this (0: no clipping)
  std::function<double(int64_t step)> lr_at = {};      // learning rate for a step; empty: the optimizer's own
  std::function<double(int64_t step)> weight_at = {};  // loss weight for a step (kl_weight); empty: 1
};

struct TrainResult {
  int64_t steps = 0;        // steps done over the whole run
  int64_t epochs_done = 0;  // complete epochs
  double train_seconds = 0; // wall-clock time spent training, over every resumed part
  double last_epoch_loss = 0;
  nlohmann::json last_eval;  // the last epoch's evaluation (null when none ran)
  std::string stopped;       // "epochs", "time budget", "SIGINT", "SIGTERM"
  int exit_code = 0;         // non-zero when a signal stopped the run (128 + signal)
  bool interrupted() const { return exit_code != 0; }
};

template <typename T>
class Trainer {
 public:
  using LossFn = std::function<Var<T>(const std::vector<int64_t>& rows, const StepContext& ctx)>;
  using EvalFn = std::function<nlohmann::json(int64_t epoch)>;

  // `run` may be null (no metrics, no checkpoints: benchmarks). `config` is the run's config,
  // stored in every checkpoint.
  Trainer(Module<T>& model, Optimizer<T>& opt, Rng& rng, TrainerOptions options, RunDir* run = nullptr,
          nlohmann::json config = nlohmann::json::object());

  // Restore a checkpoint written by save() (validated before anything changes: counters in range,
  // learning rate finite and positive, the same number of batches per epoch). Throws naming the
  // file and the value. Then prepares the run folder (RunDir::resume_at).
  void resume(const std::string& checkpoint, int64_t train_size);

  // Train on rows 0..train_size-1 until options.epochs are done, the time budget is spent or a
  // signal arrives. Throws std::runtime_error when a loss, a parameter, an optimizer moment or an
  // evaluation is not finite.
  TrainResult fit(int64_t train_size, const LossFn& loss_fn, const EvalFn& eval_fn = {});

  // One optimizer step on `rows` (what fit does per batch, without the bookkeeping); returns the
  // loss (of the whole batch, over every rank). Exposed for benchmarks, which time exactly this.
  double step(const std::vector<int64_t>& rows, const LossFn& loss_fn, const StepContext& ctx);

  // Write the checkpoint now (atomically) to `path` (default: run/checkpoint.safetensors).
  void save(const std::string& path = "");
  std::string checkpoint_path() const;
  int64_t steps_done() const { return step_; }
  double train_seconds() const;  // over every resumed part
  double allreduce_seconds() const { return allreduce_seconds_; }  // in this process, since construction

 private:
  void check_state(const std::string& when) const;
  nlohmann::json eval_record(int64_t epoch, const EvalFn& eval_fn);

  Module<T>& model_;
  Optimizer<T>& opt_;
  Rng& rng_;
  TrainerOptions o_;
  RunDir* run_;
  nlohmann::json config_;
  // The counters a checkpoint holds.
  int64_t step_ = 0, epochs_done_ = 0, pos_ = 0, per_epoch_ = 0;
  std::array<uint64_t, 4> rng_epoch_{};  // the generator's state before this epoch's order was drawn
  double window_sum_ = 0, epoch_sum_ = 0;
  int64_t window_n_ = 0, epoch_n_ = 0;
  double seconds_before_ = 0;  // training time of earlier (resumed) parts
  std::chrono::steady_clock::time_point t0_;
  bool timing_ = false;  // inside fit: the time since t0_ counts too
  nlohmann::json last_eval_;
  // Under MPI: the stop flags of the last step, summed over every rank (the same on all).
  int stop_signal_ = 0;
  bool stop_time_ = false;
  double allreduce_seconds_ = 0;  // time spent in the gradient all-reduce (bench/mpi.sh)
  std::string last_checkpoint_;
  int64_t last_checkpoint_step_ = -1;
};

// The checkpoint a --resume argument names: the file itself, or RUN_DIR/checkpoint.safetensors.
// Throws naming the path when neither exists.
std::string resolve_checkpoint(const std::string& resume);

}  // namespace lz
