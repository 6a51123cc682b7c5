// bench_train.h: throughput of whole training steps, as `hrm train` runs them: a sampler batch to
// the device, the ACT loss head forward (target-Q forward included), backward, sign-SGD on the
// puzzle embeddings and AdamATan2. For `hrm bench train`; compares with the reference's steps/s.
#pragma once

#include <cstdint>

#include "train/pretrain_config.h"

namespace hrm::train {

struct BenchTrainResult {
  int64_t steps = 0;
  double median_step_ms = 0, mean_step_ms = 0;
  double steps_per_s = 0, tokens_per_s = 0;  // from the median; tokens = global_batch_size * seq_len
  int64_t parameters = 0, seq_len = 0;
};

// Runs `warmup` untimed then `steps` timed training steps on config.data_path's training split
// (epochs looping as needed; the learning-rate schedule as configured), with a device
// synchronisation after each step so CPU and CUDA times mean the same thing.
BenchTrainResult bench_train(const PretrainConfig& config, int warmup, int steps);

}  // namespace hrm::train
