// bench_model.h: throughput of one ACT segment (forward, and forward+backward) for a config.
#pragma once

#include <optional>
#include <string>

#include <torch/types.h>

#include "model/config.h"
#include "train/profiler.h"

namespace hrm {

struct BenchModelOptions {
  HRMConfig config;
  torch::Device device = torch::kCPU;
  int warmup = 2, iters = 5;
  std::optional<train::ProfileRequest> profile;  // each profiled step: one forward and one train segment
};

struct BenchModelResult {
  double forward_ms = 0, train_ms = 0;          // median per ACT segment
  double forward_tokens_per_s = 0, train_tokens_per_s = 0;
  double forward_flops = 0, train_flops = 0;    // analytic (train/flops.h), per segment
  int64_t forward_peak_bytes = 0, train_peak_bytes = 0;  // bench_common.h: peak_memory_bytes
  int64_t parameters = 0;
  std::optional<train::Profile> profile;
};

// Runs the ACT loss head on random inputs: `forward` in eval mode without grad; `train` in train
// mode (the target-Q forward included) with backward. Times are medians over `iters` segments.
BenchModelResult bench_model(const BenchModelOptions& opts);

}  // namespace hrm
