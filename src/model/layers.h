// layers.h: the reference's building blocks.
// Mirrors models/layers.py and models/common.py of sapientinc/HRM@42410da: trunc_normal_init_,
// CastedLinear, CastedEmbedding, RotaryEmbedding (rotate_half, apply_rotary_pos_emb), SwiGLU, rms_norm.
// Attention lives in attention.h (the one device/version seam).
// Differences: initialisation takes an explicit generator (the reference draws from torch's
// global one); RoPE tables are plain members, not buffers (the reference's are non-persistent,
// so neither appears in a state dict).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <string>
#include <utility>

namespace hrm {

using CosSin = std::pair<torch::Tensor, torch::Tensor>;

torch::ScalarType dtype_from_name(const std::string& name);  // "bfloat16" | "float32" | "float16"

// JAX's truncated normal on [lower, upper] (in std units) with the std corrected so that the
// truncated distribution has std `std` (torch.nn.init.trunc_normal_ does not correct it).
torch::Tensor& trunc_normal_init_(torch::Tensor& tensor, double std, at::Generator gen, double lower = -2.0,
                                  double upper = 2.0);

// A CPU tensor cast to another dtype, kept while the tensor is unchanged (same storage, same version
// counter: every in-place ATen op bumps it, an optimizer's, a load's copy_, EMA's swap; what writes
// memory otherwise must bump it too: the collectives of src/dist, AdamATan2 after its update). Only
// with grad mode off (see cast_for_use in layers.cpp) and only on the CPU: a CUDA graph replay would
// read a cast made before the weights changed, and on a GPU the cast costs microseconds. forward()
// writes it: one thread at a time per module, as for any torch module with state.
struct CastCache {
  torch::Tensor cast, source;  // source: an alias of the tensor cast (same memory, same version counter)
  int64_t version = -1;
};

// Float32 master weight, cast to the input's dtype at use (the reference's CastedLinear). The
// no-grad H/L cycles call each block several times per segment with the same weights, and
// evaluation for every batch: those uses share one cast (CastCache) instead of casting each time.
struct CastedLinearImpl : torch::nn::Module {
  CastedLinearImpl(int64_t in_features, int64_t out_features, bool bias, at::Generator gen);
  torch::Tensor forward(const torch::Tensor& input);
  torch::Tensor weight, bias;
  CastCache weight_cast, bias_cast;
};
TORCH_MODULE(CastedLinear);

struct CastedEmbeddingImpl : torch::nn::Module {
  CastedEmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, double init_std, torch::ScalarType cast_to,
                      at::Generator gen);
  torch::Tensor forward(const torch::Tensor& input);
  torch::Tensor embedding_weight;
  torch::ScalarType cast_to;
};
TORCH_MODULE(CastedEmbedding);

// cos/sin tables [max_position_embeddings, dim] in float32, the frequency table concatenated twice.
struct RotaryEmbeddingImpl : torch::nn::Module {
  RotaryEmbeddingImpl(int64_t dim, int64_t max_position_embeddings, double base);
  CosSin forward() const { return {cos_cached, sin_cached}; }
  void _apply_device(torch::Device device);  // tables follow the model's device
  torch::Tensor cos_cached, sin_cached;
};
TORCH_MODULE(RotaryEmbedding);

torch::Tensor rotate_half(const torch::Tensor& x);
// q, k: [B, S, heads, head_dim]; cos, sin: [S, head_dim]. Computed in cos's dtype (float32), as the reference.
std::pair<torch::Tensor, torch::Tensor> apply_rotary_pos_emb(const torch::Tensor& q, const torch::Tensor& k,
                                                             const torch::Tensor& cos, const torch::Tensor& sin);
// The reference's op chains that model/fused_ops.h replaces: RoPE as above, and SwiGLU's
// silu(gate) * up on its projection's output [..., 2*I] (gate first).
std::pair<torch::Tensor, torch::Tensor> apply_rotary_pos_emb_unfused(const torch::Tensor& q, const torch::Tensor& k,
                                                                     const torch::Tensor& cos, const torch::Tensor& sin);
torch::Tensor swiglu_unfused(const torch::Tensor& gate_up);

struct SwiGLUImpl : torch::nn::Module {
  SwiGLUImpl(int64_t hidden_size, int64_t intermediate_size, at::Generator gen);
  torch::Tensor forward(const torch::Tensor& x);
  CastedLinear gate_up_proj = nullptr, down_proj = nullptr;
};
TORCH_MODULE(SwiGLU);

// x / sqrt(mean(x^2) + eps) in float32, no weight; returns the input's dtype. Through ATen's rms_norm
// when fused_kernels() (one fused kernel forward and one backward on CUDA; on the CPU ATen composes
// the reference's ops, bit-identical, tested); else the reference's ops one by one (libtorch 1.13 has
// no rms_norm).
torch::Tensor rms_norm(const torch::Tensor& hidden_states, double variance_epsilon);
torch::Tensor rms_norm_unfused(const torch::Tensor& hidden_states, double variance_epsilon);

// Process-wide: use fused kernels where they replace a chain of the reference's ops (default on):
// ATen's rms_norm, hrm's SwiGLU (CUDA) and RoPE (CUDA; CPU in bfloat16/float16) one-pass forms
// (model/fused_ops.h), and CastedLinear's reuse of a weight cast on the CPU (CastCache). `hrm --unfused`
// turns them all off, to measure what they bring.
void set_fused_kernels(bool on);
bool fused_kernels();

}  // namespace hrm
