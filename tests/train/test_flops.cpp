// count_flops: the analytic FLOP count behind the benches' MFU, checked against hand arithmetic and
// against the figures quoted for the reference on the Sudoku configuration.
#include <gtest/gtest.h>

#include "train/flops.h"

namespace hrm {
namespace {

// The reference's Sudoku config (HRMConfig's defaults): hidden 512, 8 heads, SwiGLU 1536, 4+4 layers,
// H/L cycles 2/2, seq 81 + 1 puzzle token, vocab 11, halt_max_steps 16.
TEST(CountFlops, SudokuConfigMatchesHandArithmetic) {
  const HRMConfig c;
  ASSERT_EQ(c.intermediate_size(), 1536);
  ASSERT_EQ(c.total_seq_len(), 82);
  // Per token and block: 2 (3*512*512 + 512*512 + 2*512*1536 + 1536*512) + 4*82*512 = 6,983,680.
  // A segment has 2 x (2*4 + 4) = 24 block passes; heads per row: 82*2*512*11 + 2*512*2 = 925,696.
  const double block = 6983680.0, heads = 925696.0;
  const FlopCount f = count_flops(c, 1);
  EXPECT_DOUBLE_EQ(f.forward_segment, 82 * 24 * block + heads);
  EXPECT_DOUBLE_EQ(f.grad_segment, 82 * 8 * block + heads);
  EXPECT_DOUBLE_EQ(f.train_step, 2 * f.forward_segment + 2 * f.grad_segment);  // with the target-Q forward
}

// Issue 6 quotes, for batch 768 on an H200: 28.1 TFLOP per training step (the target-Q forward
// included) and an arithmetic floor of 35.6 ms per step and 13.4 ms per evaluation step at 790 TFLOP/s.
TEST(CountFlops, SudokuBatch768MatchesTheQuotedReferenceFigures) {
  const FlopCount f = count_flops(HRMConfig{}, 768);
  EXPECT_NEAR(f.train_step / 1e12, 28.1, 0.06);  // 28.15: the quote truncates
  EXPECT_NEAR(f.train_step / 790e12 * 1e3, 35.6, 0.05);
  EXPECT_NEAR(f.forward_segment / 790e12 * 1e3, 13.4, 0.05);
}

TEST(CountFlops, OneHaltStepHasNoTargetQForward) {
  HRMConfig c;
  c.halt_max_steps = 1;
  const FlopCount f = count_flops(c, 3);
  EXPECT_DOUBLE_EQ(f.train_step, f.forward_segment + 2 * f.grad_segment);
}

TEST(CountFlops, ScalesLinearlyWithRowsAndWithCycles) {
  HRMConfig c;
  const FlopCount one = count_flops(c, 1), many = count_flops(c, 64);
  EXPECT_DOUBLE_EQ(many.train_step, 64 * one.train_step);
  c.H_cycles = 4;  // twice the block passes; the grad part (one L and one H pass) unchanged
  const FlopCount deeper = count_flops(c, 1);
  EXPECT_DOUBLE_EQ(deeper.grad_segment, one.grad_segment);
  const double heads = 82 * 2 * 512 * 11 + 2 * 512 * 2;
  EXPECT_DOUBLE_EQ(deeper.forward_segment - heads, 2 * (one.forward_segment - heads));
}

}  // namespace
}  // namespace hrm
