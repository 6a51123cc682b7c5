// lr_schedule.cpp: cosine schedule with linear warm-up, and total_steps (see lr_schedule.h).
#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"

namespace hrm::optim {

double cosine_schedule_with_warmup_lr(int64_t step, double base_lr, int64_t warmup_steps, int64_t total_steps,
                                      double min_ratio, double num_cycles) {
  if (step < warmup_steps)
    return base_lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  const double progress = static_cast<double>(step - warmup_steps) /
                          static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double cosine = (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(M_PI * num_cycles * 2.0 * progress));
  return base_lr * (min_ratio + std::max(0.0, cosine));
}

int64_t total_steps(int64_t epochs, int64_t total_groups, double mean_puzzle_examples,
                    int64_t global_batch_size) {
  if (global_batch_size <= 0) HRM_THROW(ConfigError, "global_batch_size must be > 0, got ", global_batch_size);
  if (epochs < 0) HRM_THROW(ConfigError, "epochs must be >= 0, got ", epochs);
  if (total_groups < 0) HRM_THROW(ConfigError, "total_groups must be >= 0, got ", total_groups);
  if (!(mean_puzzle_examples >= 0.0) || !std::isfinite(mean_puzzle_examples))
    HRM_THROW(ConfigError, "mean_puzzle_examples must be finite and >= 0, got ", mean_puzzle_examples);
  // Python multiplies the two ints exactly, then converts to float: same here while it fits int64.
  int64_t epoch_groups = 0;
  if (__builtin_mul_overflow(epochs, total_groups, &epoch_groups))
    HRM_THROW(ConfigError, "epochs * total_groups overflows: ", epochs, " * ", total_groups);
  const double steps =
      static_cast<double>(epoch_groups) * mean_puzzle_examples / static_cast<double>(global_batch_size);
  if (!(steps < static_cast<double>(std::numeric_limits<int64_t>::max())))
    HRM_THROW(ConfigError, "total training steps (", steps, ") do not fit in int64");
  return static_cast<int64_t>(steps);  // int(): truncation toward zero
}

}  // namespace hrm::optim
