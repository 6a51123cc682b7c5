// adam_atan2.cpp: AdamATan2 (see adam_atan2.h for the formula and what differs from the package).
#include "optim/adam_atan2.h"

#include <cmath>
#include <map>

#include "core/check.h"

namespace hrm::optim {

namespace {

void check_options(const AdamATan2Options& o) {
  // Same ranges as the package's constructor.
  if (!(o.lr >= 0.0)) HRM_THROW(ConfigError, "AdamATan2: lr must be >= 0, got ", o.lr);
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0)) HRM_THROW(ConfigError, "AdamATan2: beta1 must be in [0, 1), got ", o.beta1);
  if (!(o.beta2 >= 0.0 && o.beta2 < 1.0)) HRM_THROW(ConfigError, "AdamATan2: beta2 must be in [0, 1), got ", o.beta2);
  if (!(o.weight_decay >= 0.0))
    HRM_THROW(ConfigError, "AdamATan2: weight_decay must be >= 0, got ", o.weight_decay);
}

// Element-wise updates of p, m, v with host-side constants (no device-to-host transfer).
#if HRM_TORCH_FALLBACK  // libtorch 1.13 has no _foreach_lerp_: one parameter at a time
void update(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v, int64_t t, double lr,
            const AdamATan2Options& o) {
  const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
  const double bias_correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
  p.mul_(1.0 - lr * o.weight_decay);  // decoupled weight decay, before the moments
  m.lerp_(g, 1.0 - o.beta1);
  v.lerp_(g * g, 1.0 - o.beta2);  // lerp, as the kernel: reproduces the fixture's v bit for bit
  torch::Tensor denom = v.sqrt().div_(std::sqrt(bias_correction2));
  p.add_(torch::atan2(m, denom), -lr / bias_correction1);
}

#else
// The update for every parameter of one step count t at once, as multi-tensor (_foreach_) ops: on CUDA a
// few fused kernels for all the parameters instead of eight per parameter (atan2 has no multi-tensor
// form: one kernel each); on the CPU the same per-tensor ops as the form above, bit for bit.
void update_group(std::vector<torch::Tensor> p, std::vector<torch::Tensor> g, std::vector<torch::Tensor> m,
                  std::vector<torch::Tensor> v, int64_t t, double lr, const AdamATan2Options& o) {
  const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
  const double bias_correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
  torch::_foreach_mul_(p, 1.0 - lr * o.weight_decay);
  torch::_foreach_lerp_(m, g, 1.0 - o.beta1);
  torch::_foreach_lerp_(v, torch::_foreach_mul(g, g), 1.0 - o.beta2);
  std::vector<torch::Tensor> step = torch::_foreach_sqrt(v);
  torch::_foreach_div_(step, std::sqrt(bias_correction2));
  for (size_t i = 0; i < step.size(); ++i) step[i] = torch::atan2(m[i], step[i]);
  torch::_foreach_add_(p, step, -lr / bias_correction1);
}
#endif

}  // namespace

AdamATan2::AdamATan2(std::vector<torch::Tensor> params, AdamATan2Options opts)
    : params_(std::move(params)), opts_(opts) {
  check_options(opts_);
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i];
    HRM_CHECK(p.defined(), "AdamATan2: parameter ", i, " is undefined");
    HRM_CHECK(p.scalar_type() == torch::kFloat || p.scalar_type() == torch::kDouble, "AdamATan2: parameter ", i,
              " has dtype ", p.scalar_type(), "; only float32 and float64 parameters are supported");
    exp_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    exp_avg_sq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
  param_steps_.assign(params_.size(), 0);
}

void AdamATan2::step(double lr) {
  if (!(lr >= 0.0)) HRM_THROW(ConfigError, "AdamATan2: lr must be >= 0, got ", lr);
  torch::NoGradGuard no_grad;
  ++step_count_;
  std::map<int64_t, std::vector<size_t>> by_step;  // parameters with a gradient, by their step count t
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i];
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;  // as the package's _init_group: no grad, no update at all
    HRM_CHECK(g.sizes() == p.sizes() && g.device() == p.device() && g.scalar_type() == p.scalar_type(),
              "AdamATan2: gradient of parameter ", i, " (", g.sizes(), ", ", g.device(), ", ", g.scalar_type(),
              ") does not match the parameter (", p.sizes(), ", ", p.device(), ", ", p.scalar_type(), ")");
    HRM_CHECK(!g.is_sparse(), "AdamATan2: sparse gradients are not supported (parameter ", i, ")");
    by_step[++param_steps_[i]].push_back(i);
  }
  for (const auto& [t, group] : by_step) {
#if HRM_TORCH_FALLBACK
    for (size_t i : group) update(params_[i], params_[i].grad(), exp_avg_[i], exp_avg_sq_[i], t, lr, opts_);
#else
    std::vector<torch::Tensor> p, g, m, v;
    for (size_t i : group) {
      p.push_back(params_[i]);
      g.push_back(params_[i].grad());
      m.push_back(exp_avg_[i]);
      v.push_back(exp_avg_sq_[i]);
    }
    update_group(p, g, m, v, t, lr, opts_);
    // `_foreach_` ops bump version counters only where they fall back to one op per tensor (the CPU);
    // their fused CUDA kernels do not (pytorch#89591). The counter says "these weights changed" to
    // model/layers.h CastCache: say it here, whatever ran.
    for (auto& param : p)
      if (!param.is_inference()) param.unsafeGetTensorImpl()->bump_version();
#endif
  }
}

