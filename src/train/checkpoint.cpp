// checkpoint.cpp: see checkpoint.h (pretrain.py save_train_state, evaluate.py's load).
#include "train/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/check.h"
#include "io/state_dict.h"

namespace fs = std::filesystem;

namespace hrm::train {
namespace {

const std::string kCompiledPrefix = "_orig_mod.";
constexpr int64_t kFormatVersion = 1;

torch::Tensor scalar(int64_t v) { return torch::tensor(v, torch::kInt64); }

// A train-state file as a name -> tensor map with checked access naming the file and key.
struct Loaded {
  std::string path;
  std::map<std::string, torch::Tensor> t;

  bool has(const std::string& k) const { return t.count(k) != 0; }
  const torch::Tensor& at(const std::string& k) const {
    auto it = t.find(k);
    if (it == t.end()) HRM_THROW(FormatError, path, ": missing key '", k, "' (not a complete hrm train state)");
    return it->second;
  }
  int64_t integer(const std::string& k) const {
    const torch::Tensor& v = at(k);
    if (v.numel() != 1 || v.is_floating_point()) HRM_THROW(FormatError, path, ": '", k, "' must be an integer scalar");
    return v.item<int64_t>();
  }
  // Every entry under `prefix`, with the prefix removed.
  io::StateDict with_prefix(const std::string& prefix) const {
    io::StateDict out;
    for (const auto& [k, v] : t)
      if (k.rfind(prefix, 0) == 0) out.emplace_back(k.substr(prefix.size()), v);
    return out;
  }
  io::StateDict starting_with(const std::string& prefix) const {  // keys kept whole
    io::StateDict out;
    for (const auto& [k, v] : t)
      if (k.rfind(prefix, 0) == 0) out.emplace_back(k, v);
    return out;
  }
};

// Shape [expected] and device of a carry tensor.
torch::Tensor carry_tensor(const Loaded& f, const std::string& key, const torch::Tensor& like, torch::Device device) {
  const torch::Tensor& v = f.at(key);
  if (v.sizes() != like.sizes() || v.scalar_type() != like.scalar_type())
    HRM_THROW(FormatError, f.path, ": '", key, "' is ", v.scalar_type(), " ", v.sizes(), ", the model's carry is ",
              like.scalar_type(), " ", like.sizes(), " (another global_batch_size or arch?)");
  return v.to(device);
}

}  // namespace

std::string model_checkpoint_path(const std::string& run_dir, int64_t step) {
  return (fs::path(run_dir) / ("step_" + std::to_string(step))).string();
}

std::string train_state_path(const std::string& run_dir) { return (fs::path(run_dir) / "train_state.pt").string(); }

io::StateDict model_checkpoint(ACTLossHead& model) {
  io::StateDict sd = io::state_dict(*model);
  for (auto& kv : sd) kv.first = kCompiledPrefix + kv.first;
  return sd;
}

void save_model_checkpoint(const std::string& path, ACTLossHead& model) {
  fs::create_directories(fs::path(path).parent_path());
  io::save_torch_file(path, model_checkpoint(model));
}

void load_model_checkpoint(const std::string& path, ACTLossHead& model, const io::LoadOptions& opts) {
  io::load_state_dict(*model, io::load_torch_file(path), path, opts);
}

io::StateDict train_state_dict(const TrainState& state, const data::SamplerState& sampler) {
  io::StateDict sd;
  sd.emplace_back("format_version", scalar(kFormatVersion));
  sd.emplace_back("step", scalar(state.step));
  sd.emplace_back("total_steps", scalar(state.total_steps));
  sd.emplace_back("iter", scalar(state.iter));
  sd.emplace_back("nonfinite_in_row", scalar(state.nonfinite_in_row));
  sd.emplace_back("nonfinite_total", scalar(state.nonfinite_total));
  for (const auto& [k, v] : io::state_dict(*state.model)) sd.emplace_back("weights." + k, v);
  for (const auto& [k, v] : state.adam->state(state.param_names)) sd.emplace_back("adam." + k, v);
  if (state.ema)
    for (const auto& kv : state.ema->state()) sd.push_back(kv);  // "ema.<name>"
  {
    at::Generator gen = state.model->model->exploration_gen;
    std::lock_guard<std::mutex> lock(gen.mutex());
    sd.emplace_back("exploration_gen", gen.get_state());
  }
  sd.emplace_back("sampler.iters", scalar(sampler.iters));
  sd.emplace_back("sampler.set_index", scalar(sampler.set_index));
  sd.emplace_back("sampler.position", scalar(sampler.position));
  sd.emplace_back("sampler.in_pass", scalar(sampler.in_pass ? 1 : 0));
  torch::Tensor rng = torch::empty({static_cast<int64_t>(sampler.rng_state.size())}, torch::kInt64);
  if (!sampler.rng_state.empty())  // uint64 words stored bit for bit as int64
    std::memcpy(rng.data_ptr<int64_t>(), sampler.rng_state.data(), sampler.rng_state.size() * sizeof(uint64_t));
  sd.emplace_back("sampler.rng_state", rng);
  if (state.carry) {
    const Carry& c = *state.carry;
    sd.emplace_back("carry.z_H", c.inner_carry.z_H);
    sd.emplace_back("carry.z_L", c.inner_carry.z_L);
    sd.emplace_back("carry.steps", c.steps);
    sd.emplace_back("carry.halted", c.halted);
    sd.emplace_back("carry.inputs", c.current_data.inputs);
    sd.emplace_back("carry.labels", c.current_data.labels);
    sd.emplace_back("carry.puzzle_identifiers", c.current_data.puzzle_identifiers);
  }
  return sd;
}

void save_train_state(const std::string& run_dir, const TrainState& state, const data::SamplerState& sampler) {
  fs::create_directories(run_dir);
  io::save_torch_file(train_state_path(run_dir), train_state_dict(state, sampler));
}

std::vector<std::string> checkpoint_names(const std::string& run_dir) {
  std::vector<std::pair<long long, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 5 && n.rfind("step_", 0) == 0 && n.size() < 24 && n.find_first_not_of("0123456789", 5) == std::string::npos)
      found.emplace_back(std::stoll(n.substr(5)), n);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& [step, n] : found) names.push_back(std::move(n));
  return names;
}

