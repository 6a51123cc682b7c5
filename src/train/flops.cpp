// flops.cpp: see flops.h. Follows hrm_act_v1.py's forward: H_cycles x (L_cycles L passes + one H
// pass), each pass a stack of blocks over all seq_len + P tokens; lm_head over all tokens (the
// reference slices the puzzle positions off after the product); q_head on token 0.
#include "train/flops.h"

namespace hrm {

FlopCount count_flops(const HRMConfig& c, int64_t rows) {
  const double h = c.hidden_size, inter = c.intermediate_size(), T = c.total_seq_len();
  // One block, per token: qkv (num_key_value_heads = num_heads) and o_proj, SwiGLU gate_up and down,
  // then attention's scores and weighted sum over T keys (all heads together: h wide).
  const double block_per_token = 2 * (3 * h * h + h * h + 2 * h * inter + inter * h) + 2 * 2 * T * h;
  const double heads = T * 2 * h * c.vocab_size + 2 * h * 2;  // per row
  const double passes = static_cast<double>(c.H_cycles) * (c.L_cycles * c.L_layers + c.H_layers);
  const double grad_passes = static_cast<double>(c.L_layers + c.H_layers);  // 1-step gradient
  FlopCount f;
  f.forward_segment = static_cast<double>(rows) * (T * passes * block_per_token + heads);
  f.grad_segment = static_cast<double>(rows) * (T * grad_passes * block_per_token + heads);
  f.train_step = f.forward_segment * (c.halt_max_steps > 1 ? 2 : 1) + 2 * f.grad_segment;
  return f;
}

}  // namespace hrm
