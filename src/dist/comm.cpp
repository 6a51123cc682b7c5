// comm.cpp: see comm.h. Only the abstract c10d::Backend and the TCPStore are used here.
#include "dist/comm.h"

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "core/check.h"
#include "dist/backends.h"
#include "dist/comm_impl.h"

namespace hrm::dist {

namespace {
std::atomic<bool> rendezvous_begun{false};  // by a Comm of this process: post_startup_failure stays out
}

bool comm_available() { return true; }

std::string data_parallel_backends() {
  return nccl_built() ? "gloo (CPU), nccl (CUDA)" : "gloo (CPU); no NCCL (built without nccl.h or the CUDA toolkit)";
}

namespace {

// "0-3, 5, 7-9": ranks as ranges.
std::string rank_list(const std::vector<int>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(ranks[i]);
    if (j > i) out += "-" + std::to_string(ranks[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace

void agree_to_start(c10d::Store& store, const LaunchEnv& env, const std::string& mine,
                    const std::string& startup_error, std::chrono::milliseconds timeout) {
  // Gloo and NCCL ranks cannot meet, and a rank that cannot start would leave the others waiting: both
  // hang until the timeout (30 minutes by default) without this. Rank 0 reads every rank's post and
  // posts one verdict, so that every rank stops at once with the same message.
  const std::string key = "agree_to_start/";
  try {
    const std::string post = startup_error.empty() ? mine : "!" + startup_error;
    store.set(key + std::to_string(env.rank), post);
    if (env.rank == 0) {
      std::map<std::string, std::vector<int>> by_post;  // identical posts together: 64 ranks, one line
      for (int r = 0; r < env.world_size; ++r)
        by_post[r == 0 ? post : get_string(store, key + std::to_string(r))].push_back(r);
      std::string failed, chose;
      for (const auto& [p, ranks] : by_post) {
        const std::string who = (ranks.size() == 1 ? "rank " : "ranks ") + rank_list(ranks);
        if (p.rfind('!', 0) == 0)
          failed += (failed.empty() ? "" : "; ") + who + ": " + p.substr(1);
        else
          chose += (chose.empty() ? "" : "; ") + who + " chose " + p;
      }
      std::string verdict = "agreed";
      if (!failed.empty())
        verdict = "not every rank could start (" + failed + ")";
      else if (by_post.size() > 1)
        verdict = "the ranks disagree on the process group (" + chose +
                  "). All ranks must use one backend: device=auto picks the GPU on a machine that has one, so on a "
                  "mix of machines with and without GPUs pass device=cpu to every rank, or start ranks only on "
                  "machines with GPUs; and give every rank the same configuration";
      store.set(key + "verdict", verdict);
    }
    const std::string verdict = get_string(store, key + "verdict");
    store.add(key + "read", 1);
    if (verdict == "agreed") return;
    // Rank 0 may host the store: stopping at once could take it down before the others have read the
    // verdict (they would report a lost store instead of the reason). A bounded wait for them.
    if (env.rank == 0) {
      const auto until = std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(10));
      while (store.add(key + "read", 0) < env.world_size && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    HRM_THROW(ConfigError, "rank ", env.rank, " of ", env.world_size, ": ", verdict);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    HRM_THROW(Error, "rank ", env.rank, " of ", env.world_size, ": agreeing on the process group through the TCPStore failed (",
              message_of(e), "); did every rank start? (timeout ", timeout.count() / 1000.0,
              " s, config key dist_timeout)", startup_error.empty() ? "" : "; this rank could not start: " + startup_error);
  }
}

Comm::Comm(const LaunchEnv& env, torch::Device device, std::chrono::milliseconds timeout,
           const std::string& startup_error)
    : impl_(std::make_unique<Impl>()) {
  rendezvous_begun = true;
  Impl& m = *impl_;
  m.env = env;
  m.device = device;
  m.timeout = timeout;
  m.backend_name = device.is_cuda() ? "nccl" : "gloo";
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0 && !env.agent_store;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    so.multiTenant = true;
    // Our keys under a prefix: the store may be torchrun's, shared with its agent. No prefix per
    // restart: torchrun (PyTorch >= 2.5) gives each attempt a fresh store, and restart counts differ
    // between nodes (pytorch/pytorch#135712).
    m.store = c10::make_intrusive<c10d::PrefixStore>("hrm", c10::make_intrusive<c10d::TCPStore>(env.master_addr, so));
  } catch (const std::exception& e) {
    HRM_THROW(Error, "rank ", env.rank, " of ", env.world_size, ": rendezvous through the TCPStore at ",
              env.master_addr, ":", env.master_port, " failed (", message_of(e), "). ",
              env.rank == 0 ? "Is the port free on MASTER_ADDR?" : "Did rank 0 start, and do MASTER_ADDR/MASTER_PORT reach it?",
              " (timeout ", timeout.count() / 1000.0, " s, config key dist_timeout)");
  }
  agree_to_start(*m.store, env, m.backend_name + (device.is_cuda() ? " (CUDA)" : " (CPU)"), startup_error, timeout);
  try {
    m.pg = device.is_cuda() ? make_nccl_backend(m.store, env.rank, env.world_size, timeout, device.index())
                            : make_gloo_backend(m.store, env.rank, env.world_size, timeout);
  } catch (const std::exception& e) {
    HRM_THROW(Error, "rank ", env.rank, " of ", env.world_size, ": creating the ", m.backend_name,
              " process group failed: ", message_of(e));
  }
}

void post_startup_failure(const std::string& why, std::chrono::milliseconds patience, std::ostream& note) {
  if (rendezvous_begun) return;
  std::optional<LaunchEnv> env;
  try {
    env = launch_env();
  } catch (const std::exception&) {  // a malformed variable: no rendezvous to post in
    return;
  }
  if (!env || env->world_size < 2) return;
  note << "rank " << env->rank << " of " << env->world_size << " stops before joining the others; telling them through "
       << env->master_addr << ":" << env->master_port << " (waiting at most " << patience.count() / 1000 << " s for them)"
       << std::endl;
  try {
    Comm tell(*env, torch::kCPU, patience, why);  // the agreement fails, as it must: every rank stops
  } catch (const std::exception&) {  // the verdict (this rank's reason among others), or the others never came
  }
}

Comm::~Comm() {
  // An explicit shutdown: NCCL warns at exit about a process group never destroyed, and Gloo's
  // threads stop here rather than in static destruction.
  if (!impl_ || !impl_->pg) return;
  try {
    impl_->pg->shutdown();
  } catch (const std::exception&) {  // a peer already gone: nothing left to tell it
  }
}

namespace {
// A collective writes the memory behind autograd's back: count it as the in-place write it is, so that
// what checks the version counter (model/layers.h CastCache) sees the new values. Inference tensors
// have no counter.
void written_in_place(torch::Tensor& t) {
  if (!t.is_inference()) t.unsafeGetTensorImpl()->bump_version();
}
}  // namespace

torch::Device Comm::device() const { return impl_->device; }

int Comm::rank() const { return impl_->env.rank; }
int Comm::world_size() const { return impl_->env.world_size; }
int Comm::local_rank() const { return impl_->env.local_rank; }
const std::string& Comm::backend_name() const { return impl_->backend_name; }

void Comm::all_reduce_sum(torch::Tensor& t, const char* what) {
  impl_->check_tensor(t, what);
  if (impl_->needs_float32(t)) {
    torch::Tensor f = t.to(torch::kFloat32);
    all_reduce_sum(f, what);
    t.copy_(f);
    return;
  }
  HRM_CHECK(t.is_contiguous(), "collective '", what, "': the tensor must be contiguous");
  std::vector<torch::Tensor> ts{t};
  impl_->run(what, [&] {
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    o.timeout = impl_->timeout;
    return impl_->pg->allreduce(ts, o);
  });
  written_in_place(t);
}

void Comm::all_reduce_sum_bucketed(const std::vector<torch::Tensor>& ts, int64_t bucket_bytes, const char* what) {
  // Buckets of consecutive tensors of one dtype; each is flattened into one buffer, reduced, copied back.
  torch::NoGradGuard no_grad;
  size_t i = 0;
  while (i < ts.size()) {
    size_t j = i;
    int64_t bytes = 0;
    while (j < ts.size() && ts[j].scalar_type() == ts[i].scalar_type() &&
           (j == i || bytes + ts[j].nbytes() <= static_cast<size_t>(bucket_bytes))) {
      bytes += static_cast<int64_t>(ts[j].nbytes());
      ++j;
    }
    std::vector<torch::Tensor> flat;
    for (size_t k = i; k < j; ++k) flat.push_back(ts[k].reshape({-1}));
    torch::Tensor buf = torch::cat(flat);
    all_reduce_sum(buf, what);
    int64_t off = 0;
    for (size_t k = i; k < j; ++k) {
      const int64_t n = ts[k].numel();
      ts[k].copy_(buf.narrow(0, off, n).view(ts[k].sizes()));
      off += n;
    }
    i = j;
  }
}

void Comm::reduce_sum_to_root(torch::Tensor& t, const char* what) {
  impl_->check_tensor(t, what);
  if (impl_->needs_float32(t)) {
    torch::Tensor f = t.to(torch::kFloat32);
    reduce_sum_to_root(f, what);
    t.copy_(f);
    return;
  }
  HRM_CHECK(t.is_contiguous(), "collective '", what, "': the tensor must be contiguous");
  std::vector<torch::Tensor> ts{t};
  impl_->run(what, [&] {
    c10d::ReduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    o.rootRank = 0;
    o.timeout = impl_->timeout;
    return impl_->pg->reduce(ts, o);
  });
  written_in_place(t);
}

void Comm::broadcast_from_root(torch::Tensor& t, const char* what) {
  impl_->check_tensor(t, what);
  if (impl_->needs_float32(t)) {  // exact round trip; Gloo's type support for 16-bit floats varies
    torch::Tensor f = t.to(torch::kFloat32);
    broadcast_from_root(f, what);
    t.copy_(f);
    return;
  }
  HRM_CHECK(t.is_contiguous(), "collective '", what, "': the tensor must be contiguous");
  std::vector<torch::Tensor> ts{t};
  impl_->run(what, [&] {
    c10d::BroadcastOptions o;
    o.rootRank = 0;
    o.timeout = impl_->timeout;
    return impl_->pg->broadcast(ts, o);
  });
  written_in_place(t);
}

torch::Tensor Comm::all_gather_cat(const torch::Tensor& t, const char* what) {
  impl_->check_tensor(t, what);
  if (!impl_->device.is_cuda() && (impl_->needs_float32(t) || t.scalar_type() == torch::kBool))
    return all_gather_cat(t.to(torch::kFloat32), what).to(t.scalar_type());  // exact for bf16/half/bool
  std::vector<torch::Tensor> in{t.contiguous()};
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int r = 0; r < world_size(); ++r) out[0].push_back(torch::empty_like(in[0]));
  impl_->run(what, [&] {
    c10d::AllgatherOptions o;
    o.timeout = impl_->timeout;
    return impl_->pg->allgather(out, in, o);
  });
  return torch::cat(out[0], 0);
}

void Comm::barrier(const char* what) {
  impl_->run(what, [&] {
    c10d::BarrierOptions o;
    o.timeout = impl_->timeout;
    if (impl_->device.is_cuda()) o.device_ids = {impl_->device.index()};
    return impl_->pg->barrier(o);
  });
}

std::string Comm::broadcast_string(const std::string& s, const char* what) {
  const auto opts = torch::TensorOptions().device(impl_->device);
  torch::Tensor n = torch::full({1}, static_cast<int64_t>(s.size()), opts.dtype(torch::kInt64));
  broadcast_from_root(n, what);
  const int64_t len = n.cpu().item<int64_t>();
  torch::Tensor bytes = torch::zeros({len}, torch::kUInt8);
  if (is_root() && len > 0) std::memcpy(bytes.data_ptr<uint8_t>(), s.data(), static_cast<size_t>(len));
  bytes = bytes.to(impl_->device);
  if (len > 0) broadcast_from_root(bytes, what);
  bytes = bytes.cpu();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(len));
}

}  // namespace hrm::dist
