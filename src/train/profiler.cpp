// profiler.cpp: see profiler.h.
#include "train/profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <filesystem>
#include <set>

#include <stdlib.h>

#include "core/atomic_file.h"
#include "core/check.h"
#include "train/bench_common.h"

#if !HRM_TORCH_FALLBACK
#include <kineto/ActivityType.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

namespace hrm::train {
namespace {

// A Chrome trace written by Kineto: what --profile may replace.
bool is_trace(const std::string& content) {
  return starts_after_space(content, "{") && content.find("\"traceEvents\"") != std::string::npos;
}

#if !HRM_TORCH_FALLBACK
// Work on the GPU itself: kernels, copies, sets (not the GPU-side spans of user annotations, which
// cover the kernels and would count them twice).
bool is_gpu_work(uint8_t activity) {
  using libkineto::ActivityType;
  return activity == static_cast<uint8_t>(ActivityType::CONCURRENT_KERNEL) ||
         activity == static_cast<uint8_t>(ActivityType::GPU_MEMCPY) ||
         activity == static_cast<uint8_t>(ActivityType::GPU_MEMSET);
}
#endif

std::vector<ProfileRow> sorted_rows(const std::map<std::string, ProfileRow>& by_name) {
  std::vector<ProfileRow> rows;
  for (const auto& [name, row] : by_name) rows.push_back(row);
  std::sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) {
    return a.ms != b.ms ? a.ms > b.ms : a.name < b.name;
  });
  return rows;
}

void add_to_row(std::map<std::string, ProfileRow>& rows, const std::string& name, uint64_t ns) {
  ProfileRow& row = rows[name];
  row.name = name;
  row.ms += static_cast<double>(ns) / 1e6;
  ++row.calls;
}

// Kernel names can be whole template instantiations: the start, which names the kernel, is enough.
std::string shortened(const std::string& name, size_t width) {
  return name.size() <= width ? name : name.substr(0, width - 3) + "...";
}

}  // namespace

bool profiler_available() { return !HRM_TORCH_FALLBACK; }

void check_trace_path(const std::string& trace_path) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::absolute(trace_path).parent_path();
  if (!fs::is_directory(parent))
    HRM_THROW(Error, "--profile ", trace_path, ": no folder ", parent.string(), " to write the trace in");
  check_replaceable(trace_path, is_trace, "a profiler trace");
}

std::vector<uint64_t> self_times(const std::vector<uint64_t>& begin, const std::vector<uint64_t>& end) {
  HRM_CHECK(begin.size() == end.size(), "self_times: ", begin.size(), " begins, ", end.size(), " ends");
  std::vector<size_t> order(begin.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Parents before their children: by start, and the longer first where two start together.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return begin[a] != begin[b] ? begin[a] < begin[b] : end[a] > end[b];
  });
  std::vector<uint64_t> self(begin.size()), stop(begin.size());
  std::vector<size_t> open;  // the enclosing intervals of the current one, innermost last
  for (const size_t i : order) {
    while (!open.empty() && stop[open.back()] <= begin[i]) open.pop_back();
    // A child that outlasts its parent (clock skew) is cut at the parent's end, so that what follows
    // is not taken for its child and every nanosecond counts once.
    stop[i] = std::max(begin[i], open.empty() ? end[i] : std::min(end[i], stop[open.back()]));
    self[i] = stop[i] - begin[i];
    if (!open.empty()) self[open.back()] -= self[i];
    open.push_back(i);
  }
  return self;
}

