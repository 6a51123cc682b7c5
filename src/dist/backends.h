// backends.h: construction of c10d's process groups, each in its own translation unit
// (gloo_backend.cpp, nccl_backend.cpp), so that only those two files see Gloo's and NCCL's headers.
// Everything else talks to the abstract c10d::Backend.
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>

namespace hrm::dist {

// ProcessGroupGloo on this machine's default interface (the hostname's address, else loopback);
// GLOO_SOCKET_IFNAME chooses an interface, as in PyTorch.
c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                   std::chrono::milliseconds timeout);
// ProcessGroupNCCL; makes cuda:device_index this process's current device first (pretrain.py's
// torch.cuda.set_device(LOCAL_RANK)).
// Whether make_nccl_backend can work: this build had nccl.h and the CUDA toolkit (HRM_WITH_NCCL).
bool nccl_built();
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                   std::chrono::milliseconds timeout, int device_index);

}  // namespace hrm::dist
