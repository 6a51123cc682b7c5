// memory_estimate.h: a lower bound of the memory one process of a run needs, checked before the model
// is built. A configuration that cannot fit (a global_batch_size or hidden_size typed with a zero too
// many) then ends in an error that names the sizes and the keys to lower, instead of the kernel's
// silent OOM kill on the CPU (allocations succeed under overcommit and fail when first touched) or a
// CUDA out-of-memory error after the dataset has loaded.
// Only what certainly stays allocated at once is counted, so the check never refuses a run that fits;
// a run that passes it can still run out of memory (docs/PERF.md has measured peaks).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "model/config.h"

namespace hrm::train {

enum class ModelUse { evaluation, training };

struct MemoryEstimate {
  int64_t parameters = 0;     // dense parameters (float32 master weights), as model.parameters() counts them
  int64_t buffers = 0;        // registered buffers (the puzzle-embedding table, H_init, L_init): elements
  double weights_bytes = 0;   // parameters and buffers; on the CPU, the kept casts of the Casted layers' weights
  double optimizer_bytes = 0; // training: AdamATan2's two moments, the EMA copy
  double state_bytes = 0;     // the carry (z_H, z_L) and what one step holds at once: saved activations or gradients
  double total() const { return weights_bytes + optimizer_bytes + state_bytes; }
};

// `c` is the model's config as create_model makes it: batch_size = rows per process; on `device`.
MemoryEstimate estimate_memory(const HRMConfig& c, ModelUse use, bool ema, torch::Device device);

// Memory a process on `device` can have at most: on the CPU its RAM (the smaller of the machine's and
// its cgroup's limit) + swap, on CUDA the device's total. Nothing when it cannot be read.
std::optional<double> memory_limit_bytes(torch::Device device);

// Before a model of config `c` is built on `device`: check_memory_fits against memory_limit_bytes
// (nothing when the limit cannot be read).
void check_memory_before_building(const HRMConfig& c, torch::Device device, ModelUse use, bool ema,
                                  const std::string& batch_key = "global_batch_size (rows per process)");

// Throws ConfigError when `need` exceeds `limit_bytes` (the message names the parts, the rows per
// process, and the keys that size them; `batch_key` is the one that sets the rows).
void check_memory_fits(const MemoryEstimate& need, const HRMConfig& c, double limit_bytes, const std::string& where,
                       const std::string& batch_key = "global_batch_size (rows per process)");

}  // namespace hrm::train
