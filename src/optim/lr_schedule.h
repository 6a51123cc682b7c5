// lr_schedule.h: HRM's learning-rate schedule and its estimate of the number of training steps.
// Mirrors cosine_schedule_with_warmup_lr_lambda, compute_lr and init_train_state's total_steps in
// pretrain.py of sapientinc/HRM@42410da.
//
// Step numbering: train_batch does `train_state.step += 1` before compute_lr, so the first batch is
// evaluated at step 1 (lr = base_lr / warmup_steps, never 0), step warmup_steps is the first at full
// base_lr, and the last batch that trains (train_batch returns early once step > total_steps) is at
// step total_steps, where the cosine reaches base_lr * min_ratio. Callers pass that 1-based step.
#pragma once

#include <cstdint>

namespace hrm::optim {

// lr at `step` (1-based, see above): base_lr * step / max(1, warmup_steps) while step < warmup_steps;
// then base_lr * (min_ratio + max(0, (1 - min_ratio) * 0.5 * (1 + cos(pi * 2 * num_cycles * progress))))
// with progress = (step - warmup_steps) / max(1, total_steps - warmup_steps). As in the reference,
// nothing clamps step to total_steps: beyond it the cosine rises again (the driver must stop there).
double cosine_schedule_with_warmup_lr(int64_t step, double base_lr, int64_t warmup_steps, int64_t total_steps,
                                      double min_ratio, double num_cycles = 0.5);

// int(epochs * total_groups * mean_puzzle_examples / global_batch_size), evaluated as Python does
// (left to right in double, truncated toward zero). Throws hrm::ConfigError on a non-positive batch
// size or negative counts.
int64_t total_steps(int64_t epochs, int64_t total_groups, double mean_puzzle_examples,
                    int64_t global_batch_size);

}  // namespace hrm::optim
