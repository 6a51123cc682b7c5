// hrm_act_v1.cpp: see hrm_act_v1.h (models/hrm/hrm_act_v1.py).
#include "model/hrm_act_v1.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

namespace hrm {

BlockImpl::BlockImpl(const HRMConfig& config, at::Generator gen) : norm_eps(config.rms_norm_eps) {
  self_attn = register_module("self_attn", Attention(config.hidden_size, config.head_dim(), config.num_heads,
                                                     config.num_heads, gen));
  mlp = register_module("mlp", SwiGLU(config.hidden_size, config.intermediate_size(), gen));
}

torch::Tensor BlockImpl::forward(const std::optional<CosSin>& cos_sin, torch::Tensor hidden_states) {
  // Post-norm, as the reference.
  hidden_states = rms_norm(hidden_states + self_attn->forward(cos_sin, hidden_states), norm_eps);
  hidden_states = rms_norm(hidden_states + mlp->forward(hidden_states), norm_eps);
  return hidden_states;
}

ReasoningModuleImpl::ReasoningModuleImpl(const HRMConfig& config, int num_layers, at::Generator gen) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < num_layers; ++i) layers->push_back(Block(config, gen));
}

torch::Tensor ReasoningModuleImpl::forward(torch::Tensor hidden_states, const torch::Tensor& input_injection,
                                           const std::optional<CosSin>& cos_sin) {
  hidden_states = hidden_states + input_injection;  // input injection (add)
  for (auto& layer : *layers) hidden_states = layer->as<Block>()->forward(cos_sin, hidden_states);
  return hidden_states;
}

InnerImpl::InnerImpl(const HRMConfig& config_, at::Generator gen) : config(config_) {
  config.validate();
  forward_dtype = dtype_from_name(config.forward_dtype);
  embed_scale = std::sqrt(static_cast<double>(config.hidden_size));
  const double embed_init_std = 1.0 / embed_scale;
  puzzle_emb_len = config.puzzle_emb_len();

  // Registration order = the reference's attribute order = its state-dict order.
  embed_tokens = register_module(
      "embed_tokens", CastedEmbedding(config.vocab_size, config.hidden_size, embed_init_std, forward_dtype, gen));
  lm_head = register_module("lm_head", CastedLinear(config.hidden_size, config.vocab_size, false, gen));
  q_head = register_module("q_head", CastedLinear(config.hidden_size, 2, true, gen));
  if (config.puzzle_emb_ndim > 0)  // zero-initialised, as the reference
    puzzle_emb = register_module("puzzle_emb", CastedSparseEmbedding(config.num_puzzle_identifiers,
                                                                     config.puzzle_emb_ndim, 0.0, forward_dtype, gen));
  if (config.pos_encodings == "rope")
    rotary_emb = register_module("rotary_emb", RotaryEmbedding(config.head_dim(), config.total_seq_len(), config.rope_theta));
  else
    embed_pos = register_module(
        "embed_pos", CastedEmbedding(config.total_seq_len(), config.hidden_size, embed_init_std, forward_dtype, gen));

  H_level = register_module("H_level", ReasoningModule(config, config.H_layers, gen));
  L_level = register_module("L_level", ReasoningModule(config, config.L_layers, gen));

  auto h = torch::empty({config.hidden_size});
  auto l = torch::empty({config.hidden_size});
  H_init = register_buffer("H_init", trunc_normal_init_(h, 1.0, gen).to(forward_dtype));
  L_init = register_buffer("L_init", trunc_normal_init_(l, 1.0, gen).to(forward_dtype));

  // Q head starts at (almost) zero so that bootstrapping learns faster (the reference's comment).
  torch::NoGradGuard no_grad;
  q_head->weight.zero_();
  q_head->bias.fill_(-5);
}

void InnerImpl::to_device(torch::Device device) {
  to(device);
  if (rotary_emb) rotary_emb->_apply_device(device);
  // Module::to replaces the registered tensors; refresh the members that alias them.
  H_init = named_buffers(false)["H_init"];
  L_init = named_buffers(false)["L_init"];
}

