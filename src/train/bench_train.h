// bench_train.h: throughput of whole training steps and of evaluation ACT steps, as `hrm train` and
// `hrm eval` run them. Training: a sampler batch to the device, the ACT loss head forward (target-Q
// forward included), backward, sign-SGD on the puzzle embeddings and AdamATan2. Evaluation: a test
// batch to the device, then ACT segments until every row halted (halt_max_steps), each timed. For
// `hrm bench train|eval`; compares with the reference's steps/s.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "train/pretrain_config.h"
#include "train/profiler.h"

namespace hrm::train {

// Timed steps of a bench (training steps, or evaluation ACT steps), as the benches report them.
struct StepTimes {
  int64_t count = 0;  // timed steps
  double median_ms = 0, mean_ms = 0;
  double per_s = 0, tokens_per_s = 0;  // from the median; tokens = global_batch_size * seq_len
  double flops = 0;                    // analytic, per step (train/flops.h)
  int64_t peak_bytes = 0;              // bench_common.h: peak_memory_bytes over the timed steps
  double estimated_bytes = 0;          // memory_estimate.h: the lower bound create_model checked
  int64_t parameters = 0, seq_len = 0;
  std::optional<Profile> profile;      // with a ProfileRequest
};

// Runs `warmup` untimed then `steps` timed training steps on config.data_path's training split
// (epochs looping as needed; the learning-rate schedule as configured), with a device
// synchronisation after each step so CPU and CUDA times mean the same thing.
StepTimes bench_train(const PretrainConfig& config, int warmup, int steps,
                      const std::optional<ProfileRequest>& profile = std::nullopt);

struct BenchEvalResult {
  int64_t batches = 0;  // timed
  StepTimes act_steps;  // flops: one forward segment
};

// Runs `warmup` untimed then `batches` timed test batches of config.data_path's test split (passes
// repeated as needed), in eval mode under inference mode, with freshly initialised weights (the
// evaluation runs exactly halt_max_steps segments whatever the weights). Each ACT segment is timed
// between device synchronisations; the batch copy is not in it.
BenchEvalResult bench_eval(const PretrainConfig& config, int warmup, int batches,
                           const std::optional<ProfileRequest>& profile = std::nullopt);

}  // namespace hrm::train
