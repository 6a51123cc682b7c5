// losses.h: stablemax and softmax cross-entropy, and the ACT loss head with its metrics.
// Mirrors models/losses.py (sapientinc/HRM@42410da). The loss function is chosen by name with an
// error for unknown names (the reference's `globals()[loss_type]`), and softmax_cross_entropy
// reshapes instead of `.view` (which fails on non-contiguous logits in the reference).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/hrm_act_v1.h"

namespace hrm {

constexpr int64_t IGNORE_LABEL_ID = -100;

torch::Tensor stablemax_s(const torch::Tensor& x, double epsilon = 1e-30);  // the reference's s(x)
torch::Tensor log_stablemax(const torch::Tensor& x, int64_t dim = -1);
// Per-position loss, 0 where labels == ignore_index. Stablemax is computed in float64.
torch::Tensor stablemax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                      int64_t ignore_index = IGNORE_LABEL_ID);
torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                    int64_t ignore_index = IGNORE_LABEL_ID);

// Metric names in the reference's order: count, accuracy, exact_accuracy, q_halt_accuracy, steps,
// lm_loss, q_halt_loss, q_continue_loss (training only). Values stay on the device (no host sync).
using Metrics = std::vector<std::pair<std::string, torch::Tensor>>;

struct LossHeadOutput {
  Carry new_carry;
  torch::Tensor loss;  // lm_loss + 0.5 * (q_halt_loss + q_continue_loss): a sum over rows
  Metrics metrics;
  ModelOutputs outputs;
  torch::Tensor all_halted;  // [] bool
};

struct ACTLossHeadImpl : torch::nn::Module {
  ACTLossHeadImpl(HRMACTV1 model, std::string loss_type);
  Carry initial_carry(const Batch& batch) const { return model->initial_carry(batch); }
  LossHeadOutput forward(const Carry& carry, const Batch& batch);

  HRMACTV1 model = nullptr;
  std::string loss_type;
};
TORCH_MODULE(ACTLossHead);

// Convenience: the metric of that name (throws if absent).
const torch::Tensor& metric(const Metrics& m, const std::string& name);

}  // namespace hrm
