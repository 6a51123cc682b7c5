// losses.cpp: see losses.h (models/losses.py).
#include "model/losses.h"

#include <torch/torch.h>

#include "core/check.h"

namespace hrm {

torch::Tensor stablemax_s(const torch::Tensor& x, double epsilon) {
  return torch::where(x < 0, 1 / (1 - x + epsilon), x + 1);
}

torch::Tensor log_stablemax(const torch::Tensor& x, int64_t dim) {
  auto s_x = stablemax_s(x);
  return torch::log(s_x / torch::sum(s_x, dim, /*keepdim=*/true));
}

torch::Tensor stablemax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, int64_t ignore_index) {
  auto logprobs = log_stablemax(logits.to(torch::kFloat64), -1);
  auto valid_mask = labels != ignore_index;
  auto transformed_labels = torch::where(valid_mask, labels, torch::zeros_like(labels));
  auto prediction_logprobs =
      torch::gather(logprobs, -1, transformed_labels.to(torch::kLong).unsqueeze(-1)).squeeze(-1);
  return -torch::where(valid_mask, prediction_logprobs, torch::zeros_like(prediction_logprobs));
}

torch::Tensor softmax_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, int64_t ignore_index) {
  namespace F = torch::nn::functional;
  auto flat = logits.to(torch::kFloat32).reshape({-1, logits.size(-1)});
  auto loss = F::cross_entropy(flat, labels.to(torch::kLong).reshape({-1}),
                               F::CrossEntropyFuncOptions().ignore_index(ignore_index).reduction(torch::kNone));
  return loss.reshape(labels.sizes());
}

ACTLossHeadImpl::ACTLossHeadImpl(HRMACTV1 model_, std::string loss_type_) : loss_type(std::move(loss_type_)) {
  if (loss_type != "stablemax_cross_entropy" && loss_type != "softmax_cross_entropy")
    HRM_THROW(ConfigError, "loss_type '", loss_type,
              "': allowed values are stablemax_cross_entropy, softmax_cross_entropy");
  model = register_module("model", model_);
}

LossHeadOutput ACTLossHeadImpl::forward(const Carry& carry, const Batch& batch) {
  namespace F = torch::nn::functional;
  auto [new_carry, outputs] = model->forward(carry, batch);
  const auto& labels = new_carry.current_data.labels;  // [B, seq_len]

  Metrics metrics;
  torch::Tensor loss_divisor, seq_is_correct;
  {
    torch::NoGradGuard no_grad;
    auto mask = labels != IGNORE_LABEL_ID;
    auto loss_counts = mask.sum(-1);
    loss_divisor = loss_counts.clamp_min(1).unsqueeze(-1);  // avoids NaN for rows without labels

    auto is_correct = mask & (torch::argmax(outputs.logits, -1) == labels);
    seq_is_correct = is_correct.sum(-1) == loss_counts;

    // Metrics count only rows that halted in this call and have labels.
    auto valid_metrics = new_carry.halted & (loss_counts > 0);
    auto zero = torch::zeros({}, torch::TensorOptions().device(labels.device()));
    metrics.emplace_back("count", valid_metrics.sum());
    metrics.emplace_back("accuracy",
                         torch::where(valid_metrics, (is_correct.to(torch::kFloat32) / loss_divisor).sum(-1), zero).sum());
    metrics.emplace_back("exact_accuracy", (valid_metrics & seq_is_correct).sum());
    metrics.emplace_back("q_halt_accuracy", (valid_metrics & ((outputs.q_halt_logits >= 0) == seq_is_correct)).sum());
    metrics.emplace_back("steps", torch::where(valid_metrics, new_carry.steps, torch::zeros_like(new_carry.steps)).sum());
  }

  auto per_token = loss_type == "stablemax_cross_entropy" ? stablemax_cross_entropy(outputs.logits, labels)
                                                          : softmax_cross_entropy(outputs.logits, labels);
  auto lm_loss = (per_token / loss_divisor).sum();
  auto q_halt_loss = F::binary_cross_entropy_with_logits(
      outputs.q_halt_logits, seq_is_correct.to(outputs.q_halt_logits.scalar_type()),
      F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum));
  metrics.emplace_back("lm_loss", lm_loss.detach());
  metrics.emplace_back("q_halt_loss", q_halt_loss.detach());

  torch::Tensor loss;
  if (outputs.target_q_continue.defined()) {
    auto q_continue_loss = F::binary_cross_entropy_with_logits(
        outputs.q_continue_logits, outputs.target_q_continue,
        F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum));
    metrics.emplace_back("q_continue_loss", q_continue_loss.detach());
    loss = lm_loss + 0.5 * (q_halt_loss + q_continue_loss);
  } else {
    loss = lm_loss + 0.5 * q_halt_loss;
  }
  auto all_halted = new_carry.halted.all();
  return {std::move(new_carry), loss, std::move(metrics), std::move(outputs), all_halted};
}

const torch::Tensor& metric(const Metrics& m, const std::string& name) {
  for (const auto& [k, v] : m)
    if (k == name) return v;
  HRM_THROW(Error, "no metric named '", name, "'");
}

}  // namespace hrm
