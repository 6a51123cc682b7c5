// layers.cpp: see layers.h (models/layers.py, models/common.py).
#include "model/layers.h"

#include <torch/torch.h>

#include <atomic>
#include <cmath>

#include "core/check.h"
#include "model/fused_ops.h"

namespace hrm {

torch::ScalarType dtype_from_name(const std::string& name) {
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float32") return torch::kFloat32;
  if (name == "float16") return torch::kFloat16;
  HRM_THROW(ConfigError, "forward_dtype '", name, "': allowed values are bfloat16, float32, float16");
}

torch::Tensor& trunc_normal_init_(torch::Tensor& tensor, double std, at::Generator gen, double lower, double upper) {
  torch::NoGradGuard no_grad;
  if (std == 0) {
    tensor.zero_();
    return tensor;
  }
  const double sqrt2 = std::sqrt(2.0);
  const double a = std::erf(lower / sqrt2), b = std::erf(upper / sqrt2);
  const double z = (b - a) / 2;
  const double c = 1.0 / std::sqrt(2 * M_PI);
  const double pdf_u = c * std::exp(-0.5 * lower * lower);
  const double pdf_l = c * std::exp(-0.5 * upper * upper);
  const double comp_std =
      std / std::sqrt(1 - (upper * pdf_u - lower * pdf_l) / z - std::pow((pdf_u - pdf_l) / z, 2));
  // Draw in float32 on the CPU whatever the destination: the same seed gives the same weights
  // on every device and dtype.
  auto t = torch::empty(tensor.sizes(), torch::kFloat32);
  t.uniform_(a, b, gen);
  t.erfinv_();
  t.mul_(sqrt2 * comp_std);
  t.clamp_(lower * comp_std, upper * comp_std);
  tensor.copy_(t);
  return tensor;
}

CastedLinearImpl::CastedLinearImpl(int64_t in_features, int64_t out_features, bool with_bias, at::Generator gen) {
  auto w = torch::empty({out_features, in_features});
  weight = register_parameter("weight", trunc_normal_init_(w, 1.0 / std::sqrt(static_cast<double>(in_features)), gen));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}));
}

namespace {
// `w` in dtype `t`: the cached cast where grad mode is off and `w` is unchanged since (bit-identical: the
// same cast of the same values), else a fresh cast (autograd's, when it records). Only grad mode off:
// a cast made under InferenceMode (evaluation) is an inference tensor, which autograd may not save.
torch::Tensor cast_for_use(const torch::Tensor& w, torch::ScalarType t, CastCache& cache) {
  if (w.scalar_type() == t) return w;
  if (!w.is_cpu()) {
    cache = {};  // moved to a GPU: no cache there, and the CPU copy is not kept alive
    return w.to(t);
  }
  if (!fused_kernels() || at::GradMode::is_enabled() || w.is_inference()) return w.to(t);
  const int64_t version = static_cast<int64_t>(w._version());
  if (!cache.cast.defined() || cache.cast.scalar_type() != t || !cache.source.defined() ||
      cache.source.data_ptr() != w.data_ptr() || cache.source.sizes() != w.sizes() || cache.version != version) {
    cache.source = w.detach();  // held: its memory cannot be freed and reused by another weight meanwhile
    cache.cast = cache.source.to(t);
    cache.version = version;
  }
  return cache.cast;
}
}  // namespace

torch::Tensor CastedLinearImpl::forward(const torch::Tensor& input) {
  const auto t = input.scalar_type();
  return torch::nn::functional::linear(input, cast_for_use(weight, t, weight_cast),
                                       bias.defined() ? cast_for_use(bias, t, bias_cast) : torch::Tensor());
}

CastedEmbeddingImpl::CastedEmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, double init_std,
                                         torch::ScalarType cast_to_, at::Generator gen)
    : cast_to(cast_to_) {
  auto w = torch::empty({num_embeddings, embedding_dim});
  embedding_weight = register_parameter("embedding_weight", trunc_normal_init_(w, init_std, gen));
}

