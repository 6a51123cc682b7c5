// adam_atan2.h: AdamATan2, the optimizer HRM trains all its parameters with.
// Mirrors the `adam-atan2` package that sapientinc/HRM@42410da imports (pretrain.py: AdamATan2;
// the CUDA kernel csrc/adam_atan2.cu in the version whose step size is lr / (1 - b1^t)), per element:
//   p *= 1 - lr*wd;  m = lerp(m, g, 1-b1);  v = lerp(v, g*g, 1-b2);
//   p -= lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))        (no epsilon)
// Differs: libtorch's multi-tensor (_foreach_) ops over all the parameters, plus one atan2 kernel per
// parameter, instead of the package's one fused kernel (the same formula; float32 results within
// ~1 ulp); works on CPU and CUDA (libtorch 1.13: one parameter at a time). The step count is kept per
// parameter on the host (the package keeps a float32 tensor per parameter), so a parameter that had no
// gradient in some step keeps its own bias correction, as in the reference.
// Note: a later version of the package moves 1/(1 - b1^t) inside atan2 (step size lr); the fixtures
// and SPEC section 2 use the form above, so this file does too.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hrm::optim {

struct AdamATan2Options {
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.95;
  double weight_decay = 0.1;
};

class AdamATan2 {
 public:
  // params: float32 or float64 leaf tensors (handles that share storage with the model's parameters);
  // their .grad() is read at each step. m and v are allocated here, zero, on each parameter's device.
  AdamATan2(std::vector<torch::Tensor> params, AdamATan2Options opts);

  // One update with the given (scheduled) lr; parameters whose grad is undefined are skipped
  // entirely (no decay, no moment update, their step count does not advance). No host sync.
  void step(double lr);
  // Sets every gradient to undefined (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  // Number of step() calls so far.
  int64_t step_count() const { return step_count_; }
  const AdamATan2Options& options() const { return opts_; }
  const std::vector<torch::Tensor>& params() const { return params_; }
  // The moments, in parameter order (for checkpoints and fixture checks).
  const std::vector<torch::Tensor>& exp_avg() const { return exp_avg_; }
  const std::vector<torch::Tensor>& exp_avg_sq() const { return exp_avg_sq_; }

  // Full state as named tensors: "step" (int64 scalar, step_count), and for each parameter name n
  // "exp_avg.<n>", "exp_avg_sq.<n>" (tensors on the parameter's device) and "step.<n>" (int64 scalar).
  // param_names must have one name per parameter, in parameter order.
  std::vector<std::pair<std::string, torch::Tensor>> state(const std::vector<std::string>& param_names) const;
  // Inverse of state(): every key above must be present with the parameter's shape; extra keys are an
  // error. Throws hrm::FormatError naming the key otherwise.
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& st,
                  const std::vector<std::string>& param_names);

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> exp_avg_;
  std::vector<torch::Tensor> exp_avg_sq_;
  std::vector<int64_t> param_steps_;  // t per parameter (bias corrections are computed on the host)
  int64_t step_count_ = 0;
  AdamATan2Options opts_;
};

}  // namespace hrm::optim
