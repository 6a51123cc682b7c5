# torch.cmake: finds libtorch for hrm_torch. Sets TORCH_LIBRARIES, Torch_VERSION, HRM_TORCH_FALLBACK and, for
# the wheel, HRM_TORCH_CMAKE_DIR and HRM_TORCH_SITE (its site-packages, which also holds nvidia/nccl).
#
# The build is on the PyTorch wheel (torch 2.x; CMAKE_PREFIX_PATH or Torch_DIR = torch.utils.cmake_prefix_path,
# as scripts/build.sh passes). Debian's libtorch-dev 1.13 is the fallback where the wheel cannot be
# installed (docs/BUILD.md); CMake finds it in the system paths when no prefix is given.

# The wheel's own directory, when one is given: .../site-packages/torch/share/cmake.
set(HRM_TORCH_CMAKE_DIR "")
foreach(prefix "${Torch_DIR}/.." ${CMAKE_PREFIX_PATH})
  # A wheel's prefix is site-packages/torch/share/cmake, with torch/lib/ two levels up (not Debian's
  # /usr/lib/<arch>/cmake, which a cached Torch_DIR of the fallback build points into).
  if(EXISTS "${prefix}/Torch/TorchConfig.cmake" AND EXISTS "${prefix}/../../lib/libtorch_cpu.so"
     AND EXISTS "${prefix}/../../__init__.py")
    get_filename_component(HRM_TORCH_CMAKE_DIR "${prefix}" ABSOLUTE)
    break()
  endif()
endforeach()

if(HRM_TORCH_CMAKE_DIR)
  get_filename_component(torch_root "${HRM_TORCH_CMAKE_DIR}/../.." ABSOLUTE)  # site-packages/torch
  get_filename_component(HRM_TORCH_SITE "${torch_root}/.." ABSOLUTE)           # site-packages
  # TorchConfig looks up c10 and torch with find_library, which searches the system first: with
  # Debian's libtorch-dev also installed it would mix /usr/lib's libc10.so (1.13) into the link of
  # the wheel's libtorch. Pinned to the wheel's lib/ beforehand (find_library keeps a cached result).
  find_library(c10_LIBRARY c10 PATHS "${torch_root}/lib" NO_DEFAULT_PATH)
  find_library(TORCH_LIBRARY torch PATHS "${torch_root}/lib" NO_DEFAULT_PATH)
  find_library(C10_CUDA_LIBRARY c10_cuda PATHS "${torch_root}/lib" NO_DEFAULT_PATH)

  # The wheel is a CUDA build: its Caffe2Config stops with a FATAL_ERROR unless the CUDA toolkit (nvcc)
  # is installed, although hrm compiles no CUDA code and the wheel brings the CUDA runtime and headers
  # it needs (site-packages/nvidia/cu13; nvidia/cuda_runtime for CUDA 12 wheels). Without the toolkit
  # (a CPU-only Debian, say) we define torch::cudart from that runtime first: the wheel's cuda.cmake
  # returns at its include guard ("if(TARGET torch::cudart) return()") and the rest is the wheel's own
  # TorchConfig. With the toolkit nothing changes.
  find_package(CUDAToolkit QUIET)
  file(GLOB cudart "${HRM_TORCH_SITE}/nvidia/*/lib/libcudart.so.[0-9]*")
  if(NOT CUDAToolkit_FOUND AND cudart)
    list(GET cudart 0 cudart)
    get_filename_component(cuda_root "${cudart}/../.." ABSOLUTE)
    message(STATUS "hrm: no CUDA toolkit; the wheel's CUDA runtime stands in for it (${cuda_root})")
    add_library(torch::cudart INTERFACE IMPORTED)
    set_target_properties(torch::cudart PROPERTIES INTERFACE_LINK_LIBRARIES "${cudart}"
                                                   INTERFACE_INCLUDE_DIRECTORIES "${cuda_root}/include")
  endif()
endif()
unset(torch_root)  # include() shares the caller's scope: no helper variables left behind
unset(cudart)
unset(cuda_root)

find_package(Torch REQUIRED)

# The one libtorch version guard. 1.13 lacks scaled_dot_product_attention (attention.cpp takes the
# math path) and c10d's Backend-based process groups (no data parallel: dist/comm_unavailable.cpp
# replaces comm.cpp, grad_reducer.cpp and the two backends; CMakeLists.txt picks the sources).
if(Torch_VERSION VERSION_LESS 2.0)
  set(HRM_TORCH_FALLBACK 1)
  message(STATUS "hrm: libtorch ${Torch_VERSION} < 2: the fallback build (CPU, math attention, no data parallel)")
else()
  set(HRM_TORCH_FALLBACK 0)
endif()