void require_train_state(const std::string& path) {
  if (fs::exists(path)) return;
  const std::vector<std::string> steps = checkpoint_names(fs::path(path).parent_path().string());
  HRM_THROW(Error, path, ": no training state to resume from (it is written at each evaluation)",
            steps.empty() ? std::string()
                          : "; the run's checkpoint " + steps.back() +
                                " has the weights only (the run stopped before its train_state.pt was saved): "
                                "evaluate it with hrm eval, or start a new run");
}

data::SamplerState load_train_state(const std::string& path, TrainState& state) {
  require_train_state(path);
  Loaded f{path, {}};
  for (auto& [k, v] : io::load_torch_file(path)) f.t.emplace(k, v);
  if (f.integer("format_version") != kFormatVersion)
    HRM_THROW(FormatError, path, ": train state format_version ", f.integer("format_version"), ", expected ",
              kFormatVersion);

  // Validate-then-apply where the pieces allow it: weights and optimizer check everything first.
  io::load_state_dict(*state.model, f.with_prefix("weights."), path);
  state.adam->load_state(f.with_prefix("adam."), state.param_names);
  if (state.ema) {
    if (f.starting_with("ema.").empty())
      state.ema = std::make_unique<Ema>(*state.model, state.ema->rate());  // EMA switched on now: start here
    else
      state.ema->load_state(f.starting_with("ema."), path);
  }
  {
    at::Generator gen = state.model->model->exploration_gen;
    std::lock_guard<std::mutex> lock(gen.mutex());
    try {
      gen.set_state(f.at("exploration_gen"));
    } catch (const c10::Error& e) {
      HRM_THROW(FormatError, path, ": 'exploration_gen' is not a CPU generator state: ", e.what_without_backtrace());
    }
  }
  state.step = f.integer("step");
  state.total_steps = f.integer("total_steps");
  state.iter = f.integer("iter");
  state.nonfinite_in_row = f.integer("nonfinite_in_row");
  state.nonfinite_total = f.integer("nonfinite_total");

  state.carry.reset();
  if (f.has("carry.z_H")) {
    const int64_t B = f.at("carry.steps").numel();
    Batch like{torch::zeros({B, state.model->model->config.seq_len}, torch::kInt32),
               torch::zeros({B, state.model->model->config.seq_len}, torch::kInt32), torch::zeros({B}, torch::kInt32)};
    Carry ref = state.model->initial_carry(Batch{like.inputs.to(state.device), like.labels.to(state.device),
                                                 like.puzzle_identifiers.to(state.device)});
    Carry c;
    c.inner_carry.z_H = carry_tensor(f, "carry.z_H", ref.inner_carry.z_H, state.device);
    c.inner_carry.z_L = carry_tensor(f, "carry.z_L", ref.inner_carry.z_L, state.device);
    c.steps = carry_tensor(f, "carry.steps", ref.steps, state.device);
    c.halted = carry_tensor(f, "carry.halted", ref.halted, state.device);
    c.current_data.inputs = carry_tensor(f, "carry.inputs", ref.current_data.inputs, state.device);
    c.current_data.labels = carry_tensor(f, "carry.labels", ref.current_data.labels, state.device);
    c.current_data.puzzle_identifiers =
        carry_tensor(f, "carry.puzzle_identifiers", ref.current_data.puzzle_identifiers, state.device);
    state.carry = c;
  }

  data::SamplerState s;
  s.iters = f.integer("sampler.iters");
  s.set_index = f.integer("sampler.set_index");
  s.position = f.integer("sampler.position");
  s.in_pass = f.integer("sampler.in_pass") != 0;
  const torch::Tensor& rng = f.at("sampler.rng_state");
  if (rng.scalar_type() != torch::kInt64 || rng.dim() != 1)
    HRM_THROW(FormatError, path, ": 'sampler.rng_state' must be a 1-d int64 tensor");
  s.rng_state.resize(static_cast<size_t>(rng.numel()));
  if (rng.numel() > 0) std::memcpy(s.rng_state.data(), rng.contiguous().data_ptr<int64_t>(), s.rng_state.size() * sizeof(uint64_t));
  return s;
}

}  // namespace hrm::train
