// nccl_backend.cpp: the one translation unit that includes ProcessGroupNCCL.hpp (see backends.h).
// ProcessGroupNCCL itself is in the wheel's libtorch_cuda.so; this file only constructs it. Its
// Options hold NCCL's ncclConfig_t by value, and Options::create() is inline, so the nccl.h we
// compile against must be the NCCL that libtorch_cuda was built with: CMake puts the wheel's own
// nvidia/nccl/include first, and at run time the header's version is checked against the loaded
// library's. Without nccl.h or the CUDA toolkit (CMakeLists.txt sets HRM_WITH_NCCL) the build still
// succeeds and NCCL gives a clear error (Gloo works).
// It can only run on a machine with NVIDIA GPUs.
#include "dist/backends.h"

#if HRM_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL  // the CUDA wheel is built with it; the header is empty without it
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <nccl.h>

#include <tuple>

#include "core/check.h"

namespace hrm::dist {

bool nccl_built() { return true; }

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                   std::chrono::milliseconds timeout, int device_index) {
  const auto [major, minor, patch] = c10d::getNcclVersionTuple();
  if (major != NCCL_MAJOR || minor != NCCL_MINOR)
    HRM_THROW(Error, "hrm was compiled against nccl.h ", NCCL_MAJOR, ".", NCCL_MINOR, ".", NCCL_PATCH,
              " but libtorch runs NCCL ", major, ".", minor, ".", patch,
              "; rebuild with the torch wheel's nvidia/nccl/include first (CMake does when it finds it)");
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device_index));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;  // NCCL's watchdog enforces it (collectives wait without a CPU timeout)
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
}

}  // namespace hrm::dist

#else  // no nccl.h or no CUDA toolkit on the build machine

#include "core/check.h"

namespace hrm::dist {

bool nccl_built() { return false; }

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>&, int, int,
                                                   std::chrono::milliseconds, int) {
  HRM_THROW(Error, "this hrm was built without NCCL (no nccl.h or no CUDA toolkit at configure time), so it has "
                   "no NCCL process group for device=cuda data parallel; rebuild where the CUDA toolkit and the torch "
                   "wheel's nvidia/nccl/include are present");
}

}  // namespace hrm::dist

#endif
