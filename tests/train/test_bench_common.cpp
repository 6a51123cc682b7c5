// test_bench_common.cpp: the measurements shared by the benches and the CPU dtype note of
// train/eval/solve (src/train/bench_common.h).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <sstream>

#include "train/bench_common.h"

namespace hrm::train {
namespace {

// Measured on an AVX2-only EPYC (PERF.md): bfloat16 0.8 GFLOP/s against float32 108 GFLOP/s.
TEST(ReducedPrecisionAdvice, NamesBothRatesWhenTheReducedDtypeIsUnderHalfFloat32) {
  const std::string note = reduced_precision_advice("bfloat16", 0.79e9, 108.09e9, "arch.forward_dtype=float32");
  EXPECT_NE(note.find("note: on this CPU a bfloat16 matrix product runs at 0.8 GFLOP/s, a float32 one at 108.1 GFLOP/s"),
            std::string::npos)
      << note;
  EXPECT_NE(note.find("AVX-512 or AMX): arch.forward_dtype=float32 will likely run faster here"), std::string::npos) << note;
  EXPECT_NE(reduced_precision_advice("float16", 1e9, 3e9, "--set arch.forward_dtype=float32")
                .find("float16 matrix product runs at 1.0 GFLOP/s, a float32 one at 3.0 GFLOP/s"),
            std::string::npos);
  // An AVX-512 machine: bfloat16 as fast as float32 or faster, or a little slower: no note.
  EXPECT_EQ(reduced_precision_advice("bfloat16", 150e9, 100e9, "x"), "");
  EXPECT_EQ(reduced_precision_advice("bfloat16", 60e9, 100e9, "x"), "");
}

TEST(ReducedPrecisionAdvice, MeasuresOnlyForAReducedDtypeOnTheCpu) {
  auto note_of = [](torch::Device d, const std::string& dtype) {
    std::ostringstream out;
    note_slow_cpu_dtype(out, d, dtype);
    return out.str();
  };
  EXPECT_EQ(note_of(torch::kCPU, "float32"), "");
  EXPECT_EQ(note_of(torch::Device(torch::kCUDA, 0), "bfloat16"), "") << "never touches CUDA";
  // This machine's own verdict: a note exactly when its bfloat16 products are under half float32's.
  // The note measures again, and a product of a millisecond can be slowed tenfold by another test
  // sharing the cores (ctest -j): the two verdicts must agree in one of three tries.
  for (int attempt = 1;; ++attempt) {
    const double bf16 = measure_matmul_flops(torch::kCPU, torch::kBFloat16, 256);
    const double f32 = measure_matmul_flops(torch::kCPU, torch::kFloat32, 256);
    EXPECT_GT(bf16, 0);
    EXPECT_GT(f32, 0);
    const std::string note = note_of(torch::kCPU, "bfloat16");
    std::cout << "[ rates ] bfloat16 " << bf16 / 1e9 << " GFLOP/s, float32 " << f32 / 1e9 << " GFLOP/s; note: '" << note
              << "'\n";
    const bool noted = note.find("a bfloat16 matrix product runs at") != std::string::npos;
    const bool agree = (bf16 < 0.3 * f32 && noted) || (bf16 > 0.7 * f32 && note.empty()) ||
                       (bf16 >= 0.3 * f32 && bf16 <= 0.7 * f32);
    if (agree) break;
    if (attempt == 3) {
      ADD_FAILURE() << "the note disagrees with the rates measured beside it in 3 tries";
      break;
    }
  }
}

// train/eval/solve measure after seeding: the measurement must not move torch's global generator.
TEST(ReducedPrecisionAdvice, MeasuringLeavesTorchsGlobalGeneratorAlone) {
  torch::manual_seed(7);
  const torch::Tensor expected = torch::randn({4});
  torch::manual_seed(7);
  measure_matmul_flops(torch::kCPU, torch::kFloat32, 32);
  EXPECT_TRUE(torch::equal(torch::randn({4}), expected));
}

}  // namespace
}  // namespace hrm::train
