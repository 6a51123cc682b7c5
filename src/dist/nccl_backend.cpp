// nccl_backend.cpp: the one translation unit that includes ProcessGroupNCCL.hpp (see backends.h).
// Compiled against the CUDA toolkit's nccl.h; ProcessGroupNCCL itself is in the wheel's
// libtorch_cuda.so. It can only run on a machine with NVIDIA GPUs.
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL  // the CUDA wheel is built with it; the header is empty without it
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "dist/backends.h"

namespace hrm::dist {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                   std::chrono::milliseconds timeout, int device_index) {
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device_index));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
}

}  // namespace hrm::dist