torch::Tensor CastedEmbeddingImpl::forward(const torch::Tensor& input) {
  return torch::embedding(embedding_weight.to(cast_to), input);
}

RotaryEmbeddingImpl::RotaryEmbeddingImpl(int64_t dim, int64_t max_position_embeddings, double base) {
  auto inv_freq = 1.0 / torch::pow(base, torch::arange(0, dim, 2, torch::kFloat32) / static_cast<double>(dim));
  auto t = torch::arange(max_position_embeddings, torch::kFloat32);
  auto freqs = torch::outer(t, inv_freq);         // [S, dim/2]
  auto emb = torch::cat({freqs, freqs}, -1);      // [S, dim]
  cos_cached = emb.cos();
  sin_cached = emb.sin();
}

void RotaryEmbeddingImpl::_apply_device(torch::Device device) {
  cos_cached = cos_cached.to(device);
  sin_cached = sin_cached.to(device);
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, x.size(-1) - half);
  return torch::cat({-x2, x1}, -1);
}

std::pair<torch::Tensor, torch::Tensor> apply_rotary_pos_emb(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                                             const torch::Tensor& cos, const torch::Tensor& sin) {
  if (auto fused = rope_fused(q_in, k_in, cos, sin)) return *std::move(fused);
  return apply_rotary_pos_emb_unfused(q_in, k_in, cos, sin);
}

std::pair<torch::Tensor, torch::Tensor> apply_rotary_pos_emb_unfused(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                                                     const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto orig_dtype = q_in.scalar_type();
  auto q = q_in.to(cos.scalar_type());
  auto k = k_in.to(cos.scalar_type());
  auto c = cos.unsqueeze(-2), s = sin.unsqueeze(-2);  // [S, 1, head_dim]: broadcast over heads
  auto q_embed = q * c + rotate_half(q) * s;
  auto k_embed = k * c + rotate_half(k) * s;
  return {q_embed.to(orig_dtype), k_embed.to(orig_dtype)};
}

SwiGLUImpl::SwiGLUImpl(int64_t hidden_size, int64_t inter, at::Generator gen) {
  gate_up_proj = register_module("gate_up_proj", CastedLinear(hidden_size, inter * 2, false, gen));
  down_proj = register_module("down_proj", CastedLinear(inter, hidden_size, false, gen));
}

torch::Tensor SwiGLUImpl::forward(const torch::Tensor& x) {
  auto gate_up = gate_up_proj->forward(x);
  if (auto fused = swiglu_fused(gate_up)) return down_proj->forward(*fused);
  return down_proj->forward(swiglu_unfused(gate_up));
}

torch::Tensor swiglu_unfused(const torch::Tensor& gate_up) {
  auto gate_and_up = gate_up.chunk(2, -1);  // gate first, then up
  return torch::silu(gate_and_up[0]) * gate_and_up[1];
}

namespace {
std::atomic<bool> g_fused_kernels{true};
}  // namespace

void set_fused_kernels(bool on) { g_fused_kernels = on; }
bool fused_kernels() { return g_fused_kernels; }

torch::Tensor rms_norm(const torch::Tensor& hidden_states, double variance_epsilon) {
#if !HRM_TORCH_FALLBACK
  if (fused_kernels()) return at::rms_norm(hidden_states, {hidden_states.size(-1)}, {}, variance_epsilon);
#endif
  return rms_norm_unfused(hidden_states, variance_epsilon);
}

torch::Tensor rms_norm_unfused(const torch::Tensor& hidden_states, double variance_epsilon) {
  const auto input_dtype = hidden_states.scalar_type();
  auto h = hidden_states.to(torch::kFloat32);
  auto variance = h.square().mean(-1, /*keepdim=*/true);
  h = h * torch::rsqrt(variance + variance_epsilon);
  return h.to(input_dtype);
}

}  // namespace hrm
