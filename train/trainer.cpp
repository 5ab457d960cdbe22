#include "train/trainer.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "autodiff/var.hpp"
#include "datasets/batch.hpp"
#include "nn/checkpoint.hpp"
#include "nn/safetensors.hpp"
#include "train/distributed.hpp"
#include "train/progress.hpp"
#include "train/stop_signal.hpp"

namespace lz {

namespace fs = std::filesystem;

namespace {

// ---- counters in checkpoint metadata: decimal integers, and doubles in their shortest exact form.
std::string exact(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string rng_words(const std::array<uint64_t, 4>& s) {
  return std::to_string(s[0]) + " " + std::to_string(s[1]) + " " + std::to_string(s[2]) + " " + std::to_string(s[3]);
}

struct Meta {
  const std::map<std::string, std::string>& m;
  const std::string& where;

  const std::string& text(const std::string& key) const {
    auto it = m.find(key);
    if (it == m.end())
      throw std::runtime_error(where + ": no '" + key + "' in the metadata (not a checkpoint written by the trainer)");
    return it->second;
  }
  template <typename N>
  N number(const std::string& key, N lo, N hi) const {
    const std::string& s = text(key);
    N v{};
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !(v >= lo && v <= hi))
      throw std::runtime_error(where + ": metadata '" + key + "' = '" + s + "' is not a number in [" + exact(double(lo)) +
                               ", " + exact(double(hi)) + "]");
    return v;
  }
  std::array<uint64_t, 4> rng(const std::string& key) const {
    std::istringstream is(text(key));
    std::array<uint64_t, 4> s{};
    for (auto& w : s)
      if (!(is >> w)) throw std::runtime_error(where + ": metadata '" + key + "' is not four integers");
    return s;
  }
};

// The per-step noise key (StepContext::noise_key): splitmix64 over the epoch's generator state
// and the batch's position in the epoch.
uint64_t noise_key(const std::array<uint64_t, 4>& epoch_state, int64_t batch) {
  uint64_t h = Rng::mix64(static_cast<uint64_t>(batch));
  for (uint64_t w : epoch_state) h = Rng::mix64(h ^ w);
  return h;
}

}  // namespace

std::string resolve_checkpoint(const std::string& resume) {
  const fs::path p = fs::is_directory(resume) ? fs::path(resume) / "checkpoint.safetensors" : fs::path(resume);
  if (!fs::is_regular_file(p))
    throw std::runtime_error("--resume " + resume + ": " + p.string() + " does not exist" +
                             (fs::is_directory(resume) ? " (the run stopped before its first checkpoint; start it again)"
                                                       : ""));
  return p.string();
}

template <typename T>
Trainer<T>::Trainer(Module<T>& model, Optimizer<T>& opt, Rng& rng, TrainerOptions options, RunDir* run,
                    nlohmann::json config)
    : model_(model), opt_(opt), rng_(rng), o_(std::move(options)), run_(run), config_(std::move(config)) {
  if (o_.epochs < 1 || o_.batch < 1 || o_.log_every < 1 || o_.checkpoint_every < 0)
    throw std::invalid_argument("Trainer: epochs, batch and log_every must be >= 1, checkpoint_every >= 0");
  if (!(o_.time_budget_seconds >= 0) || !(o_.clip_norm >= 0))
    throw std::invalid_argument("Trainer: time budget and clip norm must be >= 0");
}

template <typename T>
double Trainer<T>::train_seconds() const {
  return seconds_before_ + (timing_ ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count() : 0.0);
}

template <typename T>
std::string Trainer<T>::checkpoint_path() const {
  return run_ ? run_->file("checkpoint.safetensors") : "";
}

template <typename T>
void Trainer<T>::check_state(const std::string& when) const {
  const std::string bad = opt_.first_non_finite();
  if (bad.empty()) return;
  throw std::runtime_error("'" + bad + "' holds nan or inf " + when + "; " +
                           (last_checkpoint_.empty() ? std::string("no checkpoint saved yet")
                                                     : "last good checkpoint: " + last_checkpoint_ + " (step " +
                                                           std::to_string(last_checkpoint_step_) + ")"));
}

template <typename T>
void Trainer<T>::save(const std::string& path_in) {
  const std::string path = path_in.empty() ? checkpoint_path() : path_in;
  if (path.empty()) return;
  check_state("at step " + std::to_string(step_) + ", so no checkpoint was written");
  const std::map<std::string, std::string> meta{
      {"train.driver", o_.label},
      {"train.step", std::to_string(step_)},
      {"train.epochs_done", std::to_string(epochs_done_)},
      {"train.pos", std::to_string(pos_)},
      {"train.per_epoch", std::to_string(per_epoch_)},
      {"train.rng_epoch", rng_words(rng_epoch_)},
      {"train.window_sum", exact(window_sum_)},
      {"train.window_n", std::to_string(window_n_)},
      {"train.epoch_sum", exact(epoch_sum_)},
      {"train.epoch_n", std::to_string(epoch_n_)},
      {"train.records", std::to_string(run_ ? run_->records() : 0)},
      {"train.seconds", exact(train_seconds())},
      {"train.last_eval", last_eval_.dump()},
      {"config", config_.dump()}};
  if (dist::is_root()) save_checkpoint<T>(path, model_, &opt_, &rng_, nullptr, meta);  // the others hold the same
  last_checkpoint_ = path;
  last_checkpoint_step_ = step_;
}

template <typename T>
void Trainer<T>::resume(const std::string& path, int64_t train_size) {
  // Everything is read and checked first; only then do the model, optimizer and generator change.
  const SafeTensors file = read_safetensors(path);
  const Meta m{file.metadata, path};
  const std::string driver = m.text("train.driver");
  if (driver != o_.label)
    throw std::runtime_error(path + " was written by '" + driver + "', not by '" + o_.label + "'");
  constexpr int64_t big = int64_t(1) << 62;
  const int64_t per_epoch = batches_per_epoch(train_size, o_.batch);
  const int64_t step = m.number<int64_t>("train.step", 0, big);
  const int64_t epochs_done = m.number<int64_t>("train.epochs_done", 0, big);
  const int64_t saved_per_epoch = m.number<int64_t>("train.per_epoch", 1, big);
  if (saved_per_epoch != per_epoch)
    throw std::runtime_error(path + ": written with " + std::to_string(saved_per_epoch) + " batches per epoch; this run has " +
                             std::to_string(per_epoch) + " (the batch size or the training set changed)");
  const int64_t pos = m.number<int64_t>("train.pos", 0, per_epoch - 1);
  if (step != epochs_done * per_epoch + pos)
    throw std::runtime_error(path + ": counters disagree: step " + std::to_string(step) + " is not " +
                             std::to_string(epochs_done) + " epochs of " + std::to_string(per_epoch) + " batches + " +
                             std::to_string(pos));
  if (epochs_done > o_.epochs || (epochs_done == o_.epochs && pos > 0))
    throw std::runtime_error(path + " has done " + std::to_string(epochs_done) + " epochs; --epochs " +
                             std::to_string(o_.epochs) + " is fewer");
  const double lr = m.number<double>("optim.lr", 0.0, 1e6);
  if (!(lr > 0)) throw std::runtime_error(path + ": metadata 'optim.lr' = " + exact(lr) + " is not a positive learning rate");
  const auto rng_epoch = m.rng("train.rng_epoch");
  const double window_sum = m.number<double>("train.window_sum", -1e300, 1e300);
  const int64_t window_n = m.number<int64_t>("train.window_n", 0, o_.log_every);
  const double epoch_sum = m.number<double>("train.epoch_sum", -1e300, 1e300);
  const int64_t epoch_n = m.number<int64_t>("train.epoch_n", 0, per_epoch);
  const int64_t records = m.number<int64_t>("train.records", 0, big);
  const double seconds = m.number<double>("train.seconds", 0.0, 1e12);
  nlohmann::json last_eval;
  try {
    last_eval = nlohmann::json::parse(m.text("train.last_eval"));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": metadata 'train.last_eval' is not JSON: " + e.what());
  }

