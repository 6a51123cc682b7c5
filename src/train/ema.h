// ema.h: an exponential moving average of the model's weights, used for evaluation and saved.
// No counterpart in sapientinc/HRM@42410da; it follows EMAHelper of the TRM authors' follow-up
// (SamsungSAILMontreal/TinyRecursiveModels, models/ema.py), who report that it cures HRM's
// late-training divergence: after every optimizer step, shadow = (1 - rate)*param + rate*shadow,
// over the trainable parameters only (the sign-SGD puzzle-embedding table is a buffer there too,
// so evaluation uses its current values).
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace hrm::train {

class Ema {
 public:
  // Starts the shadow as a copy of the module's current parameters.
  Ema(torch::nn::Module& module, double rate);

  void update();  // after each optimizer step; no host sync

  // Swaps the shadow values into the module's parameters (calling it again swaps them back).
  void swap();

  double rate() const { return rate_; }
  // "ema.<param name>" -> shadow tensor, for training checkpoints; load_state needs every key.
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& st, const std::string& source);

 private:
  std::vector<std::string> names_;
  std::vector<torch::Tensor> params_, shadow_;
  double rate_;
};

// RAII: evaluates or saves with the averaged weights, then puts the trained ones back.
class EmaScope {
 public:
  explicit EmaScope(Ema* ema) : ema_(ema) {
    if (ema_) ema_->swap();
  }
  ~EmaScope() {
    if (ema_) ema_->swap();
  }
  EmaScope(const EmaScope&) = delete;
  EmaScope& operator=(const EmaScope&) = delete;

 private:
  Ema* ema_;
};

}  // namespace hrm::train