void AdamATan2::zero_grad() {
  for (auto& p : params_) {
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
}

std::vector<std::pair<std::string, torch::Tensor>> AdamATan2::state(
    const std::vector<std::string>& param_names) const {
  HRM_CHECK(param_names.size() == params_.size(), "AdamATan2::state: ", param_names.size(), " names for ",
            params_.size(), " parameters");
  std::vector<std::pair<std::string, torch::Tensor>> st;
  st.emplace_back("step", torch::tensor(step_count_, torch::kLong));
  for (size_t i = 0; i < params_.size(); ++i) {
    st.emplace_back("exp_avg." + param_names[i], exp_avg_[i]);
    st.emplace_back("exp_avg_sq." + param_names[i], exp_avg_sq_[i]);
    st.emplace_back("step." + param_names[i], torch::tensor(param_steps_[i], torch::kLong));
  }
  return st;
}

namespace {

const torch::Tensor& take(std::map<std::string, torch::Tensor>& by_name, const std::string& key) {
  auto it = by_name.find(key);
  if (it == by_name.end()) HRM_THROW(FormatError, "AdamATan2 state: missing key '", key, "'");
  return it->second;
}

int64_t scalar_step(const torch::Tensor& t, const std::string& key) {
  if (t.numel() != 1 || t.is_floating_point() || t.is_complex())
    HRM_THROW(FormatError, "AdamATan2 state: '", key, "' must be one integer, got ", t.scalar_type(), " ",
              t.sizes());
  const int64_t v = t.item<int64_t>();
  if (v < 0) HRM_THROW(FormatError, "AdamATan2 state: '", key, "' must be >= 0, got ", v);
  return v;
}

}  // namespace

void AdamATan2::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& st,
                           const std::vector<std::string>& param_names) {
  HRM_CHECK(param_names.size() == params_.size(), "AdamATan2::load_state: ", param_names.size(), " names for ",
            params_.size(), " parameters");
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [k, v] : st)
    if (!by_name.emplace(k, v).second) HRM_THROW(FormatError, "AdamATan2 state: duplicate key '", k, "'");
  if (by_name.size() != 1 + 3 * params_.size()) {
    // Name the first key that is not ours, so a checkpoint of another model says why it fails.
    std::map<std::string, bool> ours{{"step", true}};
    for (const auto& n : param_names)
      for (const char* pre : {"exp_avg.", "exp_avg_sq.", "step."}) ours[pre + n] = true;
    for (const auto& [k, v] : by_name)
      if (!ours.count(k)) HRM_THROW(FormatError, "AdamATan2 state: unexpected key '", k, "'");
  }
  // Validate everything before changing anything, so a bad state leaves the optimizer as it was.
  const int64_t step_count = scalar_step(take(by_name, "step"), "step");
  std::vector<int64_t> steps(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    for (const char* pre : {"exp_avg.", "exp_avg_sq."}) {
      const std::string key = pre + param_names[i];
      const torch::Tensor& t = take(by_name, key);
      if (t.sizes() != params_[i].sizes() || !t.is_floating_point())
        HRM_THROW(FormatError, "AdamATan2 state: '", key, "' is ", t.scalar_type(), " ", t.sizes(),
                  ", expected a floating tensor of shape ", params_[i].sizes());
    }
    steps[i] = scalar_step(take(by_name, "step." + param_names[i]), "step." + param_names[i]);
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    exp_avg_[i].copy_(by_name.at("exp_avg." + param_names[i]));
    exp_avg_sq_[i].copy_(by_name.at("exp_avg_sq." + param_names[i]));
  }
  param_steps_ = steps;
  step_count_ = step_count;
}

}  // namespace hrm::optim
