// attention.cpp: see attention.h.
#include "model/attention.h"

#include <torch/torch.h>

#include <cmath>

namespace hrm {

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        AttentionBackend backend) {
  // [B, S, H, D] -> [B, H, S, D], the layout SDPA and the math path expect.
  auto qh = q.transpose(1, 2), kh = k.transpose(1, 2), vh = v.transpose(1, 2);
#if !HRM_TORCH_FALLBACK  // libtorch < 2 has no SDPA: there every call takes the math path (cmake/torch.cmake)
  if (backend == AttentionBackend::sdpa)
    return at::scaled_dot_product_attention(qh, kh, vh, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/false)
        .transpose(1, 2);  // [B, S, H, D]
#endif
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(qh, kh.transpose(-2, -1)) * scale;  // [B, H, S, S]
  const auto out = torch::matmul(torch::softmax(scores, -1), vh);
  return out.transpose(1, 2);  // [B, S, H, D]
}

AttentionImpl::AttentionImpl(int64_t hidden_size_, int64_t head_dim_, int64_t num_heads_, int64_t num_kv_heads_,
                             at::Generator gen)
    : hidden_size(hidden_size_),
      head_dim(head_dim_),
      output_size(head_dim_ * num_heads_),
      num_heads(num_heads_),
      num_key_value_heads(num_kv_heads_) {
  qkv_proj = register_module(
      "qkv_proj", CastedLinear(hidden_size, (num_heads + 2 * num_key_value_heads) * head_dim, false, gen));
  o_proj = register_module("o_proj", CastedLinear(output_size, hidden_size, false, gen));
}

torch::Tensor AttentionImpl::forward(const std::optional<CosSin>& cos_sin, const torch::Tensor& hidden_states) {
  const int64_t batch_size = hidden_states.size(0), seq_len = hidden_states.size(1);
  auto qkv = qkv_proj->forward(hidden_states);  // [B, S, (H + 2KV) * D]
  qkv = qkv.view({batch_size, seq_len, num_heads + 2 * num_key_value_heads, head_dim});
  auto query = qkv.narrow(2, 0, num_heads);
  auto key = qkv.narrow(2, num_heads, num_key_value_heads);
  auto value = qkv.narrow(2, num_heads + num_key_value_heads, num_key_value_heads);
  if (cos_sin) std::tie(query, key) = apply_rotary_pos_emb(query, key, cos_sin->first, cos_sin->second);
  auto attn_output = attention(query, key, value);  // [B, S, H, D]
  attn_output = attn_output.reshape({batch_size, seq_len, output_size});
  return o_proj->forward(attn_output);
}

}  // namespace hrm
