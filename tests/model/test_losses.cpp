// Tests for src/model/losses.cpp: stablemax against a float64 formula, softmax CE on non-contiguous input.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "model/losses.h"

TEST(Stablemax, MatchesTheFloat64Formula) {
  auto x = torch::randn({4, 9}, torch::kFloat64) * 5;
  auto lp = hrm::log_stablemax(x);
  for (int64_t r = 0; r < 4; ++r) {
    double sum = 0;
    std::vector<double> s(9);
    for (int64_t j = 0; j < 9; ++j) {
      const double v = x[r][j].item<double>();
      s[j] = v < 0 ? 1.0 / (1.0 - v + 1e-30) : v + 1.0;
      sum += s[j];
    }
    for (int64_t j = 0; j < 9; ++j) EXPECT_NEAR(lp[r][j].item<double>(), std::log(s[j] / sum), 1e-12);
  }
}

TEST(Stablemax, CrossEntropyIsFloat64AndZeroAtIgnoredLabels) {
  auto logits = torch::randn({2, 3, 5});
  auto labels = torch::tensor({1, -100, 4, 0, 2, -100}, torch::kInt32).view({2, 3});
  auto ce = hrm::stablemax_cross_entropy(logits, labels);
  EXPECT_EQ(ce.scalar_type(), torch::kFloat64);
  EXPECT_EQ(ce[0][1].item<double>(), 0.0);
  EXPECT_EQ(ce[1][2].item<double>(), 0.0);
  EXPECT_NEAR(ce[0][0].item<double>(), -hrm::log_stablemax(logits.to(torch::kFloat64))[0][0][1].item<double>(), 1e-12);
}

TEST(SoftmaxCrossEntropy, WorksOnNonContiguousLogits) {
  // The reference's .view() fails here; reshape must not.
  auto base = torch::randn({5, 3, 4});
  auto logits = base.transpose(0, 1);  // [3, 5, 4], non-contiguous
  ASSERT_FALSE(logits.is_contiguous());
  auto labels = torch::randint(0, 4, {3, 5}, torch::kInt32);
  auto ce = hrm::softmax_cross_entropy(logits, labels);
  auto expected = torch::nn::functional::cross_entropy(logits.contiguous().view({-1, 4}), labels.view({-1}).to(torch::kLong),
                                                       torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  EXPECT_TRUE(torch::allclose(ce.view({-1}), expected));
}
