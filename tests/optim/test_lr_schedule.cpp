// test_lr_schedule.cpp: tests src/optim/lr_schedule.cpp against values computed by hand from
// pretrain.py's cosine_schedule_with_warmup_lr_lambda and init_train_state.
#include <gtest/gtest.h>

#include <cmath>

#include "core/check.h"
#include "optim/lr_schedule.h"

namespace hrm::optim {
namespace {

// base 1.0, warm-up 10, total 110 (so the cosine spans 100 steps), min_ratio 0.1.
double lr_at(int64_t step) { return cosine_schedule_with_warmup_lr(step, 1.0, 10, 110, 0.1); }

TEST(CosineScheduleWithWarmup, WarmupIsLinearFromTheFirstOneBasedStep) {
  EXPECT_DOUBLE_EQ(lr_at(1), 0.1);  // the first batch (train_state.step = 1) already has lr/warmup
  EXPECT_DOUBLE_EQ(lr_at(5), 0.5);
  EXPECT_DOUBLE_EQ(lr_at(9), 0.9);
  EXPECT_DOUBLE_EQ(lr_at(0), 0.0);
}

TEST(CosineScheduleWithWarmup, CosineFromBaseToMinRatio) {
  EXPECT_DOUBLE_EQ(lr_at(10), 1.0);               // progress 0
  EXPECT_NEAR(lr_at(35), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-15);  // progress 0.25
  EXPECT_NEAR(lr_at(60), 0.55, 1e-15);            // progress 0.5: halfway between 1.0 and 0.1
  EXPECT_NEAR(lr_at(110), 0.1, 1e-15);            // the last training step reaches lr * min_ratio
}

TEST(CosineScheduleWithWarmup, BeyondTotalStepsTheCosineRisesAgainAsInTheReference) {
  EXPECT_NEAR(lr_at(160), 0.55, 1e-15);  // progress 1.5; the driver stops at total_steps
}

TEST(CosineScheduleWithWarmup, MinRatioOneIsConstantAfterWarmup) {
  for (int64_t s : {10, 11, 500, 2000})
    EXPECT_DOUBLE_EQ(cosine_schedule_with_warmup_lr(s, 1e-4, 10, 2000, 1.0), 1e-4) << "step " << s;
  EXPECT_DOUBLE_EQ(cosine_schedule_with_warmup_lr(3, 1e-4, 10, 2000, 1.0), 3e-5);
}

TEST(CosineScheduleWithWarmup, NoWarmupAndDegenerateTotals) {
  EXPECT_DOUBLE_EQ(cosine_schedule_with_warmup_lr(0, 2.0, 0, 100, 0.0), 2.0);
  EXPECT_NEAR(cosine_schedule_with_warmup_lr(50, 2.0, 0, 100, 0.0), 1.0, 1e-15);
  // total_steps <= warmup: max(1, ...) keeps the division finite, progress = step - warmup.
  EXPECT_NEAR(cosine_schedule_with_warmup_lr(5, 2.0, 5, 5, 0.0), 2.0, 1e-15);
  EXPECT_NEAR(cosine_schedule_with_warmup_lr(6, 2.0, 5, 5, 0.0), 0.0, 1e-15);
}

TEST(TotalSteps, TruncatesLikePythonInt) {
  // Sudoku-Extreme recipe: 20000 epochs * 1000 groups * 1 example / 768 = 26041.67 -> 26041.
  EXPECT_EQ(total_steps(20000, 1000, 1.0, 768), 26041);
  // Default driver: 100000 epochs, 400 groups, 3.25 examples per puzzle, batch 768 -> 169270.83.
  EXPECT_EQ(total_steps(100000, 400, 3.25, 768), 169270);
  EXPECT_EQ(total_steps(3, 2, 1.0, 6), 1);
  EXPECT_EQ(total_steps(1, 5, 1.0, 6), 0);
  EXPECT_EQ(total_steps(0, 5, 1.0, 6), 0);
}

TEST(TotalSteps, RejectsNonsense) {
  EXPECT_THROW(total_steps(1, 1, 1.0, 0), ConfigError);
  EXPECT_THROW(total_steps(-1, 1, 1.0, 1), ConfigError);
  EXPECT_THROW(total_steps(1, 1, std::nan(""), 1), ConfigError);
  EXPECT_THROW(total_steps(INT64_MAX, 2, 1.0, 1), ConfigError);
}

}  // namespace
}  // namespace hrm::optim
