// memory_estimate: the parameter and buffer counts agree with the model the config builds; a
// configuration that cannot fit is refused naming its sizes and the keys to lower, before anything
// is allocated (through the binary: no OOM kill, no run folder); the reference's runs and the demo pass.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli/cli_run.h"
#include "core/check.h"
#include "model/hrm_act_v1.h"
#include "train/memory_estimate.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;

int64_t numel_sum(const std::vector<torch::Tensor>& ts) {
  int64_t n = 0;
  for (const auto& t : ts) n += t.numel();
  return n;
}

HRMConfig small_config() {
  HRMConfig c;
  c.hidden_size = 64;
  c.num_heads = 4;
  c.H_layers = 2;
  c.L_layers = 1;
  c.batch_size = 8;
  return c;
}

TEST(MemoryEstimate, CountsTheParametersAndBuffersOfTheModelItSizes) {
  std::vector<HRMConfig> configs(5, small_config());
  configs[1].pos_encodings = "learned";
  configs[2].puzzle_emb_ndim = 128;  // two puzzle tokens
  configs[2].num_puzzle_identifiers = 37;
  configs[3].puzzle_emb_ndim = 0;
  configs[3].expansion = 2.5;
  configs[3].vocab_size = 13;
  configs[4] = HRMConfig{};  // the reference's Sudoku model: 27,275,266 parameters
  for (const auto& c : configs) {
    const HRMACTV1 model(c, 0);
    const MemoryEstimate m = estimate_memory(c, ModelUse::evaluation, false, torch::kCUDA);
    EXPECT_EQ(m.parameters, numel_sum(model->parameters())) << c.pos_encodings << " " << c.puzzle_emb_ndim;
    EXPECT_EQ(m.buffers, numel_sum(model->buffers())) << c.pos_encodings << " " << c.puzzle_emb_ndim;
  }
  EXPECT_EQ(estimate_memory(HRMConfig{}, ModelUse::evaluation, false, torch::kCUDA).parameters, 27275266);
}

// On the CPU a bfloat16 model keeps a cast of every CastedLinear weight and bias (model/layers.h
// CastCache): the bound counts exactly those, 2 bytes each; float32 has no cast.
TEST(MemoryEstimate, OnTheCpuCountsTheKeptCastsOfTheCastedLayers) {
  HRMConfig c = small_config();
  c.forward_dtype = "bfloat16";
  const HRMACTV1 model(c, 0);
  int64_t casted = 0;
  for (const auto& m : model->modules())
    if (const auto* lin = dynamic_cast<const CastedLinearImpl*>(m.get()))
      casted += lin->weight.numel() + (lin->bias.defined() ? lin->bias.numel() : 0);
  EXPECT_GT(casted, 0);
  const auto extra = [&](ModelUse use) {
    return estimate_memory(c, use, false, torch::kCPU).weights_bytes - estimate_memory(c, use, false, torch::kCUDA).weights_bytes;
  };
  EXPECT_DOUBLE_EQ(extra(ModelUse::evaluation), 2.0 * static_cast<double>(casted));
  EXPECT_DOUBLE_EQ(extra(ModelUse::training), 2.0 * static_cast<double>(casted));
  c.forward_dtype = "float32";
  EXPECT_DOUBLE_EQ(extra(ModelUse::evaluation), 0.0);
}

TEST(MemoryEstimate, TrainingCountsOptimizerStateAndSavedActivationsOrGradients) {
  HRMConfig c = small_config();
  const MemoryEstimate eval = estimate_memory(c, ModelUse::evaluation, false, torch::kCUDA);
  const MemoryEstimate train = estimate_memory(c, ModelUse::training, false, torch::kCUDA);
  const MemoryEstimate ema = estimate_memory(c, ModelUse::training, true, torch::kCUDA);
  const double P = static_cast<double>(train.parameters);
  EXPECT_EQ(eval.optimizer_bytes, 0);
  EXPECT_DOUBLE_EQ(train.optimizer_bytes, 8.0 * P);  // exp_avg, exp_avg_sq
  EXPECT_DOUBLE_EQ(ema.optimizer_bytes, 12.0 * P);
  EXPECT_GT(train.state_bytes, eval.state_bytes);
  // zero_grad frees the gradients: they and the saved activations are never all alive together, so one
  // row counts the gradients (4 bytes a parameter), many rows count the activations (linear in rows).
  c.batch_size = 1;
  const double carry = 2.0 * c.total_seq_len() * c.hidden_size * 2;  // z_H, z_L in bfloat16
  EXPECT_DOUBLE_EQ(estimate_memory(c, ModelUse::training, false, torch::kCUDA).state_bytes, carry + 4.0 * P);
  c.batch_size = 4096;
  const double many = estimate_memory(c, ModelUse::training, false, torch::kCUDA).state_bytes;
  c.batch_size = 8192;
  EXPECT_DOUBLE_EQ(estimate_memory(c, ModelUse::training, false, torch::kCUDA).state_bytes, 2 * many);
  EXPECT_DOUBLE_EQ(estimate_memory(c, ModelUse::training, false, torch::kCUDA).weights_bytes, train.weights_bytes);
}

// The reference's Sudoku run (batch 768, bfloat16) fits an 80 GB card by this bound, as it does in practice.
TEST(MemoryEstimate, TheReferenceSudokuRunPassesOnAnEightyGigabyteCard) {
  const MemoryEstimate m = estimate_memory(HRMConfig{}, ModelUse::training, false, torch::kCUDA);
  EXPECT_LT(m.total(), 80e9) << m.total();
  EXPECT_NO_THROW(check_memory_fits(m, HRMConfig{}, 80e9, "device cuda:0"));
}

TEST(MemoryEstimate, WhatCannotFitIsAConfigErrorNamingSizesAndKeys) {
  HRMConfig c = small_config();
  c.batch_size = 5'000'000;
  const MemoryEstimate m = estimate_memory(c, ModelUse::training, false, torch::kCUDA);
  try {
    check_memory_fits(m, c, 16.0 * 1024 * 1024 * 1024, "device cpu");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("device cpu: this configuration needs at least"), std::string::npos) << msg;
    EXPECT_NE(msg.find("5000000 rows of " + std::to_string(c.total_seq_len()) + " tokens"), std::string::npos) << msg;
    EXPECT_NE(msg.find("16.0 GiB"), std::string::npos) << msg;
    EXPECT_NE(msg.find("global_batch_size"), std::string::npos) << msg;
    EXPECT_NE(msg.find("arch.hidden_size"), std::string::npos) << msg;
  }
}

TEST(MemoryEstimate, ThisMachinesLimitIsReadable) {
  const auto limit = memory_limit_bytes(torch::kCPU);
  ASSERT_TRUE(limit.has_value());
  EXPECT_GT(*limit, 256.0 * 1024 * 1024);
}

// Through the binary: a hidden_size no machine holds ends at once in an error, not in an OOM kill while
// the weights initialise, and leaves no run folder.
TEST(MemoryEstimate, TrainWithAModelTooLargeForTheMachineStopsBeforeAllocating) {
  testing::TempDir dir("memory_estimate");
  testing::write_tiny_dataset(dir.path / "data");
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  args.push_back("arch.hidden_size=262144");  // about 1.6e12 parameters
  const auto r = hrm::testing::run_hrm(args);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("this configuration needs at least"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "run" / "metrics.jsonl")) << r.output;
}

}  // namespace
}  // namespace hrm::train
