// distributed.cpp: see distributed.h.
#include "train/distributed.h"

#include "core/check.h"
#include "train/train_loop.h"

namespace hrm::train {

namespace {
constexpr int64_t kBucketBytes = 25 * 1024 * 1024;  // DDP's default bucket_cap_mb
}

std::unique_ptr<dist::Comm> init_distributed(const PretrainConfig& config) {
  const std::optional<dist::LaunchEnv> env = dist::launch_env();
  if (!env || env->world_size == 1) return nullptr;
  // What stops this rank alone (its GPU missing, a config of its own) goes to the others through the
  // rendezvous, so that they stop too instead of waiting dist_timeout for it.
  std::string startup_error;
  torch::Device device = torch::kCPU;
  try {
    if (config.global_batch_size % env->world_size != 0)
      HRM_THROW(ConfigError, "config key 'global_batch_size' = ", config.global_batch_size,
                ": must be a multiple of WORLD_SIZE = ", env->world_size, " (each rank trains an equal slice)");
    if (run_device(config).is_cuda()) {
      device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env->local_rank));
      parse_device(device.str());  // a clear error when this machine lacks that GPU
    }
  } catch (const std::exception& e) {  // ConfigError mostly; CUDA's own failures too
    const auto* c10_error = dynamic_cast<const c10::Error*>(&e);  // without libtorch's C++ backtrace
    startup_error = c10_error ? c10_error->what_without_backtrace() : e.what();
    device = torch::kCPU;
  }
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(config.dist_timeout * 1000.0));
  return std::make_unique<dist::Comm>(*env, device, timeout, startup_error);
}

int64_t ranks_unlike_root(dist::Comm& comm, const std::string& mine, const std::string& what, std::string& root) {
  root = comm.broadcast_string(mine, ("broadcast of the " + what).c_str());
  // Every rank learns of a mismatch (else rank 0 would wait in the next collective for a rank that stopped).
  torch::Tensor differ = torch::tensor({static_cast<int64_t>(mine != root)}, torch::TensorOptions().device(comm.device()));
  comm.all_reduce_sum(differ, ("all-reduce of the " + what + " check").c_str());
  return differ.item<int64_t>();
}

void sync_config(dist::Comm& comm, PretrainConfig& config) {
  config.checkpoint_path = comm.broadcast_string(config.checkpoint_path.value_or(""), "broadcast of the config");
  config.project_name = comm.broadcast_string(config.project_name.value_or(""), "broadcast of the config");
  config.run_name = comm.broadcast_string(config.run_name.value_or(""), "broadcast of the config");
  const std::string mine = to_yaml(config);
  std::string root;
  const int64_t differ = ranks_unlike_root(comm, mine, "config", root);
  if (mine != root)
    HRM_THROW(ConfigError, "rank ", comm.rank(), " was started with another configuration than rank 0; every rank ",
              "must get the same config file and overrides. Rank 0:\n", root, "rank ", comm.rank(), ":\n", mine);
  if (differ > 0)
    HRM_THROW(ConfigError, "rank ", comm.rank(), ": ", differ, " other rank(s) were started with another ",
              "configuration than rank 0 (their error shows both); every rank must get the same config file and overrides");
}

void broadcast_model(dist::Comm& comm, ACTLossHead& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    torch::Tensor t = p.detach();
    comm.broadcast_from_root(t, "broadcast of the parameters");
  }
  for (auto& b : model->buffers()) {
    torch::Tensor t = b.detach();
    comm.broadcast_from_root(t, "broadcast of the buffers");
  }
}

void setup_gradient_reduction(dist::Comm& comm, const PretrainConfig& config, const std::vector<torch::Tensor>& params) {
  if (config.dist_reducer) comm.attach_gradient_reducer(params, kBucketBytes);
}

torch::Tensor all_reduce_gradients(dist::Comm& comm, const std::vector<torch::Tensor>& grads,
                                   const torch::Tensor& local_bad) {
  torch::Tensor flag = local_bad.to(torch::kFloat32).reshape({1}).clone();
  if (comm.has_gradient_reducer()) {  // the gradients are summed already
    comm.all_reduce_sum(flag, "all-reduce of the non-finite flags");
    return flag;
  }
  std::vector<torch::Tensor> ts = grads;
  ts.push_back(flag);  // joins the last float32 bucket: no collective of its own
  comm.all_reduce_sum_bucketed(ts, kBucketBytes, "all-reduce of the gradients");
  return flag;
}

StepRequests any_rank_requests(dist::Comm& comm, StepRequests mine) {
  torch::Tensor flags = torch::tensor({mine.stop ? 1.0F : 0.0F, mine.save ? 1.0F : 0.0F}).to(comm.device());
  comm.all_reduce_sum(flags, "all-reduce of the stop and save requests");
  const torch::Tensor any = (flags > 0).cpu();
  return {any[0].item<bool>(), any[1].item<bool>()};
}

optim::GatherGradsFn sign_sgd_all_gather(dist::Comm& comm) {
  return [&comm](const torch::Tensor& grad, const torch::Tensor& ids) {
    return std::make_pair(comm.all_gather_cat(grad, "all-gather of the puzzle-embedding gradients"),
                          comm.all_gather_cat(ids, "all-gather of the puzzle-embedding ids"));
  };
}

Carry gather_carry(dist::Comm& comm, const Carry& c) {
  const char* what = "all-gather of the ACT carry";
  Carry g;
  g.inner_carry.z_H = comm.all_gather_cat(c.inner_carry.z_H, what);
  g.inner_carry.z_L = comm.all_gather_cat(c.inner_carry.z_L, what);
  g.steps = comm.all_gather_cat(c.steps, what);
  g.halted = comm.all_gather_cat(c.halted, what);
  g.current_data.inputs = comm.all_gather_cat(c.current_data.inputs, what);
  g.current_data.labels = comm.all_gather_cat(c.current_data.labels, what);
  g.current_data.puzzle_identifiers = comm.all_gather_cat(c.current_data.puzzle_identifiers, what);
  return g;
}

Carry local_carry(const Carry& g, int rank, int world_size) {
  const int64_t B = g.steps.size(0);
  HRM_CHECK(B % world_size == 0, "a carry of ", B, " rows does not split over ", world_size, " ranks");
  const int64_t n = B / world_size, lo = rank * n;
  auto rows = [&](const torch::Tensor& t) { return t.narrow(0, lo, n).clone(); };
  Carry c;
  c.inner_carry.z_H = rows(g.inner_carry.z_H);
  c.inner_carry.z_L = rows(g.inner_carry.z_L);
  c.steps = rows(g.steps);
  c.halted = rows(g.halted);
  c.current_data.inputs = rows(g.current_data.inputs);
  c.current_data.labels = rows(g.current_data.labels);
  c.current_data.puzzle_identifiers = rows(g.current_data.puzzle_identifiers);
  return c;
}

}  // namespace hrm::train