Profile profile_steps(torch::Device device, int steps, const std::function<void()>& step, const std::string& trace_path) {
  HRM_CHECK(steps >= 1, "profile_steps: steps must be >= 1, got ", steps);
#if HRM_TORCH_FALLBACK
  (void)device, (void)step, (void)trace_path;
  HRM_THROW(Error, "--profile: this hrm is built on libtorch 1.13, whose profiler it does not use");
#else
  check_trace_path(trace_path);
  namespace impl = torch::profiler::impl;
  namespace kineto = torch::autograd::profiler;
  const impl::ProfilerConfig config(impl::ProfilerState::KINETO);
  std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
  if (device.is_cuda()) activities.insert(impl::ActivityType::CUDA);
  // Without a GPU, Kineto logs an error about the missing CUDA devices when it stops: silent then,
  // unless the user set its log level (on a GPU its messages, e.g. about CUPTI, matter). Kineto reads
  // the variable once, at its first use; torch's worker threads do not read the environment.
  else ::setenv("KINETO_LOG_LEVEL", "5", /*overwrite=*/0);
  kineto::prepareProfiler(config, activities);
  sync_device(device);
  Profile p;
  p.steps = steps;
  p.gpu = device.is_cuda();
  kineto::enableProfiler(config, activities);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) step();
    sync_device(device);
    p.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  } catch (...) {
    try {
      kineto::disableProfiler();
    } catch (...) {  // the step's error is the one to report
    }
    throw;
  }
  const std::unique_ptr<kineto::ProfilerResult> result = kineto::disableProfiler();
  // Kineto reports a failed save only in its log: the trace must be there, whole, before it replaces one.
  write_atomic_with(trace_path, [&](const std::string& tmp) {
    result->save(tmp);
    std::error_code ec;
    std::filesystem::remove(tmp + ".tmp", ec);  // Kineto's own temporary, if it left one
    if (!std::filesystem::is_regular_file(tmp) || std::filesystem::file_size(tmp, ec) == 0)
      HRM_THROW(Error, "--profile ", trace_path, ": PyTorch's profiler wrote no trace (KINETO_LOG_LEVEL=0 shows why)");
  });

  // CPU: self times per thread (ops nest: aten::linear calls aten::addmm ...); GPU: each event's time.
  std::map<uint64_t, std::vector<const kineto::KinetoEvent*>> cpu_by_thread;
  std::map<std::string, ProfileRow> phases, cpu, gpu;
  for (const auto& e : result->events()) {
    if (e.deviceType() == c10::DeviceType::CPU) {
      cpu_by_thread[e.startThreadId()].push_back(&e);
      if (e.name().rfind("hrm::", 0) == 0) add_to_row(phases, e.name(), e.durationNs());
    } else if (e.deviceType() == c10::DeviceType::CUDA && is_gpu_work(e.activityType())) {
      add_to_row(gpu, e.name(), e.durationNs());
    }
  }
  for (const auto& [thread, events] : cpu_by_thread) {
    std::vector<uint64_t> begin, end;
    for (const auto* e : events) begin.push_back(e->startNs()), end.push_back(e->endNs());
    const std::vector<uint64_t> self = self_times(begin, end);
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i]->name().rfind("hrm::", 0) != 0) add_to_row(cpu, events[i]->name(), self[i]);  // phases: their own table
    }
  }
  p.phases = sorted_rows(phases);
  p.cpu_ops = sorted_rows(cpu);
  p.gpu_work = sorted_rows(gpu);
  return p;
#endif
}

std::string format_profile(const Profile& p, size_t top) {
  const double steps = std::max(p.steps, 1);
  std::string out =
      fmt::format("  {} profiled steps, {:.2f} ms per step (the profiler's own cost included)\n", p.steps, p.wall_ms / steps);
  auto table = [&](const char* title, const std::vector<ProfileRow>& rows, double total, const char* total_is) {
    if (rows.empty()) return;
    out += fmt::format("  {} (per step; % of {:.2f} ms, {}):\n", title, total / steps, total_is);
    for (size_t i = 0; i < rows.size() && i < top; ++i)
      out += fmt::format("    {:<60} {:9.3f} ms {:6.1f}%  {:>7.1f} calls\n", shortened(rows[i].name, 60),
                         rows[i].ms / steps, total > 0 ? 100.0 * rows[i].ms / total : 0.0,
                         static_cast<double>(rows[i].calls) / steps);
    if (rows.size() > top) out += fmt::format("    ... {} more\n", rows.size() - top);
  };
  auto sum = [](const std::vector<ProfileRow>& rows) {
    double total = 0;
    for (const auto& r : rows) total += r.ms;
    return total;
  };
  // Phases against the wall time (they do not nest in one another); ops and kernels against their sum.
  table("phases of the step, whole time on the host", p.phases, p.wall_ms, "the step");
  table("CPU ops by self time", p.cpu_ops, sum(p.cpu_ops), "their sum");
  table("GPU kernels and copies by time", p.gpu_work, sum(p.gpu_work), "their sum");
  if (p.gpu && p.gpu_work.empty())
    out += "  no GPU events: CUPTI, which traces the kernels, did not run (KINETO_LOG_LEVEL=0 says why)\n";
  return out;
}

}  // namespace hrm::train
