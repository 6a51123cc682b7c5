// bench_common.h: what `hrm bench model|train|eval` share: device-synchronised timing, the device's
// measured matrix-product rate (the denominator of MFU), and peak memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <torch/types.h>

namespace hrm {

// Waits for the device's queued work (a host sync, on purpose: CPU and CUDA times mean the same).
void sync_device(torch::Device d);

// Wall time of f() between two device synchronisations, in ms.
template <typename F>
double timed_ms(torch::Device d, F&& f) {
  sync_device(d);
  const auto t0 = std::chrono::steady_clock::now();
  f();
  sync_device(d);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v);
double mean(const std::vector<double>& v);

inline int64_t matmul_size(torch::Device d) { return d.is_cuda() ? 8192 : 1024; }
// FLOP/s of an n x n x n matrix product in `dtype` on `d` (median of a few, after a warm-up):
// what the device reaches on the kind of work the model is made of.
double measure_matmul_flops(torch::Device d, torch::ScalarType dtype, int64_t n);
inline double measure_matmul_flops(torch::Device d, torch::ScalarType dtype) {
  return measure_matmul_flops(d, dtype, matmul_size(d));
}

// On the CPU, ATen's fast bfloat16/float16 matrix products (oneDNN) need AVX-512 or AMX: elsewhere
// (an AVX2-only CPU) they run one to two orders of magnitude slower than float32 (measured: PERF.md),
// and the reference's bfloat16 default makes training crawl. A note when `reduced_flops` is under
// half `float32_flops` ("" otherwise), saying both rates and what to do (`setting`: how this command
// takes arch.forward_dtype=float32).
std::string reduced_precision_advice(const std::string& forward_dtype, double reduced_flops, double float32_flops,
                                     const std::string& setting);
// For a forward_dtype of bfloat16 or float16 on the CPU: measures both rates (n = 256: tens of
// milliseconds where the note is due) and writes the note, if any, as a line to `out`. Nothing on
// CUDA or in float32.
void note_slow_cpu_dtype(std::ostream& out, torch::Device d, const std::string& forward_dtype,
                         const std::string& setting = "arch.forward_dtype=float32");

// Resets the peak-memory counter of `d` (CUDA's caching allocator; a no-op on CPU).
void reset_peak_memory(torch::Device d);
// Peak bytes since the last reset: CUDA's allocated bytes; on CPU, the process's peak resident set
// (libtorch's own ~0.5 GB included, never reset).
int64_t peak_memory_bytes(torch::Device d);
std::string peak_memory_label(torch::Device d);  // "peak CUDA allocated" or "peak RSS"

}  // namespace hrm
