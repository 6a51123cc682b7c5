// comm.h: one rank of a data-parallel run of `hrm train` on PyTorch's c10d: rendezvous through a
// TCPStore, ProcessGroupNCCL for CUDA tensors, ProcessGroupGloo on the CPU. No home-made transport.
// This header has no c10d includes (pimpl): the training loop sees only these few collectives.
// Mirrors what pretrain.py of sapientinc/HRM@42410da does with torch.distributed (init_process_group
// from the torchrun environment, broadcast, all_reduce, reduce to rank 0, all_gather_into_tensor).
// Differs: Gloo on CPU as well as NCCL (the reference is NCCL only); every collective is waited for with
// the configured timeout, and a failure (a dead peer, a timeout) becomes an hrm::Error naming this rank,
// the collective and the likely cause instead of a hang.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace hrm::dist {

// The launcher's environment (torchrun sets all five).
struct LaunchEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;
  int master_port = 0;
  // TORCHELASTIC_USE_AGENT_STORE=True (torchrun): torchrun's agent already hosts the TCPStore at
  // MASTER_ADDR:MASTER_PORT, so every rank, rank 0 included, connects to it as a client.
  bool agent_store = false;
};

// Reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (and TORCHELASTIC_USE_AGENT_STORE). nullopt when WORLD_SIZE is unset (a
// single-process run). A missing or malformed variable is a ConfigError naming it. LOCAL_RANK defaults
// to RANK when unset (one node).
std::optional<LaunchEnv> launch_env_from(const std::function<const char*(const char*)>& getenv);
std::optional<LaunchEnv> launch_env();

// False in a build on libtorch < 2 (Debian's libtorch-dev 1.13, the fallback of docs/BUILD.md): its c10d
// lacks the Backend-based process groups this file is built on, so there Comm's constructor throws a
// ConfigError saying so and a run with WORLD_SIZE > 1 stops before training.
bool comm_available();
// For `hrm --version`: the process groups this build has, e.g. "gloo (CPU), nccl (CUDA)".
std::string data_parallel_backends();

// For a rank that stops before it joins the rendezvous (its config file, dataset or resume state
// missing on this machine, a malformed override): joins it only to post `why`, so that the other
// ranks stop at once with this rank's reason (Comm's agreement) instead of waiting dist_timeout for
// it. Says so on `note`, and waits at most `patience` for the others. Does nothing without
// WORLD_SIZE > 1, once this process has begun a rendezvous (a Comm), or where data parallel is not
// built.
void post_startup_failure(const std::string& why, std::chrono::milliseconds patience, std::ostream& note);

class Comm {
 public:
  // Rendezvous (rank 0 hosts the TCPStore at MASTER_ADDR:MASTER_PORT) and the process group:
  // NCCL when `device` is CUDA (the caller has chosen cuda:LOCAL_RANK), Gloo on the CPU.
  // `timeout` bounds the rendezvous and every collective. Before the process group, the ranks agree:
  // a rank whose `startup_error` is not empty (it cannot train: say its GPU is missing), or ranks on
  // different backends, make every rank throw a ConfigError that says so, at once rather than after
  // the timeout.
  Comm(const LaunchEnv& env, torch::Device device, std::chrono::milliseconds timeout,
       const std::string& startup_error = "");
  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  int rank() const;
  int world_size() const;
  int local_rank() const;
  bool is_root() const { return rank() == 0; }
  torch::Device device() const;  // where this process group's tensors live
  const std::string& backend_name() const;

  // In place: every rank ends with the sum over ranks. float16/bfloat16 are reduced in float32 on Gloo.
  void all_reduce_sum(torch::Tensor& t, const char* what);
  // Several tensors, one collective per bucket of at most bucket_bytes (flattened, reduced, copied back).
  void all_reduce_sum_bucketed(const std::vector<torch::Tensor>& ts, int64_t bucket_bytes, const char* what);
  // In place on rank 0: the sum over ranks (other ranks' values are unspecified afterwards).
  void reduce_sum_to_root(torch::Tensor& t, const char* what);
  // In place: rank 0's values everywhere.
  void broadcast_from_root(torch::Tensor& t, const char* what);
  // Every rank's `t` (same shape on every rank) concatenated along dim 0, in rank order.
  torch::Tensor all_gather_cat(const torch::Tensor& t, const char* what);
  void barrier(const char* what);
  // Hands the gradients of `params` to c10d's Reducer (the engine of PyTorch's DDP): buckets of about
  // bucket_bytes (the first 1 MiB, as DDP) in reverse parameter order, each all-reduced (a sum, no
  // division by the world size) as soon as the backward has produced all its gradients, so the
  // communication overlaps the rest of the backward; the backward returns with the summed gradients.
  // Every parameter must receive a gradient in every backward (find_unused_parameters=False).
  void attach_gradient_reducer(const std::vector<torch::Tensor>& params, int64_t bucket_bytes);
  bool has_gradient_reducer() const;
  // Runs `backward`, prepared for the Reducer when one is attached; a collective failing inside it becomes
  // the same hrm::Error as any other.
  void run_backward(const std::function<void()>& backward);
  // Rank 0's string on every rank (two broadcasts: the length, then the bytes).
  std::string broadcast_string(const std::string& s, const char* what);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hrm::dist