torch::Tensor InnerImpl::_input_embeddings(const torch::Tensor& input, const torch::Tensor& puzzle_identifiers) {
  auto embedding = embed_tokens->forward(input.to(torch::kInt32));  // [B, seq_len, hidden]
  if (config.puzzle_emb_ndim > 0) {
    auto puzzle_embedding = puzzle_emb->forward(puzzle_identifiers);  // [B, puzzle_emb_ndim]
    const int64_t pad_count = puzzle_emb_len * config.hidden_size - puzzle_embedding.size(-1);
    if (pad_count > 0) puzzle_embedding = torch::nn::functional::pad(
        puzzle_embedding, torch::nn::functional::PadFuncOptions({0, pad_count}));
    embedding = torch::cat({puzzle_embedding.view({-1, puzzle_emb_len, config.hidden_size}), embedding},
                           -2);  // [B, seq_len + P, hidden]
  }
  if (config.pos_encodings == "learned")  // scale by 1/sqrt(2) to keep the forward variance
    embedding = 0.707106781 * (embedding + embed_pos->embedding_weight.to(forward_dtype));
  return embed_scale * embedding;
}

InnerCarry InnerImpl::empty_carry(int64_t batch_size) const {
  // The reference uses torch.empty: the contents never matter since every row starts halted.
  auto opts = torch::TensorOptions().dtype(forward_dtype).device(H_init.device());
  return {torch::zeros({batch_size, config.total_seq_len(), config.hidden_size}, opts),
          torch::zeros({batch_size, config.total_seq_len(), config.hidden_size}, opts)};
}

InnerCarry InnerImpl::reset_carry(const torch::Tensor& reset_flag, const InnerCarry& carry) const {
  auto flag = reset_flag.view({-1, 1, 1});
  return {torch::where(flag, H_init, carry.z_H), torch::where(flag, L_init, carry.z_L)};
}

std::tuple<InnerCarry, torch::Tensor, std::pair<torch::Tensor, torch::Tensor>> InnerImpl::forward(
    const InnerCarry& carry, const Batch& batch) {
  std::optional<CosSin> cos_sin;
  if (rotary_emb) cos_sin = rotary_emb->forward();

  auto input_embeddings = _input_embeddings(batch.inputs, batch.puzzle_identifiers);  // [B, S+P, hidden]

  torch::Tensor z_H = carry.z_H, z_L = carry.z_L;
  {  // reference: `with torch.no_grad()`; NoGradGuard, not InferenceMode: z_H/z_L feed the grad step below
    torch::NoGradGuard no_grad;
    for (int _H_step = 0; _H_step < config.H_cycles; ++_H_step) {
      for (int _L_step = 0; _L_step < config.L_cycles; ++_L_step)
        if (!(_H_step == config.H_cycles - 1 && _L_step == config.L_cycles - 1))
          z_L = L_level->forward(z_L, z_H + input_embeddings, cos_sin);
      if (_H_step != config.H_cycles - 1) z_H = H_level->forward(z_H, z_L, cos_sin);
    }
  }
  // 1-step gradient: only the last L and H passes keep grad
  z_L = L_level->forward(z_L, z_H + input_embeddings, cos_sin);
  z_H = H_level->forward(z_H, z_L, cos_sin);

  InnerCarry new_carry{z_H.detach(), z_L.detach()};
  auto output = lm_head->forward(z_H).narrow(1, puzzle_emb_len, config.seq_len);  // [B, seq_len, vocab]
  auto q_logits = q_head->forward(z_H.select(1, 0)).to(torch::kFloat32);         // [B, 2]
  return {new_carry, output, {q_logits.select(-1, 0), q_logits.select(-1, 1)}};
}

HRMACTV1Impl::HRMACTV1Impl(const HRMConfig& config_, uint64_t seed)
    : config(config_), exploration_gen(at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x5eedULL)) {
  auto init_gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  inner = register_module("inner", Inner(config, init_gen));
}

