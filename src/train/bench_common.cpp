// bench_common.cpp: see bench_common.h.
#include "train/bench_common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <sys/resource.h>

#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#if !HRM_TORCH_FALLBACK
#include <ATen/DeviceAccelerator.h>
#endif

namespace hrm {

void sync_device(torch::Device d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.has_index() ? d.index() : -1);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double measure_matmul_flops(torch::Device d, torch::ScalarType dtype, int64_t n) {
  torch::NoGradGuard no_grad;
  // On the CPU from a generator of its own: train/eval/solve measure there too, and must leave torch's
  // global generator where it was. CUDA draws on the device (8192^2 drawn on the CPU would take seconds).
  at::Generator gen = at::detail::createCPUGenerator(0);
  const auto opts = torch::TensorOptions().dtype(dtype).device(d);
  auto draw = [&] { return d.is_cpu() ? at::randn({n, n}, gen, opts) : torch::randn({n, n}, opts); };
  const torch::Tensor a = draw(), b = draw();
  torch::Tensor c = torch::matmul(a, b);  // warm-up: library handles, kernel choice
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) ms.push_back(timed_ms(d, [&] { c = torch::matmul(a, b); }));
  return 2.0 * static_cast<double>(n) * n * n / (median(ms) / 1000.0);
}

std::string reduced_precision_advice(const std::string& forward_dtype, double reduced_flops, double float32_flops,
                                     const std::string& setting) {
  if (!(reduced_flops < 0.5 * float32_flops)) return "";
  return fmt::format(
      "note: on this CPU a {} matrix product runs at {:.1f} GFLOP/s, a float32 one at {:.1f} GFLOP/s (measured now; "
      "ATen's fast {} CPU kernels need AVX-512 or AMX): {} will likely run faster here (the reference's bfloat16 "
      "default is meant for GPUs)",
      forward_dtype, reduced_flops / 1e9, float32_flops / 1e9, forward_dtype, setting);
}

void note_slow_cpu_dtype(std::ostream& out, torch::Device d, const std::string& forward_dtype, const std::string& setting) {
  if (!d.is_cpu() || (forward_dtype != "bfloat16" && forward_dtype != "float16")) return;
  const auto dtype = forward_dtype == "bfloat16" ? torch::kBFloat16 : torch::kFloat16;
  constexpr int64_t n = 256;
  const std::string note = reduced_precision_advice(forward_dtype, measure_matmul_flops(d, dtype, n),
                                                    measure_matmul_flops(d, torch::kFloat32, n), setting);
  if (!note.empty()) out << note << "\n";
}

void reset_peak_memory(torch::Device d) {
#if !HRM_TORCH_FALLBACK
  if (d.is_cuda()) at::accelerator::resetPeakStats(d.has_index() ? d.index() : at::accelerator::getDeviceIndex());
#else
  (void)d;
#endif
}

int64_t peak_memory_bytes(torch::Device d) {
#if !HRM_TORCH_FALLBACK
  if (d.is_cuda()) {
    const auto stats = at::accelerator::getDeviceStats(d.has_index() ? d.index() : at::accelerator::getDeviceIndex());
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
  }
#endif
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux: kilobytes
}

std::string peak_memory_label(torch::Device d) { return d.is_cuda() ? "peak CUDA allocated" : "peak RSS"; }

}  // namespace hrm
