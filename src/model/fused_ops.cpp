// fused_ops.cpp: see fused_ops.h.
#include "model/fused_ops.h"

#include "model/layers.h"

#if HRM_CUDA_KERNELS
#include <ATen/core/grad_mode.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/check.h"
#include "model/fused_cuda.h"
#endif

namespace hrm {

#if HRM_CUDA_KERNELS
namespace {

std::optional<fused_cuda::DType> kernel_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return fused_cuda::DType::float32;
    case torch::kBFloat16: return fused_cuda::DType::bfloat16;
    case torch::kFloat16: return fused_cuda::DType::float16;
    default: return std::nullopt;
  }
}

// A kernel replaces the op chain only where autograd would record nothing for it.
bool applies(const torch::Tensor& x) {
  return fused_kernels() && x.is_cuda() && !(at::GradMode::is_enabled() && x.requires_grad()) && x.numel() > 0;
}

void check_launch(int code, const char* what) {
  HRM_CHECK(code == 0, "fused ", what, " kernel launch failed: ", fused_cuda::error_string(code));
}

}  // namespace

bool fused_cuda_kernels_built() { return true; }

std::optional<torch::Tensor> swiglu_fused(const torch::Tensor& gate_up) {
  const auto dtype = kernel_dtype(gate_up.scalar_type());
  if (!applies(gate_up) || !dtype || !gate_up.is_contiguous() || gate_up.size(-1) % 2 != 0) return std::nullopt;
  const int64_t inter = gate_up.size(-1) / 2, rows = gate_up.numel() / gate_up.size(-1);
  auto sizes = gate_up.sizes().vec();
  sizes.back() = inter;
  auto out = torch::empty(sizes, gate_up.options());
  const c10::cuda::CUDAGuard guard(gate_up.device());
  check_launch(fused_cuda::swiglu(*dtype, gate_up.data_ptr(), out.data_ptr(), rows, inter,
                                  c10::cuda::getCurrentCUDAStream().stream()),
               "SwiGLU");
  return out;
}

std::optional<std::pair<torch::Tensor, torch::Tensor>> rope_fused(const torch::Tensor& q, const torch::Tensor& k,
                                                                  const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto dtype = kernel_dtype(q.scalar_type());
  if (!applies(q) || !applies(k) || !dtype || k.scalar_type() != q.scalar_type() || q.dim() != 4 || k.dim() != 4)
    return std::nullopt;
  const int64_t S = q.size(1), D = q.size(3);
  if (at::GradMode::is_enabled() && (cos.requires_grad() || sin.requires_grad())) return std::nullopt;
  const bool tables_fit = cos.scalar_type() == torch::kFloat32 && sin.scalar_type() == torch::kFloat32 &&
                          cos.is_contiguous() && sin.is_contiguous() && cos.sizes() == sin.sizes() && cos.dim() == 2 &&
                          cos.size(0) == S && cos.size(1) == D && cos.device() == q.device();
  if (!tables_fit || D % 2 != 0 || q.stride(3) != 1 || k.stride(3) != 1 || k.size(1) != S || k.size(3) != D ||
      k.device() != q.device())
    return std::nullopt;
  const c10::cuda::CUDAGuard guard(q.device());
  const auto stream = c10::cuda::getCurrentCUDAStream().stream();
  auto rotate = [&](const torch::Tensor& x) {
    auto out = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::Contiguous));
    const fused_cuda::RopeShape shape{x.size(0), S, x.size(2), D, x.stride(0), x.stride(1), x.stride(2)};
    check_launch(fused_cuda::rope(*dtype, x.data_ptr(), out.data_ptr(), cos.data_ptr<float>(), sin.data_ptr<float>(),
                                  shape, stream),
                 "RoPE");
    return out;
  };
  return std::make_pair(rotate(q), rotate(k));
}

#else  // built without the CUDA toolkit: the op chains everywhere

bool fused_cuda_kernels_built() { return false; }
std::optional<torch::Tensor> swiglu_fused(const torch::Tensor&) { return std::nullopt; }
std::optional<std::pair<torch::Tensor, torch::Tensor>> rope_fused(const torch::Tensor&, const torch::Tensor&,
                                                                  const torch::Tensor&, const torch::Tensor&) {
  return std::nullopt;
}

#endif

}  // namespace hrm
