#include "nn/schedule.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace lz {

LrSchedule::LrSchedule(double base_lr, int64_t warmup_steps) : base_lr_(base_lr), warmup_(warmup_steps) {
  if (!(base_lr >= 0)) throw std::invalid_argument("lr schedule: base lr must be >= 0, got " + std::to_string(base_lr));
  if (warmup_steps < 0)
    throw std::invalid_argument("lr schedule: warmup steps must be >= 0, got " + std::to_string(warmup_steps));
}

double LrSchedule::operator()(int64_t t) const {
  if (t < 0) throw std::invalid_argument("lr schedule: step " + std::to_string(t) + " < 0");
  if (t < warmup_) return base_lr_ * static_cast<double>(t + 1) / static_cast<double>(warmup_);
  return decayed(t - warmup_);
}

StepLR::StepLR(double base_lr, int64_t step_size, double gamma, int64_t warmup_steps)
    : LrSchedule(base_lr, warmup_steps), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) throw std::invalid_argument("StepLR: step_size must be > 0, got " + std::to_string(step_size));
}

double StepLR::decayed(int64_t t) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(t / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(double base_lr, int64_t t_max, double eta_min, int64_t warmup_steps)
    : LrSchedule(base_lr, warmup_steps), t_max_(t_max), eta_min_(eta_min) {
  if (t_max <= 0) throw std::invalid_argument("CosineAnnealingLR: T_max must be > 0, got " + std::to_string(t_max));
}

double CosineAnnealingLR::decayed(int64_t t) const {
  return eta_min_ + (base_lr_ - eta_min_) *
                        (1 + std::cos(std::numbers::pi * static_cast<double>(t) / static_cast<double>(t_max_))) / 2;
}

}  // namespace lz
