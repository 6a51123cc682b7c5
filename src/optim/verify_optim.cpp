// verify_optim.cpp: replays a fixture's optimizer steps and compares them (see verify_optim.h).
#include "optim/verify_optim.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "core/check.h"
#include "io/torch_file.h"
#include "optim/adam_atan2.h"
#include "optim/sign_sgd.h"

namespace hrm::optim {

namespace {

// concat/snprintf rather than fmt: this file then does not depend on which fmt (libtorch bundles its
// own headers) the include path resolves to.
using detail::concat;

std::string sci(double x, const char* spec = "%.3e") {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, x);
  return buf;
}

// A torch.save'd flat dict str -> Tensor, keys in file order.
struct PtDict {
  std::string path;
  std::vector<std::string> keys;
  std::map<std::string, torch::Tensor> tensors;

  bool has(const std::string& key) const { return tensors.count(key) != 0; }
  const torch::Tensor& at(const std::string& key) const {
    auto it = tensors.find(key);
    if (it == tensors.end()) HRM_THROW(FormatError, path, ": missing key '", key, "'");
    return it->second;
  }
  double scalar(const std::string& key) const {
    const torch::Tensor& t = at(key);
    if (t.numel() != 1) HRM_THROW(FormatError, path, ": '", key, "' must be a scalar, got shape ", t.sizes());
    return t.item<double>();
  }
};

// Through io::load_torch_file: a dict or an OrderedDict (torch::pickle_load reads no OrderedDict).
PtDict load_pt(const std::string& path) {
  PtDict d{path, {}, {}};
  for (auto& [key, tensor] : io::load_torch_file(path)) {
    d.keys.push_back(key);
    d.tensors.emplace(key, tensor);
  }
  return d;
}

// Error statistics of one tensor group (e.g. all parameters after step 1).
struct GroupCheck {
  std::string name;
  double max_abs = 0.0, max_rel = 0.0;
  bool pass = true;
  std::string worst;  // where the largest absolute error is (or the first shape mismatch)
  double worst_abs = -1.0;

  void add(const std::string& tensor, const torch::Tensor& got_t, const torch::Tensor& want_t) {
    if (got_t.sizes() != want_t.sizes()) {
      if (pass) worst = concat(tensor, ": shape ", got_t.sizes(), " vs expected ", want_t.sizes());
      pass = false;
      max_abs = max_rel = std::numeric_limits<double>::infinity();
      return;
    }
    if (got_t.numel() == 0) return;
    torch::Tensor got = got_t.detach().to(torch::kCPU, torch::kDouble).flatten();
    torch::Tensor want = want_t.detach().to(torch::kCPU, torch::kDouble).flatten();
    torch::Tensor diff = (got - want).abs().nan_to_num(std::numeric_limits<double>::infinity());
    // Relative to max(|want|, atol): a plain |want| would blow up on moments that are exactly zero.
    torch::Tensor rel = diff / want.abs().clamp_min(kOptimAtol);
    torch::Tensor bad = diff > kOptimAtol + kOptimRtol * want.abs();  // [n] bool
    const bool ok = !bad.any().item<bool>();
    const double a = diff.max().item<double>();
    max_abs = std::max(max_abs, a);
    max_rel = std::max(max_rel, rel.max().item<double>());
    // While all pass, name the largest error; on failure, the first mismatch of the first failing tensor.
    if (pass && (!ok || a > worst_abs)) {
      const int64_t i = ok ? diff.argmax().item<int64_t>() : bad.nonzero()[0][0].item<int64_t>();
      worst_abs = a;
      worst = concat(tensor, "[", i, "] got ", sci(got[i].item<double>(), "%.9g"), " expected ",
                     sci(want[i].item<double>(), "%.9g"));
    }
    pass = pass && ok;
  }

  std::string line() const {
    return concat("optim_step ", name, std::string(name.size() < 22 ? 22 - name.size() : 0, ' '), " max_abs ",
                  sci(max_abs), " max_rel ", sci(max_rel), " tol atol=", sci(kOptimAtol, "%.0e"),
                  " rtol=", sci(kOptimRtol, "%.0e"), " ", pass ? "PASS" : "FAIL", " (worst: ", worst, ")");
  }
};

// Number of steps k = 1, 2, ... for which optim_step.pt holds parameters or puzzle embeddings.
int count_steps(const PtDict& optim) {
  int k = 0;
  for (;; ++k) {
    const std::string pre = concat("param_", k + 1, ".");
    bool any = optim.has(concat("puzzle_emb_weights_", k + 1));
    for (const auto& key : optim.keys) any = any || key.rfind(pre, 0) == 0;
    if (!any) return k;
  }
}

}  // namespace

bool verify_optim_step(const std::string& fixture_dir, std::vector<std::string>& report, torch::Device device) {
  const PtDict weights = load_pt(fixture_dir + "/weights.pt");
  const PtDict train = load_pt(fixture_dir + "/train_step.pt");
  const PtDict optim = load_pt(fixture_dir + "/optim_step.pt");
  const int steps = count_steps(optim);
  if (steps == 0) HRM_THROW(FormatError, optim.path, ": no 'param_1.*' or 'puzzle_emb_weights_1' key");

  std::vector<std::string> names;  // parameters in file order
  std::vector<torch::Tensor> params;
  for (const auto& key : optim.keys) {
    if (key.rfind("param_1.", 0) != 0) continue;
    names.push_back(key.substr(8));
    params.push_back(weights.at(names.back()).to(device).clone().set_requires_grad(true));
  }
  AdamATan2 adam(params, {optim.scalar("lr"), optim.scalar("beta1"), optim.scalar("beta2"),
                          optim.scalar("weight_decay")});
  const std::string emb_key = "model.inner.puzzle_emb.weights";
  const bool has_emb = optim.has("puzzle_emb_weights_1");
  torch::Tensor emb = has_emb ? weights.at(emb_key).to(device).clone() : torch::Tensor();

  bool all_pass = true;
  for (int k = 1; k <= steps; ++k) {
    for (size_t i = 0; i < params.size(); ++i)
      params[i].mutable_grad() = train.at(concat("grad_", k, ".", names[i])).to(device);
    adam.step(optim.scalar("lr"));  // constant lr: the fixture has no schedule
    adam.zero_grad();
    GroupCheck p{concat("param_", k)}, m{concat("exp_avg_", k)}, v{concat("exp_avg_sq_", k)};
    for (size_t i = 0; i < params.size(); ++i) {
      p.add(names[i], params[i], optim.at(concat("param_", k, ".", names[i])));
      m.add(names[i], adam.exp_avg()[i], optim.at(concat("exp_avg_", k, ".", names[i])));
      v.add(names[i], adam.exp_avg_sq()[i], optim.at(concat("exp_avg_sq_", k, ".", names[i])));
    }
    std::vector<GroupCheck> groups{p, m, v};
    if (has_emb) {
      sparse_sign_sgd_step(emb, train.at(concat("grad_", k, ".model.inner.puzzle_emb.local_weights")).to(device),
                           train.at(concat("local_ids_", k)).to(device), optim.scalar("puzzle_emb_lr"),
                           optim.scalar("puzzle_emb_weight_decay"));
      GroupCheck e{concat("puzzle_emb_weights_", k)};
      e.add(emb_key, emb, optim.at(concat("puzzle_emb_weights_", k)));
      groups.push_back(e);
    }
    for (const auto& g : groups) {
      report.push_back(g.line());
      all_pass = all_pass && g.pass;
    }
  }
  return all_pass;
}

}  // namespace hrm::optim
