// Tests for src/model/config.{h,cpp}: the reference's defaults, derived sizes and validation errors.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "core/check.h"
#include "model/config.h"
#include "model/hrm_act_v1.h"

namespace {

hrm::HRMConfig sudoku_config() {
  hrm::HRMConfig c;  // defaults = config/arch/hrm_v1.yaml with the Sudoku-Extreme dataset
  c.seq_len = 81;
  c.vocab_size = 11;
  c.num_puzzle_identifiers = 1;
  return c;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const hrm::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, DefaultSudokuModelHasTheReferenceParameterCount) {
  hrm::HRMACTV1 model(sudoku_config(), 0);
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  EXPECT_EQ(n, 27275266);  // the reference's count for the official Sudoku configuration
}

TEST(Config, DerivedSizesMatchTheReference) {
  auto c = sudoku_config();
  EXPECT_EQ(c.intermediate_size(), 1536);  // _find_multiple(round(4*512*2/3), 256)
  EXPECT_EQ(c.puzzle_emb_len(), 1);
  c.puzzle_emb_ndim = 513;
  EXPECT_EQ(c.puzzle_emb_len(), 2);  // ceil
  c.hidden_size = 32;
  c.expansion = 4.0;
  EXPECT_EQ(c.intermediate_size(), 256);
}

TEST(Config, ValidationNamesTheKeyAndAllowedValues) {
  auto c = sudoku_config();
  c.num_heads = 7;
  EXPECT_NE(error_of([&] { c.validate(); }).find("not divisible by 'num_heads'"), std::string::npos);
  c = sudoku_config();
  c.pos_encodings = "alibi";
  EXPECT_NE(error_of([&] { c.validate(); }).find("allowed values are rope, learned"), std::string::npos);
  c = sudoku_config();
  c.H_cycles = 0;
  EXPECT_NE(error_of([&] { c.validate(); }).find("'H_cycles'"), std::string::npos);
  c = sudoku_config();
  c.loss_type = "mse";
  EXPECT_NE(error_of([&] { c.validate(); }).find("softmax_cross_entropy"), std::string::npos);
}

TEST(Config, UnknownKeyNamesTheNearestValidKey) {
  hrm::HRMConfig c;
  auto msg = error_of([&] { c.set("H_cycle", "3"); });
  EXPECT_NE(msg.find("'H_cycles'"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { c.set("hidden_size", "big"); }).find("expected an integer"), std::string::npos);
  // Beyond 32 bits: an error, not a wrap to 32.
  EXPECT_NE(error_of([&] { c.set("hidden_size", "4294967328"); }).find("'hidden_size': 4294967328 is out of range"),
            std::string::npos);
  c.set("expansion", "2.5");
  EXPECT_DOUBLE_EQ(c.expansion, 2.5);
}

// Other trainers' names and shortened keys find the key meant, not merely the closest spelling.
TEST(Config, NearestKeyKnowsCommonAliasesAndShortenedKeys) {
  const std::vector<std::string> keys{"lr", "lr_min_ratio", "global_batch_size", "arch.name", "arch.hidden_size", "epochs"};
  EXPECT_EQ(hrm::nearest_key("learning_rate", keys), "lr");
  EXPECT_EQ(hrm::nearest_key("batch_size", keys), "global_batch_size");
  EXPECT_EQ(hrm::nearest_key("arch.hidden", keys), "arch.hidden_size");
  EXPECT_EQ(hrm::nearest_key("lrr", keys), "lr");
  EXPECT_EQ(hrm::nearest_key("epochz", keys), "epochs");
}
