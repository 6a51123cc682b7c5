// fused_cuda.cu: CUDA kernels that compute, in one pass over memory, what a chain of the reference's
// elementwise ops computes in several (see fused_ops.h). Each reproduces the chain's roundings, so the
// results are bit-identical to it: float math in the same order, explicit round-to-nearest intrinsics
// (nvcc would otherwise contract a*b + c*d into an FMA), one rounding to the storage type wherever the
// chain writes a tensor of that type. No torch headers: the launchers take raw pointers and a stream.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "model/fused_cuda.h"

namespace hrm::fused_cuda {
namespace {

template <typename T> struct Storage;
template <> struct Storage<float> {
  static __device__ float load(float x) { return x; }
  static __device__ float round(float x) { return x; }
};
template <> struct Storage<__nv_bfloat16> {
  static __device__ float load(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __nv_bfloat16 round(float x) { return __float2bfloat16_rn(x); }
};
template <> struct Storage<__half> {
  static __device__ float load(__half x) { return __half2float(x); }
  static __device__ __half round(float x) { return __float2half_rn(x); }
};

// out[r, i] = silu(gate[r, i]) * up[r, i], gate_up = [gate | up] per row. The chain: torch::silu (computed
// in float as x / (1 + exp(-x)), as ATen's CUDA kernel does, rounded to T), then the product (in float,
// rounded to T).
// I: the index type, int32_t where every index fits (integer division by a runtime value costs tens of
// instructions, twice that in 64 bits: it would make these memory-bound kernels compute-bound).
template <typename T, typename I>
__global__ void swiglu_kernel(const T* __restrict__ gate_up, T* __restrict__ out, I rows, I inter) {
  const I n = rows * inter;
  for (I idx = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<I>(gridDim.x) * blockDim.x) {
    const I r = idx / inter, i = idx - r * inter;
    const float g = Storage<T>::load(gate_up[r * 2 * inter + i]);
    const float u = Storage<T>::load(gate_up[r * 2 * inter + inter + i]);
    const float s = Storage<T>::load(Storage<T>::round(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g)))));
    out[idx] = Storage<T>::round(__fmul_rn(s, u));
  }
}

// RoPE on q or k [B, S, H, D] (strided over B, S, H; D contiguous) with float32 cos/sin [S, D]: the
// chain casts to float32, computes x*cos + rotate_half(x)*sin (each product and the sum rounded to
// float32) and casts back to T. out is contiguous [B, S, H, D].
template <typename T, typename I>
__global__ void rope_kernel(const T* __restrict__ x, T* __restrict__ out, const float* __restrict__ cos,
                            const float* __restrict__ sin, RopeShape shape) {
  const I D = shape.head_dim, H = shape.heads, S = shape.seq, half = D / 2;
  const I n = shape.batch * S * H * D;
  const I stride_b = shape.stride_b, stride_s = shape.stride_s, stride_h = shape.stride_h;
  for (I idx = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<I>(gridDim.x) * blockDim.x) {
    const I row_index = idx / D, d = idx - row_index * D;  // row_index = (b * S + s) * H + h
    const I bs = row_index / H, h = row_index - bs * H;
    const I b = bs / S, s = bs - b * S;
    const T* row = x + b * stride_b + s * stride_s + h * stride_h;
    const float v = Storage<T>::load(row[d]);
    const float rotated = d < half ? -Storage<T>::load(row[d + half]) : Storage<T>::load(row[d - half]);
    const float c = cos[s * D + d], sn = sin[s * D + d];
    out[idx] = Storage<T>::round(__fadd_rn(__fmul_rn(v, c), __fmul_rn(rotated, sn)));
  }
}

unsigned blocks_for(int64_t n, unsigned threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 65535 * 16 ? (b > 0 ? b : 1) : 65535 * 16);  // grid-stride beyond that
}

// Indices in 32 bits where the largest one (and the grid-stride overshoot, one grid past the end) fits.
bool fits_int32(int64_t largest) { return largest + int64_t{65535} * 16 * 256 < int64_t{INT32_MAX}; }

constexpr unsigned kThreads = 256;
constexpr int kGridStrides = 1, kIndex64 = 2;

int path_of(int64_t n, int64_t largest_index) {
  return ((n + kThreads - 1) / kThreads >= 65535 * 16 ? kGridStrides : 0) | (fits_int32(largest_index) ? 0 : kIndex64);
}

int64_t rope_elements(const RopeShape& sh) { return sh.batch * sh.seq * sh.heads * sh.head_dim; }
int64_t rope_largest_index(const RopeShape& sh) {
  const int64_t last_input = (sh.batch - 1) * sh.stride_b + (sh.seq - 1) * sh.stride_s + (sh.heads - 1) * sh.stride_h +
                             sh.head_dim;
  return rope_elements(sh) > last_input ? rope_elements(sh) : last_input;
}

template <typename T>
int launch_swiglu(const void* gate_up, void* out, int64_t rows, int64_t inter, void* stream) {
  constexpr unsigned threads = kThreads;
  const auto s = static_cast<cudaStream_t>(stream);
  const unsigned blocks = blocks_for(rows * inter, threads);
  if (!(swiglu_path(rows, inter) & kIndex64))
    swiglu_kernel<T, int32_t><<<blocks, threads, 0, s>>>(static_cast<const T*>(gate_up), static_cast<T*>(out),
                                                         static_cast<int32_t>(rows), static_cast<int32_t>(inter));
  else
    swiglu_kernel<T, int64_t><<<blocks, threads, 0, s>>>(static_cast<const T*>(gate_up), static_cast<T*>(out), rows,
                                                         inter);
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int launch_rope(const void* x, void* out, const float* cos, const float* sin, const RopeShape& sh, void* stream) {
  constexpr unsigned threads = kThreads;
  const auto s = static_cast<cudaStream_t>(stream);
  const unsigned blocks = blocks_for(rope_elements(sh), threads);
  if (!(rope_path(sh) & kIndex64))
    rope_kernel<T, int32_t><<<blocks, threads, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(out), cos, sin, sh);
  else
    rope_kernel<T, int64_t><<<blocks, threads, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(out), cos, sin, sh);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int swiglu(DType dtype, const void* gate_up, void* out, int64_t rows, int64_t inter, void* stream) {
  switch (dtype) {
    case DType::float32: return launch_swiglu<float>(gate_up, out, rows, inter, stream);
    case DType::bfloat16: return launch_swiglu<__nv_bfloat16>(gate_up, out, rows, inter, stream);
    case DType::float16: return launch_swiglu<__half>(gate_up, out, rows, inter, stream);
  }
  return -1;
}

int rope(DType dtype, const void* x, void* out, const float* cos, const float* sin, const RopeShape& shape,
         void* stream) {
  switch (dtype) {
    case DType::float32: return launch_rope<float>(x, out, cos, sin, shape, stream);
    case DType::bfloat16: return launch_rope<__nv_bfloat16>(x, out, cos, sin, shape, stream);
    case DType::float16: return launch_rope<__half>(x, out, cos, sin, shape, stream);
  }
  return -1;
}

const char* error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

int swiglu_path(int64_t rows, int64_t inter) { return path_of(rows * inter, rows * inter * 2); }
int rope_path(const RopeShape& shape) { return path_of(rope_elements(shape), rope_largest_index(shape)); }

}  // namespace hrm::fused_cuda
