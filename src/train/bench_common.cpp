// bench_common.cpp: see bench_common.h.
#include "train/bench_common.h"

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

double measure_matmul_flops(torch::Device d, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  const int64_t n = matmul_size(d);
  auto opts = torch::TensorOptions().dtype(dtype).device(d);
  const torch::Tensor a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  torch::Tensor c = torch::matmul(a, b);  // warm-up: library handles, kernel choice
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) ms.push_back(timed_ms(d, [&] { c = torch::matmul(a, b); }));
  return 2.0 * static_cast<double>(n) * n * n / (median(ms) / 1000.0);
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
