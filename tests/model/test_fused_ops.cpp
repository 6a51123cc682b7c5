// Tests for src/model/fused_ops.cpp (and the kernels of fused_cuda.cu): each fused form computes bit
// for bit what the reference's op chain computes, in every forward dtype (RoPE on the CPU and CUDA,
// SwiGLU on CUDA); none replaces a chain that autograd records, nor runs under `hrm --unfused`. The
// CUDA cases skip, visibly, where there is no GPU or the kernels were not built.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "model/fused_ops.h"
#include "model/layers.h"

namespace {

// set_fused_kernels is process-wide: restore it whatever a test does.
struct FusedKernelsOn {
  explicit FusedKernelsOn(bool on) { hrm::set_fused_kernels(on); }
  ~FusedKernelsOn() { hrm::set_fused_kernels(true); }
};

const std::vector<torch::ScalarType> kDtypes{torch::kFloat32, torch::kBFloat16, torch::kFloat16};

#define SKIP_WITHOUT_KERNELS_ON_A_GPU()                                                      \
  do {                                                                                       \
    if (!hrm::fused_cuda_kernels_built()) GTEST_SKIP() << "built without the CUDA toolkit";  \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";                      \
  } while (0)

// The layout the model gives the kernels: q and k are views of the qkv projection [B, S, H + 2KV, D].
struct Qkv {
  torch::Tensor qkv, q, k;
};
Qkv make_qkv(torch::ScalarType dtype, torch::Device device, int64_t B, int64_t S, int64_t H, int64_t KV, int64_t D) {
  Qkv r;
  r.qkv = (torch::randn({B, S, H + 2 * KV, D}) * 2).to(dtype).to(device);
  r.q = r.qkv.narrow(2, 0, H);
  r.k = r.qkv.narrow(2, H, KV);
  return r;
}

// RoPE on q, k of the given dtype and device, with as many key heads as query heads and with fewer:
// the fused form exists, --unfused declines it, and it equals the op chain bit for bit, directly and
// through apply_rotary_pos_emb (which takes it).
void expect_rope_matches_the_chain(torch::ScalarType dtype, torch::Device device, const torch::Tensor& cos,
                                   const torch::Tensor& sin) {
  const int64_t B = 3, S = cos.size(0), H = 4, D = cos.size(1);
  for (const int64_t KV : {H, int64_t{2}}) {
    const Qkv t = make_qkv(dtype, device, B, S, H, KV, D);
    const auto fused = hrm::rope_fused(t.q, t.k, cos, sin);
    ASSERT_TRUE(fused.has_value()) << dtype;
    std::pair<torch::Tensor, torch::Tensor> chain;
    {
      FusedKernelsOn off(false);
      EXPECT_FALSE(hrm::rope_fused(t.q, t.k, cos, sin).has_value());  // hrm --unfused
      chain = hrm::apply_rotary_pos_emb(t.q, t.k, cos, sin);
    }
    EXPECT_EQ(fused->first.scalar_type(), dtype);
    EXPECT_TRUE(fused->first.is_contiguous());
    EXPECT_EQ(fused->first.strides(), chain.first.strides());
    EXPECT_EQ(fused->second.sizes(), chain.second.sizes());
    EXPECT_TRUE(torch::equal(fused->first, chain.first)) << dtype << " KV " << KV;
    EXPECT_TRUE(torch::equal(fused->second, chain.second)) << dtype << " KV " << KV;
    const auto through_layer = hrm::apply_rotary_pos_emb(t.q, t.k, cos, sin);
    EXPECT_TRUE(torch::equal(through_layer.first, chain.first)) << dtype;
    EXPECT_TRUE(torch::equal(through_layer.second, chain.second)) << dtype;
  }
}

}  // namespace

TEST(FusedOps, SwiGluEqualsTheOpChainBitForBitOnCuda) {
  SKIP_WITHOUT_KERNELS_ON_A_GPU();
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  for (const auto dtype : kDtypes) {
    // Odd sizes, large values (silu's tails).
    const auto gate_up = (torch::randn({3, 7, 2 * 40}) * 6).to(dtype).to(torch::kCUDA);
    const auto fused = hrm::swiglu_fused(gate_up);
    ASSERT_TRUE(fused.has_value()) << dtype;
    const auto parts = gate_up.chunk(2, -1);
    const auto chain = torch::silu(parts[0]) * parts[1];
    EXPECT_EQ(fused->sizes(), chain.sizes());
    EXPECT_EQ(fused->scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(*fused, chain)) << dtype << ": max diff "
                                             << (fused->to(torch::kFloat32) - chain.to(torch::kFloat32)).abs().max();
    const auto big = torch::randn({70000, 2 * 24}).to(dtype).to(torch::kCUDA);  // thousands of blocks
    const auto big_parts = big.chunk(2, -1);
    const auto big_fused = hrm::swiglu_fused(big);
    ASSERT_TRUE(big_fused.has_value()) << dtype;
    EXPECT_TRUE(torch::equal(*big_fused, torch::silu(big_parts[0]) * big_parts[1])) << dtype;
  }
}

TEST(FusedOps, RopeEqualsTheOpChainBitForBitOnCuda) {
  SKIP_WITHOUT_KERNELS_ON_A_GPU();
  torch::manual_seed(1);
  torch::NoGradGuard no_grad;
  const int64_t B = 3, S = 11, H = 4, D = 16;
  hrm::RotaryEmbedding rope(D, S, 10000.0);
  rope->_apply_device(torch::kCUDA);
  const auto [cos, sin] = rope->forward();
  for (const auto dtype : kDtypes) expect_rope_matches_the_chain(dtype, torch::kCUDA, cos, sin);
  // Tables longer than the sequence: the kernel declines (the chain would not broadcast either).
  hrm::RotaryEmbedding longer(D, S + 3, 10000.0);
  longer->_apply_device(torch::kCUDA);
  const auto [cos_long, sin_long] = longer->forward();
  const Qkv t = make_qkv(torch::kFloat32, torch::kCUDA, B, S, H, H, D);
  EXPECT_FALSE(hrm::rope_fused(t.q, t.k, cos_long, sin_long).has_value());
}

TEST(FusedOps, SwiGluLayerGivesTheSameOutputWithAndWithoutTheKernelOnCuda) {
  SKIP_WITHOUT_KERNELS_ON_A_GPU();
  torch::manual_seed(2);
  hrm::SwiGLU mlp(32, 96, at::make_generator<at::CPUGeneratorImpl>(3));
  mlp->to(torch::kCUDA);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({5, 9, 32}).to(torch::kBFloat16).to(torch::kCUDA);
  ASSERT_TRUE(hrm::swiglu_fused(mlp->gate_up_proj->forward(x)).has_value());  // the layer takes the kernel
  const auto fused = mlp->forward(x);
  FusedKernelsOn off(false);
  EXPECT_TRUE(torch::equal(fused, mlp->forward(x)));
}

// Where autograd would record the chain, the kernel (which has no backward) must not stand in for it:
// the 1-step gradient passes of training. Under no_grad, or for tensors that need none, it may.
TEST(FusedOps, NeverReplaceAChainThatAutogradRecords) {
  const auto device = torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  const auto gate_up = torch::randn({4, 2 * 8}, torch::TensorOptions().device(device).requires_grad(true));
  EXPECT_FALSE(hrm::swiglu_fused(gate_up).has_value());
  hrm::RotaryEmbedding rope(8, 5, 10000.0);
  if (device.is_cuda()) rope->_apply_device(device);
  const auto [cos, sin] = rope->forward();
  // bfloat16: RoPE's fused form exists on both devices (on the CPU for the reduced dtypes only).
  const auto qkv = torch::randn({2, 5, 6, 8}, torch::TensorOptions().device(device).dtype(torch::kBFloat16))
                       .requires_grad_(true);
  EXPECT_FALSE(hrm::rope_fused(qkv.narrow(2, 0, 2), qkv.narrow(2, 2, 2), cos, sin).has_value());
  torch::NoGradGuard no_grad;
  if (!device.is_cuda() || hrm::fused_cuda_kernels_built())
    EXPECT_TRUE(hrm::rope_fused(qkv.narrow(2, 0, 2), qkv.narrow(2, 2, 2), cos, sin).has_value());
  if (hrm::fused_cuda_kernels_built() && device.is_cuda()) EXPECT_TRUE(hrm::swiglu_fused(gate_up).has_value());
}

// On the CPU, RoPE is fused too in bfloat16 and float16 (plain C++ with the chain's roundings; float32
// keeps ATen's ops, faster there); SwiGLU is not: silu's exp cannot match ATen's vectorised one.
TEST(FusedOps, ReducedPrecisionRopeEqualsTheOpChainBitForBitOnTheCpu) {
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  const int64_t B = 3, S = 11, H = 4, D = 16;
  hrm::RotaryEmbedding rope(D, S, 10000.0);
  const auto [cos, sin] = rope->forward();
  const Qkv fp32 = make_qkv(torch::kFloat32, torch::kCPU, B, S, H, H, D);
  EXPECT_FALSE(hrm::rope_fused(fp32.q, fp32.k, cos, sin).has_value());
  for (const auto dtype : {torch::kBFloat16, torch::kFloat16})
    expect_rope_matches_the_chain(dtype, torch::kCPU, cos, sin);
}

TEST(FusedOps, SwiGluKeepsTheOpChainOnTheCpuAndUnderUnfused) {
  torch::NoGradGuard no_grad;
  const auto gate_up = torch::randn({4, 2 * 8});
  EXPECT_FALSE(hrm::swiglu_fused(gate_up).has_value());  // the CPU: ATen's ops, as the reference
  if (!hrm::fused_cuda_kernels_built() || !torch::cuda::is_available()) return;
  FusedKernelsOn off(false);
  EXPECT_FALSE(hrm::swiglu_fused(gate_up.to(torch::kCUDA)).has_value());  // hrm --unfused
}

// The first-use check (fused_ops.h) that stands between an untried kernel and training.
TEST(FusedOps, FirstUseCheckKeepsAnEqualFormAndDropsADifferentOneWithOneWarning) {
  torch::NoGradGuard no_grad;
  const auto x = torch::tensor({1.0f, 2.0f, -2.5f});
  int fused_runs = 0, chains = 0;
  auto check = [&](const hrm::FusedKey& key, torch::Tensor fused, torch::Tensor chain) {
    return hrm::first_use_checked(
        key, x,
        [&] {
          ++fused_runs;
          return std::vector<torch::Tensor>{fused};
        },
        [&] {
          ++chains;
          return std::vector<torch::Tensor>{chain};
        });
  };
  const hrm::FusedKey equal{"SwiGLU", torch::kFloat32, torch::kCPU, 1001, 0};
  const hrm::FusedKey off{"SwiGLU", torch::kFloat32, torch::kCPU, 1002, 0};
  const hrm::FusedKey nan{"SwiGLU", torch::kFloat32, torch::kCPU, 1003, 0};
  ASSERT_TRUE(check(equal, x, x.clone()).has_value());
  const auto decided = check(equal, x + 1, x);  // decided: taken without a second comparison
  ASSERT_TRUE(decided.has_value());
  EXPECT_TRUE(torch::equal(decided->front(), x + 1));
  EXPECT_EQ(chains, 1);
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(check(off, x, x + torch::tensor({0.0f, 0.0f, 1.0f})).has_value());
  fused_runs = 0;
  EXPECT_FALSE(check(off, x, x).has_value());  // declined before the fused form runs
  EXPECT_EQ(fused_runs, 0);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(chains, 2);
  EXPECT_NE(err.find("warning: hrm's fused SwiGLU Float cpu I=1002 path 0 differs from the reference's op chain it "
                     "replaces (largest difference 1)"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("warning", 1), std::string::npos) << "one warning only: " << err;
  // NaN matches NaN, but a comparison over non-finite values decides nothing.
  const auto with_nan = torch::tensor({1.0f, std::nanf("")});
  EXPECT_TRUE(check(nan, with_nan, with_nan.clone()).has_value());
  EXPECT_TRUE(check(nan, x, x.clone()).has_value());
  EXPECT_EQ(chains, 4);
  const auto v = hrm::fused_verdicts();
  EXPECT_TRUE(v.at("SwiGLU Float cpu I=1001 path 0"));
  EXPECT_FALSE(v.at("SwiGLU Float cpu I=1002 path 0"));
  EXPECT_TRUE(v.at("SwiGLU Float cpu I=1003 path 0"));
}

TEST(FusedOps, TheCpuRopeIsCheckedAgainstTheChainAtItsFirstUse) {
  torch::NoGradGuard no_grad;
  hrm::RotaryEmbedding rope(12, 5, 10000.0);
  const auto [cos, sin] = rope->forward();
  const Qkv t = make_qkv(torch::kBFloat16, torch::kCPU, 2, 5, 2, 2, 12);
  ASSERT_TRUE(hrm::rope_fused(t.q, t.k, cos, sin).has_value());
  const auto v = hrm::fused_verdicts();
  ASSERT_EQ(v.count("RoPE BFloat16 cpu D=12 path 0"), 1u) << "verdicts: " << v.size();
  EXPECT_TRUE(v.at("RoPE BFloat16 cpu D=12 path 0"));
}
