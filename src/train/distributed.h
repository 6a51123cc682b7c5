// distributed.h: the data-parallel parts of `hrm train` (docs/DISTRIBUTED.md), on top of dist::Comm.
// Mirrors what pretrain.py of sapientinc/HRM@42410da does when WORLD_SIZE > 1: parameters and
// buffers broadcast from rank 0 after the model is built, gradients summed over ranks after the
// backward (the loss is already divided by the GLOBAL batch size, so a sum is the global gradient),
// the sign-SGD step fed with every rank's embedding gradients and ids, metrics reduced to rank 0.
// Differs: gradients go in buckets (one all-reduce per ~25 MB instead of one per parameter), with a
// flag that makes the skip-a-non-finite-step decision the same on every rank; the ACT carry is
// checkpointed as the global batch (the ranks' rows gathered in rank order) so that a run resumes
// with another world size.
#pragma once

#include <memory>
#include <ostream>

#include "dist/comm.h"
#include "model/losses.h"
#include "optim/sign_sgd.h"
#include "train/pretrain_config.h"

namespace hrm::train {

// Reads the launcher's environment (dist::launch_env). With WORLD_SIZE > 1: checks that
// global_batch_size divides by the world size and joins the process group (Gloo for device=cpu, NCCL
// on cuda:LOCAL_RANK for device=cuda; timeout: config.dist_timeout). A rank that fails those checks
// still joins the rendezvous, to stop every rank with its error (dist::Comm). nullptr for one process.
std::unique_ptr<dist::Comm> init_distributed(const PretrainConfig& config);

// How many ranks hold another `mine` than rank 0 (a collective: every rank gets the count, so all
// can stop together); `root` receives rank 0's. `what` names it in collective errors.
int64_t ranks_unlike_root(dist::Comm& comm, const std::string& mine, const std::string& what, std::string& root);

// Makes every rank run rank 0's configuration (pretrain.py's load_synced_config): the run names and
// checkpoint_path that fill_names() derives from the clock come from rank 0, and a rank whose other
// keys differ stops with a ConfigError. config.device stays as given (all_config.yaml keeps `auto`
// or `cuda`, so the run evaluates elsewhere): each rank's device is its Comm's (cuda:LOCAL_RANK or the CPU).
void sync_config(dist::Comm& comm, PretrainConfig& config);

// Rank 0's parameters and buffers on every rank (pretrain.py's broadcast after create_model).
void broadcast_model(dist::Comm& comm, ACTLossHead& model);

// With config.dist_reducer, attaches c10d's Reducer to the parameters (dist::Comm::attach_gradient_reducer).
void setup_gradient_reduction(dist::Comm& comm, const PretrainConfig& config, const std::vector<torch::Tensor>& params);

// After the backward: sums `grads` over ranks in place (bucketed) unless the Reducer already did it in
// the backward, together with `local_bad`, a scalar on the device that is true where this rank saw a
// non-finite loss or embedding gradient; returns the summed flag (float32, 0: every rank was finite).
torch::Tensor all_reduce_gradients(dist::Comm& comm, const std::vector<torch::Tensor>& grads,
                                   const torch::Tensor& local_bad);

// What the ranks do after a step: stop (a rank was signalled), save the training state (rank 0's
// save_state_minutes clock).
struct StepRequests {
  bool stop = false, save = false;
};
// Each request of any rank, on every rank (a collective: all stop or save after the same step, so the
// state rank 0 saves is one run's).
StepRequests any_rank_requests(dist::Comm& comm, StepRequests mine);

// The sign-SGD hook: every rank's local embedding gradients and ids, concatenated in rank order.
optim::GatherGradsFn sign_sgd_all_gather(dist::Comm& comm);

// The carry of the global batch: every rank's rows gathered in rank order (a collective).
Carry gather_carry(dist::Comm& comm, const Carry& local);
// This rank's rows [rank * B / world, +B / world) of a global-batch carry.
Carry local_carry(const Carry& global, int rank, int world_size);

}  // namespace hrm::train
