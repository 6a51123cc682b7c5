// comm_impl.h: Comm's state, shared by comm.cpp and grad_reducer.cpp (internal to src/dist).
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <memory>
#include <string>
#include <vector>

#include "core/check.h"
#include "dist/comm.h"

namespace c10d {
class Reducer;
}

namespace hrm::dist {

// An exception's message for a user: c10::Error's what() carries a C++ backtrace of libtorch frames.
inline std::string message_of(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

// A store value posted as text (c10d keeps bytes).
inline std::string get_string(c10d::Store& store, const std::string& key) {
  const std::vector<uint8_t> v = store.get(key);
  return std::string(v.begin(), v.end());
}

// Before the process group: every rank posts its backend ("gloo (CPU)", "nccl (CUDA)") or its
// startup error in the store; if any rank failed or the backends differ, every rank throws a
// ConfigError naming who failed why, or who chose what (comm.cpp).
void agree_to_start(c10d::Store& store, const LaunchEnv& env, const std::string& mine,
                    const std::string& startup_error, std::chrono::milliseconds timeout);

struct Comm::Impl {
  LaunchEnv env;
  torch::Device device = torch::kCPU;
  std::chrono::milliseconds timeout{0};
  std::string backend_name;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
  std::shared_ptr<c10d::Reducer> reducer;  // attach_gradient_reducer (grad_reducer.cpp)

  [[noreturn]] void fail(const char* what, const std::string& why) const {
    HRM_THROW(Error, "rank ", env.rank, " of ", env.world_size, ": the collective '", what, "' (", backend_name,
              ") failed: ", why, " -- another rank has probably died or stopped responding (timeout ",
              timeout.count() / 1000.0, " s, config key dist_timeout); this rank stops too");
  }
  // Runs one collective and waits for it; failures become hrm::Error.
  template <typename F>
  void run(const char* what, F&& launch) {
    try {
      c10::intrusive_ptr<c10d::Work> work = launch();
      // NCCL: a finite timeout makes WorkNCCL::wait spin on the CPU until the GPU is done; without
      // one it only orders the current stream after the collective, and NCCL's watchdog enforces
      // the timeout given to the process group (nccl_backend.cpp).
      if (device.is_cuda())
        work->wait();
      else
        work->wait(timeout);
    } catch (const std::exception& e) {
      fail(what, message_of(e));
    }
  }
  // Gloo has no bfloat16 (nor reliable float16) reduction: reduce a float32 copy.
  bool needs_float32(const torch::Tensor& t) const {
    return !device.is_cuda() && (t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf);
  }
  void check_tensor(const torch::Tensor& t, const char* what) const {
    HRM_CHECK(t.defined(), "collective '", what, "': undefined tensor");
    HRM_CHECK(t.device().type() == device.type(), "collective '", what, "': a ", t.device().str(), " tensor on the ",
              backend_name, " process group (", device.str(), ")");
  }
};

}  // namespace hrm::dist