  load_checkpoint<T>(path, model_, &opt_, &rng_);  // validates tensors and shapes before changing anything
  if (run_) run_->resume_at(records);
  step_ = step, epochs_done_ = epochs_done, pos_ = pos, per_epoch_ = per_epoch, rng_epoch_ = rng_epoch;
  window_sum_ = window_sum, window_n_ = window_n, epoch_sum_ = epoch_sum, epoch_n_ = epoch_n;
  seconds_before_ = seconds;
  last_eval_ = std::move(last_eval);
  last_checkpoint_ = path;
  last_checkpoint_step_ = step;
}

template <typename T>
double Trainer<T>::step(const std::vector<int64_t>& rows, const LossFn& loss_fn, const StepContext& ctx_in) {
  if (o_.lr_at) opt_.set_lr(o_.lr_at(ctx_in.step));
  StepContext ctx = ctx_in;
  ctx.noise_key = noise_key(rng_epoch_, ctx.batch);  // the same on every rank: noise follows the example
  ctx.global_batch = static_cast<int64_t>(rows.size());
  const std::string last_good =
      last_checkpoint_.empty() ? "" : last_checkpoint_ + " (step " + std::to_string(last_checkpoint_step_) + ")";
  const int ranks = dist::size();
  double value = 0;
  if (ranks == 1) {
    const Var<T> loss = loss_fn(rows, ctx);
    value = static_cast<double>(loss.item());
    check_finite(value, ctx.step, ctx.batch + 1, last_good);
    opt_.zero_grad();
    loss.backward();
  } else {
    // This rank's contiguous share of the global batch (see the header).
    const int64_t B = ctx.global_batch, r = dist::rank();
    const int64_t lo = B * r / ranks, hi = B * (r + 1) / ranks;
    const std::vector<int64_t> mine(rows.begin() + lo, rows.begin() + hi);
    ctx.first = lo;
    const auto rng_before = rng_.state();
    opt_.zero_grad();
    double local = 0;
    if (!mine.empty()) {  // a batch smaller than the rank count leaves some ranks idle: they add zeros
      const Var<T> loss = loss_fn(mine, ctx);
      local = static_cast<double>(loss.item());
      check_finite(local, ctx.step, ctx.batch + 1, last_good);
      loss.backward();
    }
    if (rng_.state() != rng_before)
      throw std::runtime_error(o_.label + ": the loss function drew from the run's generator (StepContext::rng); "
                               "under MPI the ranks' generators would drift apart and the result would depend on the "
                               "number of ranks: draw a loss's noise per example (train/noise.hpp)");
    const double share = static_cast<double>(mine.size()) / static_cast<double>(B);
    Tensor<T> g = model_.flat_gradients();
    T* gd = g.data();
    const T s = static_cast<T>(share);
    for (int64_t i = 0; i < g.numel(); ++i) gd[i] *= s;
    const auto t0 = std::chrono::steady_clock::now();
    dist::allreduce_sum(gd, g.numel());
    allreduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool out_of_time = timing_ && o_.time_budget_seconds > 0 && train_seconds() >= o_.time_budget_seconds;
    double sums[4] = {share * local, stop_signal() == SIGINT ? 1.0 : 0.0, stop_signal() == SIGTERM ? 1.0 : 0.0,
                      out_of_time ? 1.0 : 0.0};
    dist::allreduce_sum(sums, 4);
    value = sums[0];
    stop_signal_ = sums[1] > 0 ? SIGINT : sums[2] > 0 ? SIGTERM : 0;
    stop_time_ = sums[3] > 0;
  }
  if (o_.clip_norm > 0) {
    const double norm = static_cast<double>(clip_grad_norm(opt_.params(), o_.clip_norm));
    if (!std::isfinite(norm))
      throw std::runtime_error("gradient norm is " + exact(norm) + " at step " + std::to_string(ctx.step) +
                               " (batch " + std::to_string(ctx.batch + 1) + "); last good checkpoint: " +
                               (last_checkpoint_.empty() ? "none yet" : last_checkpoint_));
  }
  opt_.step();
  return value;
}

