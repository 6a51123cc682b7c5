// attention.h: the reference's Attention module and the ONE seam that picks an attention kernel.
// Mirrors class Attention in models/layers.py (sapientinc/HRM@42410da). The reference calls
// flash_attn_func (CUDA only); here attention() uses scaled_dot_product_attention, which picks
// flash/memory-efficient kernels on CUDA and a fused kernel on CPU, with the math path kept for
// testing the two against each other (and for libtorch < 2, the Debian fallback, which has no SDPA).
#pragma once

#include <optional>

#include "model/layers.h"

namespace hrm {

enum class AttentionBackend { sdpa, math };

// Non-causal attention with scale 1/sqrt(head_dim). q, k, v: [B, S, heads, head_dim] (flash-attn layout);
// returns [B, S, heads, head_dim].
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        AttentionBackend backend = AttentionBackend::sdpa);

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int64_t hidden_size, int64_t head_dim, int64_t num_heads, int64_t num_key_value_heads, at::Generator gen);
  torch::Tensor forward(const std::optional<CosSin>& cos_sin, const torch::Tensor& hidden_states);

  int64_t hidden_size, head_dim, output_size, num_heads, num_key_value_heads;
  CastedLinear qkv_proj = nullptr, o_proj = nullptr;
};
TORCH_MODULE(Attention);

}  // namespace hrm
