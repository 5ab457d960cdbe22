// Learning-rate schedules: small value classes mapping a step (or epoch) t = 0, 1, ... to a
// learning rate, with PyTorch's closed forms, and an optional linear warmup in front.
//
// Usage: `opt.set_lr(sched(t))` before the t-th step. With warmup W > 0, steps t < W use
// base_lr * (t+1)/W and the schedule proper starts at t = W as its own step 0.
#pragma once

#include <cstdint>

namespace lz {

class LrSchedule {
 public:
  LrSchedule(double base_lr, int64_t warmup_steps = 0);
  virtual ~LrSchedule() = default;
  double operator()(int64_t t) const;
  double base_lr() const { return base_lr_; }
  int64_t warmup_steps() const { return warmup_; }

 protected:
  // The learning rate t steps after the warmup.
  virtual double decayed(int64_t t) const = 0;
  double base_lr_;
  int64_t warmup_;
};

class ConstantLR : public LrSchedule {
 public:
  explicit ConstantLR(double base_lr, int64_t warmup_steps = 0) : LrSchedule(base_lr, warmup_steps) {}

 protected:
  double decayed(int64_t) const override { return base_lr_; }
};

// torch.optim.lr_scheduler.StepLR: base_lr * gamma^floor(t / step_size).
class StepLR : public LrSchedule {
 public:
  StepLR(double base_lr, int64_t step_size, double gamma = 0.1, int64_t warmup_steps = 0);

 protected:
  double decayed(int64_t t) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// torch.optim.lr_scheduler.CosineAnnealingLR's closed form:
// eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2. As in PyTorch it is periodic:
// past T_max the rate climbs back (pick T_max = the run's length for one half-cosine).
class CosineAnnealingLR : public LrSchedule {
 public:
  CosineAnnealingLR(double base_lr, int64_t t_max, double eta_min = 0, int64_t warmup_steps = 0);

 protected:
  double decayed(int64_t t) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

}  // namespace lz