template <typename T>
nlohmann::json Trainer<T>::eval_record(int64_t epoch, const EvalFn& eval_fn) {
  nlohmann::json rec = {{"step", step_}, {"epoch", epoch}, {"train_loss", epoch_sum_ / double(std::max<int64_t>(1, epoch_n_))}};
  if (eval_fn) {
    const nlohmann::json ev = eval_fn(epoch);
    try {
      require_finite(ev, "the evaluation after epoch " + std::to_string(epoch));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string(e.what()) + "; last good checkpoint: " +
                               (last_checkpoint_.empty() ? "none yet" : last_checkpoint_));
    }
    for (const auto& [k, v] : ev.items()) rec[k] = v;
  }
  return rec;
}

template <typename T>
TrainResult Trainer<T>::fit(int64_t train_size, const LossFn& loss_fn, const EvalFn& eval_fn) {
  if (train_size < 1) throw std::invalid_argument("Trainer::fit: empty training set");
  per_epoch_ = batches_per_epoch(train_size, o_.batch);
  StopSignalGuard signals;
  const FaultInjection fault = FaultInjection::from_env();
  const int64_t first_step = step_;
  Progress progress(o_.label, o_.epochs * per_epoch_ - step_, o_.batch);  // items/s over every rank
  if (dist::size() > 1) {
    // Every rank starts from rank 0's parameters, generator and counters (a resumed run loaded
    // them from the same file; this makes sure, and covers a driver that built its model otherwise).
    Tensor<T> p = model_.flat_parameters();
    dist::broadcast(p.data(), p.numel());
    std::array<uint64_t, 11> c{};
    const auto now = rng_.state();
    for (int i = 0; i < 4; ++i) c[i] = now[i], c[4 + i] = rng_epoch_[i];
    c[8] = uint64_t(step_), c[9] = uint64_t(epochs_done_), c[10] = uint64_t(pos_);
    dist::broadcast(c.data(), int64_t(c.size()));
    rng_.set_state({c[0], c[1], c[2], c[3]});
    rng_epoch_ = {c[4], c[5], c[6], c[7]};
    step_ = int64_t(c[8]), epochs_done_ = int64_t(c[9]), pos_ = int64_t(c[10]);
    progress.note(o_.label + ": data-parallel over " + std::to_string(dist::size()) + " ranks, batch " +
                  std::to_string(o_.batch) + " split into shares of ~" + std::to_string(o_.batch / dist::size()) +
                  "; one all-reduce of " + std::to_string(p.numel()) + " gradients per step");
  }
  t0_ = std::chrono::steady_clock::now();
  timing_ = true;
  auto seconds = [&] { return train_seconds(); };
  TrainResult r;
  r.stopped = "epochs";
  // A signal or the time budget ends the run between two steps, with a checkpoint to resume from.
  // Under MPI every rank decides from the flags its last step summed over all ranks.
  auto stop_here = [&]() -> bool {
    const bool mpi = dist::size() > 1;
    const int sig = mpi ? stop_signal_ : stop_signal();
    const bool out_of_time = mpi ? stop_time_ : o_.time_budget_seconds > 0 && seconds() >= o_.time_budget_seconds;
    if (!sig && !out_of_time) return false;
    save();
    r.stopped = sig ? stop_signal_name(sig) : "time budget";
    r.exit_code = sig ? 128 + sig : 0;
    const std::string where = "at step " + std::to_string(step_) + " (epoch " + std::to_string(epochs_done_ + 1) +
                              ", batch " + std::to_string(pos_) + " of " + std::to_string(per_epoch_) + ")";
    if (run_)
      progress.note(o_.label + ": stopped by " + r.stopped + " " + where + "; checkpoint " + checkpoint_path() +
                    "; resume with: " + o_.label + " --resume " + run_->path());
    else
      progress.note(o_.label + ": stopped by " + r.stopped + " " + where);
    return true;
  };

  bool stopped = false;
  for (int64_t epoch = epochs_done_ + 1; epoch <= o_.epochs && !stopped; ++epoch) {
    // The epoch's order is drawn from the generator; a resumed epoch redraws it from the state
    // saved before the draw, then continues the stream where the checkpoint left it.
    std::vector<std::vector<int64_t>> batches;
    if (pos_ == 0) {
      rng_epoch_ = rng_.state();
      batches = epoch_batches(train_size, o_.batch, rng_);
    } else {
      const auto now = rng_.state();
      rng_.set_state(rng_epoch_);
      batches = epoch_batches(train_size, o_.batch, rng_);
      rng_.set_state(now);
    }
    for (; pos_ < per_epoch_; ) {
      StepContext ctx{step_ + 1, epoch, pos_, o_.weight_at ? o_.weight_at(step_) : 1.0, &rng_};
      const double loss = step(batches[static_cast<size_t>(pos_)], loss_fn, ctx);
      ++step_, ++pos_;
      window_sum_ += loss, ++window_n_, epoch_sum_ += loss, ++epoch_n_;
      progress.update(epoch, step_ - first_step, loss);
      if (step_ % o_.log_every == 0) {
        check_state("after step " + std::to_string(step_));
        nlohmann::json rec = {{"step", step_}, {"epoch", epoch}, {"loss", window_sum_ / double(window_n_)},
                              {"lr", opt_.lr()}};
        if (o_.weight_at) rec["weight"] = ctx.weight;
        rec["seconds"] = seconds();
        if (run_) run_->log(rec);
        window_sum_ = 0, window_n_ = 0;
      }
      if (pos_ == per_epoch_) break;  // the epoch's end below checkpoints anyway
      if (o_.checkpoint_every > 0 && step_ % o_.checkpoint_every == 0) save();
      fault.at(step_);
      if ((stopped = stop_here())) break;
    }
    if (stopped) break;
    epochs_done_ = epoch, pos_ = 0;
    nlohmann::json rec = eval_record(epoch, eval_fn);
    rec["seconds"] = seconds();
    if (run_) run_->log(rec);
    rec.erase("seconds");
    last_eval_ = rec;
    epoch_sum_ = 0, epoch_n_ = 0;
    std::string note = "epoch " + std::to_string(epoch) + ":";
    for (const auto& [k, v] : rec.items())
      if (k != "step" && k != "epoch" && v.is_number_float()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %s %.4f", k.c_str(), static_cast<double>(v));
        note += buf;
      }
    progress.summary(note, epoch == o_.epochs);
    save();
    fault.at(step_);
    stopped = epoch < o_.epochs && stop_here();
  }
  progress.finish();
  seconds_before_ = train_seconds();
  timing_ = false;
  r.steps = step_;
  r.epochs_done = epochs_done_;
  r.train_seconds = seconds_before_;
  r.last_eval = last_eval_;
  if (last_eval_.contains("train_loss")) r.last_epoch_loss = last_eval_["train_loss"].get<double>();
  return r;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace lz
