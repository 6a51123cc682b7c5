// fused_cuda.h: launchers of the CUDA kernels in fused_cuda.cu (raw pointers, a cudaStream_t as void*;
// no torch types, so that nvcc never parses libtorch's headers). Use them through fused_ops.h.
// Each returns a cudaError_t as int (0: launched).
#pragma once

#include <cstdint>

namespace hrm::fused_cuda {

enum class DType { float32, bfloat16, float16 };

struct RopeShape {
  int64_t batch, seq, heads, head_dim;
  int64_t stride_b, stride_s, stride_h;  // in elements; the head_dim axis is contiguous
};

// out [rows, inter] = silu(gate) * up, where gate_up [rows, 2*inter] is contiguous, gate first.
int swiglu(DType dtype, const void* gate_up, void* out, int64_t rows, int64_t inter, void* stream);
// out [B, S, H, D] contiguous = x*cos + rotate_half(x)*sin in float32, x strided as RopeShape says,
// cos and sin contiguous float32 [S, D].
int rope(DType dtype, const void* x, void* out, const float* cos, const float* sin, const RopeShape& shape,
         void* stream);
const char* error_string(int code);

// The code path a launch takes for its sizes (the launchers decide by these, and fused_ops keys its
// first-use checks by them): bit 0 set where the grid strides (more than 65535 * 16 blocks), bit 1
// where indices need 64 bits.
int swiglu_path(int64_t rows, int64_t inter);
int rope_path(const RopeShape& shape);

}  // namespace hrm::fused_cuda
