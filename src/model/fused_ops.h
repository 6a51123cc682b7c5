// fused_ops.h: one-pass forms of two chains of the reference's elementwise ops, bit-identical to them:
// SwiGLU's silu(gate) * up (CUDA: src/model/fused_cuda.cu says how), and RoPE's
// x*cos + rotate_half(x)*sin (CUDA, and plain C++ on the CPU; silu cannot be matched there, ATen's
// vectorised exp rounds differently). Taken only where no gradient flows through them (the no-grad H/L
// cycles, the target-Q forward, evaluation): the 1-step gradient passes keep the op chains and their
// autograd. Each returns nothing when it does not apply (SwiGLU off CUDA, CUDA without the kernels
// built, gradient needed, `hrm --unfused`, another dtype or layout); the caller then runs the op chain.
#pragma once

#include <torch/types.h>

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
// compared with the op chain it replaces at its first call per FusedKey; one that differs is not
// used again (the chain is), with one warning on stderr. The cost is one chain, a comparison and a
// host sync per key and process; afterwards a lookup per call.
struct FusedKey {
  const char* op;           // "SwiGLU", "RoPE" (a literal)
  torch::ScalarType dtype;
  torch::Device device;
  int64_t length;           // the rows' length: SwiGLU's I, RoPE's D
  int path;                 // the kernel's code path for these sizes (fused_cuda.h); 0 on the CPU
  bool operator<(const FusedKey& o) const;
  std::string str() const;  // "SwiGLU BFloat16 cuda:0 I=1536 path 0"
};

// The verdicts so far, by FusedKey::str(): true where the fused form equalled the chain.
std::map<std::string, bool> fused_verdicts();

namespace detail {
std::optional<bool> verdict(const FusedKey& key);  // nothing while undecided
bool capturing_cuda_graph(const torch::Tensor& t);
// Decides `key` from one comparison (see first_use_checked); whether `fused` may be used.
bool decide(const FusedKey& key, const std::vector<torch::Tensor>& fused, const std::vector<torch::Tensor>& chain);
}  // namespace detail

// fused() where `key` allows: nothing once the key's fused form differed, nor for an undecided key
// while a CUDA graph is being captured (no host sync allowed then). At an undecided key, compares
// fused() with chain() (equal values, NaN matching NaN) and decides the key: differs (warns once,
// returns nothing: the caller runs the chain) or equal (left undecided while the chain's values hold
// a NaN or an infinity: such inputs prove little).
template <typename Fused, typename Chain>
std::optional<std::vector<torch::Tensor>> first_use_checked(const FusedKey& key, const torch::Tensor& input, Fused&& fused,
                                                            Chain&& chain) {
  const std::optional<bool> known = detail::verdict(key);
  if (known == false || (!known && detail::capturing_cuda_graph(input))) return std::nullopt;
  std::vector<torch::Tensor> out = fused();
  if (!known && !detail::decide(key, out, chain())) return std::nullopt;
  return out;
}

}  // namespace hrm
