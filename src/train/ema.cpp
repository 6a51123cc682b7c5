// ema.cpp: see ema.h (TRM's models/ema.py EMAHelper).
#include "train/ema.h"

#include <map>

#include "core/check.h"

namespace hrm::train {

Ema::Ema(torch::nn::Module& module, double rate) : rate_(rate) {
  HRM_CHECK(rate >= 0 && rate <= 1, "ema_rate must be in [0, 1], got ", rate);
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) {
    names_.push_back(p.key());
    params_.push_back(p.value());
    shadow_.push_back(p.value().detach().clone());
  }
}

void Ema::update() {
  torch::NoGradGuard no_grad;
  // shadow = (1 - rate) * param + rate * shadow, i.e. shadow += (1 - rate) * (param - shadow)
  for (size_t i = 0; i < params_.size(); ++i) shadow_[i].lerp_(params_[i].detach(), 1.0 - rate_);
}

void Ema::swap() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor tmp = params_[i].detach().clone();
    params_[i].detach().copy_(shadow_[i]);
    shadow_[i].copy_(tmp);
  }
}

std::vector<std::pair<std::string, torch::Tensor>> Ema::state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t i = 0; i < names_.size(); ++i) out.emplace_back("ema." + names_[i], shadow_[i]);
  return out;
}

void Ema::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& st, const std::string& source) {
  std::map<std::string, torch::Tensor> by_name(st.begin(), st.end());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < names_.size(); ++i) {
    auto it = by_name.find("ema." + names_[i]);
    if (it == by_name.end()) HRM_THROW(FormatError, source, ": missing EMA weights 'ema.", names_[i], "'");
    if (it->second.sizes() != shadow_[i].sizes())
      HRM_THROW(FormatError, source, ": 'ema.", names_[i], "' has shape ", it->second.sizes(), ", the model ",
                shadow_[i].sizes());
    shadow_[i].copy_(it->second);
  }
}

}  // namespace hrm::train
