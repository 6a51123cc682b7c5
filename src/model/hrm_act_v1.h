// hrm_act_v1.h: HRM ACT v1, the inner recurrent model and the ACT (adaptive computation time) wrapper.
// Mirrors models/hrm/hrm_act_v1.py (sapientinc/HRM@42410da): Block, ReasoningModule, Inner, and the
// ACT wrapper with the same names (z_H, z_L, H_cycles, L_cycles, q_halt_logits, puzzle_emb_len).
// Differences: batches are a struct (inputs, labels, puzzle_identifiers) instead of a dict; the
// exploration draws come from the model's own seeded CPU generator (the reference uses torch's
// global one), so the same seed halts the same rows on every device.
#pragma once

#include <optional>
#include <tuple>

#include <torch/nn/modules/container/modulelist.h>

#include "model/attention.h"
#include "model/config.h"
#include "model/layers.h"
#include "model/sparse_embedding.h"

namespace hrm {

// A batch as the reference's dict holds it: int32 tensors [B, seq_len], [B, seq_len], [B].
struct Batch {
  torch::Tensor inputs, labels, puzzle_identifiers;
};

struct InnerCarry {
  torch::Tensor z_H, z_L;  // [B, seq_len + puzzle_emb_len, hidden] in forward_dtype
};

struct Carry {
  InnerCarry inner_carry;
  torch::Tensor steps;   // [B] int32
  torch::Tensor halted;  // [B] bool
  Batch current_data;
};

struct ModelOutputs {
  torch::Tensor logits;             // [B, seq_len, vocab] forward_dtype
  torch::Tensor q_halt_logits;      // [B] float32
  torch::Tensor q_continue_logits;  // [B] float32
  torch::Tensor target_q_continue;  // [B] float32; defined only in training with halt_max_steps > 1
};

struct BlockImpl : torch::nn::Module {
  BlockImpl(const HRMConfig& config, at::Generator gen);
  torch::Tensor forward(const std::optional<CosSin>& cos_sin, torch::Tensor hidden_states);
  Attention self_attn = nullptr;
  SwiGLU mlp = nullptr;
  double norm_eps;
};
TORCH_MODULE(Block);

struct ReasoningModuleImpl : torch::nn::Module {
  ReasoningModuleImpl(const HRMConfig& config, int num_layers, at::Generator gen);
  torch::Tensor forward(torch::Tensor hidden_states, const torch::Tensor& input_injection,
                        const std::optional<CosSin>& cos_sin);
  torch::nn::ModuleList layers;
};
TORCH_MODULE(ReasoningModule);

struct InnerImpl : torch::nn::Module {
  InnerImpl(const HRMConfig& config, at::Generator gen);

  InnerCarry empty_carry(int64_t batch_size) const;
  InnerCarry reset_carry(const torch::Tensor& reset_flag, const InnerCarry& carry) const;
  // One ACT segment: returns (new carry, detached; logits; (q_halt_logits, q_continue_logits)).
  std::tuple<InnerCarry, torch::Tensor, std::pair<torch::Tensor, torch::Tensor>> forward(const InnerCarry& carry,
                                                                                         const Batch& batch);
  torch::Tensor _input_embeddings(const torch::Tensor& input, const torch::Tensor& puzzle_identifiers);
  void to_device(torch::Device device);  // Module::to plus the non-buffer RoPE tables

  HRMConfig config;
  torch::ScalarType forward_dtype;
  double embed_scale;
  int64_t puzzle_emb_len;

  CastedEmbedding embed_tokens = nullptr;
  CastedLinear lm_head = nullptr, q_head = nullptr;
  CastedSparseEmbedding puzzle_emb = nullptr;  // only when puzzle_emb_ndim > 0
  RotaryEmbedding rotary_emb = nullptr;       // pos_encodings == rope
  CastedEmbedding embed_pos = nullptr;        // pos_encodings == learned
  ReasoningModule H_level = nullptr, L_level = nullptr;
  torch::Tensor H_init, L_init;  // [hidden] buffers in forward_dtype
};
TORCH_MODULE(Inner);

// The ACT wrapper (HierarchicalReasoningModel_ACTV1).
struct HRMACTV1Impl : torch::nn::Module {
  // `seed` drives the initialisation and, through a second stream, the halting exploration.
  HRMACTV1Impl(const HRMConfig& config, uint64_t seed = 0);

  Carry initial_carry(const Batch& batch) const;
  std::pair<Carry, ModelOutputs> forward(const Carry& carry, const Batch& batch);
  void to_device(torch::Device device) { inner->to_device(device); }

  HRMConfig config;
  Inner inner = nullptr;
  at::Generator exploration_gen;  // CPU generator; its state is part of a training checkpoint
  // Data parallel: the exploration draws are made for the whole global batch of `exploration_rows`
  // rows on every rank, which keeps rows [exploration_offset, +B): every rank's generator then stays in
  // step and a run draws the same numbers whatever its world size. 0 = this batch only (one process).
  int64_t exploration_rows = 0, exploration_offset = 0;
};
TORCH_MODULE(HRMACTV1);

}  // namespace hrm