Carry HRMACTV1Impl::initial_carry(const Batch& batch) const {
  const int64_t batch_size = batch.inputs.size(0);
  auto dev = batch.inputs.device();
  return Carry{inner->empty_carry(batch_size),
               torch::zeros({batch_size}, torch::TensorOptions().dtype(torch::kInt32).device(dev)),
               torch::ones({batch_size}, torch::TensorOptions().dtype(torch::kBool).device(dev)),  // all halted
               Batch{torch::zeros_like(batch.inputs), torch::zeros_like(batch.labels),
                     torch::zeros_like(batch.puzzle_identifiers)}};
}

std::pair<Carry, ModelOutputs> HRMACTV1Impl::forward(const Carry& carry, const Batch& batch) {
  // Halted rows restart: fresh state, step 0, and the new batch's row as their data.
  auto new_inner_carry = inner->reset_carry(carry.halted, carry.inner_carry);
  auto new_steps = torch::where(carry.halted, torch::zeros_like(carry.steps), carry.steps);
  auto take_new = [&](const torch::Tensor& fresh, const torch::Tensor& old) {
    std::vector<int64_t> shape(static_cast<size_t>(fresh.dim()), 1);
    shape[0] = -1;
    return torch::where(carry.halted.view(shape), fresh, old);
  };
  Batch new_current_data{take_new(batch.inputs, carry.current_data.inputs),
                         take_new(batch.labels, carry.current_data.labels),
                         take_new(batch.puzzle_identifiers, carry.current_data.puzzle_identifiers)};

  ModelOutputs outputs;
  std::pair<torch::Tensor, torch::Tensor> q;
  std::tie(new_inner_carry, outputs.logits, q) = inner->forward(new_inner_carry, new_current_data);
  outputs.q_halt_logits = q.first;
  outputs.q_continue_logits = q.second;

  torch::Tensor halted;
  {
    torch::NoGradGuard no_grad;
    new_steps = new_steps + 1;
    auto is_last_step = new_steps >= config.halt_max_steps;
    halted = is_last_step;
    // Evaluation always runs halt_max_steps segments, so every row of a batch halts together.
    if (is_training() && config.halt_max_steps > 1) {
      halted = halted | (outputs.q_halt_logits > outputs.q_continue_logits);
      // Exploration: a random minimum number of steps for some rows (drawn on the CPU generator).
      const int64_t B = new_steps.size(0);
      const int64_t G = exploration_rows > 0 ? exploration_rows : B;  // rows drawn (see exploration_rows)
      TORCH_CHECK(exploration_offset >= 0 && exploration_offset + B <= G, "exploration rows [", exploration_offset,
                  ", +", B, ") outside the global batch of ", G);
      auto explore = (torch::rand({G}, exploration_gen) < config.halt_exploration_prob).narrow(0, exploration_offset, B);
      auto min_steps =
          torch::randint(2, config.halt_max_steps + 1, {G}, exploration_gen, torch::kInt32).narrow(0, exploration_offset, B);
      auto min_halt_steps = explore.to(torch::kInt32) * min_steps;
      // A plain copy to CUDA from pageable memory waits for the device (cudaStreamSynchronize): pinned
      // and non-blocking, the step queues it and goes on.
      if (new_steps.is_cuda()) min_halt_steps = min_halt_steps.pin_memory().to(new_steps.device(), /*non_blocking=*/true);
      halted = halted & (new_steps >= min_halt_steps);

      // Target Q from one more segment on the new carry (no replay buffer or target network: PQN-style).
      auto next = inner->forward(new_inner_carry, new_current_data);
      auto next_q_halt_logits = std::get<2>(next).first, next_q_continue_logits = std::get<2>(next).second;
      outputs.target_q_continue = torch::sigmoid(torch::where(
          is_last_step, next_q_halt_logits, torch::maximum(next_q_halt_logits, next_q_continue_logits)));
    }
  }
  return {Carry{new_inner_carry, new_steps, halted, new_current_data}, outputs};
}

}  // namespace hrm
