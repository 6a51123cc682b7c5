// fused_ops.h: one-pass forms of two chains of the reference's elementwise ops, bit-identical to them:
// SwiGLU's silu(gate) * up (CUDA: src/model/fused_cuda.cu says how), and RoPE's
// x*cos + rotate_half(x)*sin (CUDA, and plain C++ on the CPU; silu cannot be matched there, ATen's
// vectorised exp rounds differently). Taken only where no gradient flows through them (the no-grad H/L
// cycles, the target-Q forward, evaluation): the 1-step gradient passes keep the op chains and their
// autograd. Each returns nothing when it does not apply (SwiGLU off CUDA, CUDA without the kernels
// built, gradient needed, `hrm --unfused`, another dtype or layout); the caller then runs the op chain.
#pragma once

#include <torch/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hrm {

// Built with the kernels (the CUDA toolkit was there at build time)?
bool fused_cuda_kernels_built();

// gate_up [..., 2*I] contiguous, gate first -> silu(gate) * up [..., I].
std::optional<torch::Tensor> swiglu_fused(const torch::Tensor& gate_up);

// q, k [B, S, H, D] (D contiguous; views of the qkv projection), cos, sin float32 [S, D] -> the rotated
// q and k, contiguous, in q's dtype.
std::optional<std::pair<torch::Tensor, torch::Tensor>> rope_fused(const torch::Tensor& q, const torch::Tensor& k,
                                                                  const torch::Tensor& cos, const torch::Tensor& sin);

// Trust, but verify: the CUDA kernels were compiled on machines without a GPU, and a kernel that
// computed something else would train a different model without a sound. So each fused form is
// compared with the op chain it replaces at its first call per (op, dtype, device, row length); one
// that differs is not used again (the chain's result is), with one warning on stderr. The cost is
// one chain and one host sync per key and process. The verdicts so far, e.g.
// "RoPE BFloat16 cpu D=16" -> true (identical).
std::map<std::string, bool> fused_verdicts();

// The check itself, exposed for its test: whether `fused` may stand for `chain()` under `key`. The first
// call per key compares them (equal values, NaN matching NaN), records the verdict and warns if they
// differ; later calls return the verdict. While a CUDA graph is being captured (no host sync
// allowed) an unchecked key is declined without a verdict.
bool first_use_check(const std::string& key, const std::vector<torch::Tensor>& fused,
                     const std::function<std::vector<torch::Tensor>()>& chain);

}  // namespace hrm
