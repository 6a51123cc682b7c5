// flops.h: analytic FLOP count of the HRM ACT v1 forward and training step, for MFU figures.
// Counts matrix products and attention (2 FLOPs per multiply-add); norms, activations, RoPE and
// the losses are left out (a few percent of the total at hidden 512). Checked against the figures
// the reference's measurements quote: 28.1 TFLOP per Sudoku training step at batch 768.
#pragma once

#include <cstdint>

#include "model/config.h"

namespace hrm {

struct FlopCount {
  double forward_segment = 0;  // one ACT segment's forward (z cycles, lm_head, q_head): an evaluation step
  double grad_segment = 0;     // the part of a segment that keeps grad (the last L and H passes, heads)
  // A training step: the forward, the target-Q forward (a second full segment, only when
  // halt_max_steps > 1), and a backward of twice the forward FLOPs of the grad-keeping part.
  double train_step = 0;
};

// For `rows` batch rows of config `c` (seq_len + puzzle_emb_len tokens each).
FlopCount count_flops(const HRMConfig& c, int64_t rows);

}  // namespace hrm
