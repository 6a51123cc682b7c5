// profiler.h: `hrm bench train|eval --profile FILE`: PyTorch's own profiler (Kineto, what
// torch.profiler runs in Python) over a few steps after the timed ones. Writes its Chrome trace (open
// it in https://ui.perfetto.dev or chrome://tracing) and tells where the time went: the ops by self
// time on the CPU (time in an op less the ops it called), and on a GPU the kernels and copies by time.
// Not in builds on libtorch 1.13 (profiler_available() is false there, and the option is not offered).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace hrm::train {

bool profiler_available();

// --profile: `steps` more steps (training steps, ACT steps, model segments) after the timed ones,
// under the profiler, its trace written to `trace_path`.
struct ProfileRequest {
  std::string trace_path;
  int steps = 3;
};

struct ProfileRow {
  std::string name;
  double ms = 0;  // over all profiled steps
  int64_t calls = 0;
};

struct Profile {
  int steps = 0;
  bool gpu = false;                  // CUDA activities were asked for
  double wall_ms = 0;                // the profiled steps, device-synchronised
  std::vector<ProfileRow> phases;    // hrm's named phases (hrm::forward, ...), whole time, largest first
  std::vector<ProfileRow> cpu_ops;   // by self time, largest first (the phases left out)
  std::vector<ProfileRow> gpu_work;  // kernels, copies and sets on the GPU, by time, largest first
};

// Refuses, before any work, a trace path in a missing folder or naming a file that is not a trace.
void check_trace_path(const std::string& trace_path);

// Runs step() `steps` times under the profiler (CPU ops; CUDA kernels too on a GPU), then writes the
// trace to `trace_path` atomically. hrm::Error where the profiler is not available.
Profile profile_steps(torch::Device device, int steps, const std::function<void()>& step, const std::string& trace_path);

// Self times from nested intervals of one thread: each interval's length less its children's.
// `begin`/`end` in ns, any order; returns the self time of each interval, in input order.
std::vector<uint64_t> self_times(const std::vector<uint64_t>& begin, const std::vector<uint64_t>& end);

// The first `top` rows of each table, per step: "  aten::mm   12.31 ms  27.1%  (1,200 calls)".
std::string format_profile(const Profile& p, size_t top);

}  // namespace hrm::train
