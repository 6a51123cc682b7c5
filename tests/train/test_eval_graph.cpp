// test_eval_graph.cpp: the evaluation ACT step replayed from a CUDA graph computes what the eager step
// computes, segment after segment, and a new batch shape is captured anew.
#include <gtest/gtest.h>

#include <torch/cuda.h>
#include <torch/torch.h>

#include "core/check.h"
#include "train/eval_graph.h"

namespace hrm::train {
namespace {

HRMConfig graph_config(int batch) {
  HRMConfig c;
  c.batch_size = batch;
  c.seq_len = 16;
  c.puzzle_emb_ndim = 32;
  c.num_puzzle_identifiers = 5;
  c.vocab_size = 6;
  c.H_layers = c.L_layers = 2;
  c.hidden_size = 32;
  c.num_heads = 4;
  c.halt_max_steps = 4;
  c.forward_dtype = "float32";
  return c;
}

Batch random_batch(const HRMConfig& c, torch::Device d) {
  auto o = torch::TensorOptions().dtype(torch::kInt32).device(d);
  return Batch{torch::randint(1, c.vocab_size, {c.batch_size, c.seq_len}, o),
               torch::randint(1, c.vocab_size, {c.batch_size, c.seq_len}, o),
               torch::randint(0, c.num_puzzle_identifiers, {c.batch_size}, o)};
}

TEST(EvalStepGraph, RefusesCpuTensorsAndTrainMode) {
  const HRMConfig c = graph_config(2);
  ACTLossHead head(HRMACTV1(c, 0), c.loss_type);
  const Batch batch = random_batch(c, torch::kCPU);
  EvalStepGraph graph(true);
  EXPECT_THROW(graph.forward(head, head->initial_carry(batch), batch), Error);  // train mode
  head->eval();
  EXPECT_THROW(graph.forward(head, head->initial_carry(batch), batch), Error);  // CPU
}

TEST(EvalStepGraph, DisabledItIsTheEagerStepOnAnyDevice) {
  const HRMConfig c = graph_config(3);
  ACTLossHead head(HRMACTV1(c, 0), c.loss_type);
  head->eval();
  torch::NoGradGuard no_grad;
  const Batch batch = random_batch(c, torch::kCPU);
  EvalStepGraph step(false);
  const LossHeadOutput a = head->forward(head->initial_carry(batch), batch);
  const LossHeadOutput b = step.forward(head, head->initial_carry(batch), batch);
  EXPECT_TRUE(torch::equal(a.outputs.logits, b.outputs.logits));
  EXPECT_TRUE(torch::equal(a.new_carry.inner_carry.z_H, b.new_carry.inner_carry.z_H));
}

TEST(EvalStepGraph, ReplaysWhatTheEagerStepComputes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!EvalStepGraph::available()) GTEST_SKIP() << "built without the CUDA toolkit's headers";
  torch::manual_seed(0);
  EvalStepGraph graph(true);
  for (const int batch_size : {3, 5, 3}) {  // a new shape recaptures; the first again works too
    const HRMConfig c = graph_config(batch_size);
    ACTLossHead head(HRMACTV1(c, 7), c.loss_type);
    head->model->to_device(torch::kCUDA);
    head->eval();
    c10::InferenceMode inference;
    const Batch batch = random_batch(c, torch::kCUDA);
    Carry eager = head->initial_carry(batch), graphed = head->initial_carry(batch);
    for (int k = 1; k <= c.halt_max_steps; ++k) {
      const LossHeadOutput a = head->forward(eager, batch);
      const LossHeadOutput b = graph.forward(head, graphed, batch);
      const std::string at = "batch " + std::to_string(batch_size) + " segment " + std::to_string(k);
      EXPECT_TRUE(torch::allclose(a.outputs.logits, b.outputs.logits, 1e-5, 1e-6)) << at;
      EXPECT_TRUE(torch::allclose(a.outputs.q_halt_logits, b.outputs.q_halt_logits, 1e-5, 1e-6)) << at;
      EXPECT_TRUE(torch::allclose(a.new_carry.inner_carry.z_H, b.new_carry.inner_carry.z_H, 1e-5, 1e-6)) << at;
      EXPECT_TRUE(torch::equal(a.new_carry.steps, b.new_carry.steps)) << at;
      EXPECT_TRUE(torch::equal(a.new_carry.halted, b.new_carry.halted)) << at;
      ASSERT_EQ(a.metrics.size(), b.metrics.size());
      for (size_t i = 0; i < a.metrics.size(); ++i)
        EXPECT_TRUE(torch::allclose(a.metrics[i].second.to(torch::kDouble), b.metrics[i].second.to(torch::kDouble),
                                    1e-5, 1e-6))
            << at << " " << a.metrics[i].first;
      eager = a.new_carry;
      graphed = b.new_carry;
    }
    EXPECT_TRUE(graphed.halted.all().item<bool>());
  }
}

}  // namespace
}  // namespace hrm::train
