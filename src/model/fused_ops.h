// fused_ops.h: one-pass forms of two chains of the reference's elementwise ops, bit-identical to them:
// SwiGLU's silu(gate) * up (CUDA: src/model/fused_cuda.cu says how), and RoPE's
// x*cos + rotate_half(x)*sin (CUDA, and plain C++ on the CPU; silu cannot be matched there, ATen's
// vectorised exp rounds differently). Taken only where no gradient flows through them (the no-grad H/L
// cycles, the target-Q forward, evaluation): the 1-step gradient passes keep the op chains and their
// autograd. Each returns nothing when it does not apply (SwiGLU off CUDA, CUDA without the kernels
// built, gradient needed, `hrm --unfused`, another dtype or layout); the caller then runs the op chain.
#pragma once

#include <torch/types.h>

#include <optional>
#include <utility>

namespace hrm {

// Built with the kernels (the CUDA toolkit was there at build time)?
bool fused_cuda_kernels_built();

// gate_up [..., 2*I] contiguous, gate first -> silu(gate) * up [..., I].
std::optional<torch::Tensor> swiglu_fused(const torch::Tensor& gate_up);

// q, k [B, S, H, D] (D contiguous; views of the qkv projection), cos, sin float32 [S, D] -> the rotated
// q and k, contiguous, in q's dtype.
std::optional<std::pair<torch::Tensor, torch::Tensor>> rope_fused(const torch::Tensor& q, const torch::Tensor& k,
                                                                  const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace hrm
