// fused_ops.cpp: see fused_ops.h.
#include "model/fused_ops.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <limits>
#include <mutex>
#include <string_view>
#include <tuple>

#include "model/layers.h"

#if HRM_CUDA_KERNELS
#include <c10/cuda/CUDAGraphsC10Utils.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/check.h"
#include "model/fused_cuda.h"
#endif

namespace hrm {
namespace {

struct Verdicts {
  std::mutex mu;
  std::map<FusedKey, bool> by_key;
};
Verdicts& verdicts() {
  static Verdicts v;
  return v;
}

// The largest |a - b| where the two differ (NaN against a number counts as infinite); 0 when equal.
// torch::equal first: no temporaries beyond its own in the usual case, at the first step of a large batch.
double largest_difference(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type() || a.device() != b.device())
    return std::numeric_limits<double>::infinity();
  if (torch::equal(a, b)) return 0;
  const auto differ = a.ne(b).logical_and_(a.isnan().logical_and_(b.isnan()).logical_not_());
  const auto x = a.masked_select(differ).to(torch::kFloat64), y = b.masked_select(differ).to(torch::kFloat64);
  if (x.numel() == 0) return 0;
  const auto d = (x - y).abs();
  return d.isnan().any().item<bool>() ? std::numeric_limits<double>::infinity() : d.max().item<double>();
}

bool reduced_or_float(torch::ScalarType t) {
  return t == torch::kFloat32 || t == torch::kBFloat16 || t == torch::kFloat16;
}

// A fused form replaces the op chain only where autograd would record nothing for it.
bool may_fuse(const torch::Tensor& x) {
  return fused_kernels() && !(at::GradMode::is_enabled() && x.requires_grad()) && x.numel() > 0 &&
         reduced_or_float(x.scalar_type());
}

// RoPE's inputs as the attention layer gives them: q and k [B, S, H, D] with D contiguous and even, one
// dtype and device; cos and sin contiguous float32 [S, D] on that device, needing no gradient.
bool rope_inputs_fit(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& cos,
                     const torch::Tensor& sin) {
  if (!may_fuse(q) || !may_fuse(k) || k.scalar_type() != q.scalar_type() || q.dim() != 4 || k.dim() != 4 ||
      k.device() != q.device())
    return false;
  if (at::GradMode::is_enabled() && (cos.requires_grad() || sin.requires_grad())) return false;
  const int64_t S = q.size(1), D = q.size(3);
  return cos.scalar_type() == torch::kFloat32 && sin.scalar_type() == torch::kFloat32 && cos.is_contiguous() &&
         sin.is_contiguous() && cos.dim() == 2 && cos.sizes() == sin.sizes() && cos.size(0) == S && cos.size(1) == D &&
         cos.device() == q.device() && sin.device() == q.device() && D % 2 == 0 && q.stride(3) == 1 &&
         k.stride(3) == 1 && k.size(1) == S && k.size(3) == D;
}

// One rotated row per (b, s, h): in float32, x*cos + rotate_half(x)*sin, each product and the sum
// rounded to float32 as the chain's tensors are (no FMA: this file is compiled with -ffp-contract=off),
// then one rounding to T (c10's round-to-nearest-even, as ATen's cast).
template <typename T>
torch::Tensor rope_cpu(const torch::Tensor& x, const float* cos, const float* sin) {
  auto out = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::Contiguous));
  const int64_t S = x.size(1), H = x.size(2), D = x.size(3), half = D / 2;
  const int64_t stride_b = x.stride(0), stride_s = x.stride(1), stride_h = x.stride(2);
  const T* in = x.data_ptr<T>();
  T* o = out.data_ptr<T>();
  at::parallel_for(0, x.size(0) * S * H, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t bs = r / H, h = r - bs * H, b = bs / S, s = bs - b * S;
      const T* row = in + b * stride_b + s * stride_s + h * stride_h;
      const float* c = cos + s * D;
      const float* sn = sin + s * D;
      T* y = o + r * D;
      for (int64_t d = 0; d < half; ++d) {
        const float a = static_cast<float>(row[d]) * c[d], rotated = -static_cast<float>(row[d + half]) * sn[d];
        y[d] = static_cast<T>(a + rotated);
      }
      for (int64_t d = half; d < D; ++d) {
        const float a = static_cast<float>(row[d]) * c[d], rotated = static_cast<float>(row[d - half]) * sn[d];
        y[d] = static_cast<T>(a + rotated);
      }
    }
  });
  return out;
}

torch::Tensor rope_cpu(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {  // bf16, fp16
  const float* c = cos.data_ptr<float>();
  const float* s = sin.data_ptr<float>();
  return x.scalar_type() == torch::kBFloat16 ? rope_cpu<c10::BFloat16>(x, c, s) : rope_cpu<c10::Half>(x, c, s);
}

#if HRM_CUDA_KERNELS
fused_cuda::DType kernel_dtype(torch::ScalarType t) {
  if (t == torch::kBFloat16) return fused_cuda::DType::bfloat16;
  if (t == torch::kFloat16) return fused_cuda::DType::float16;
  return fused_cuda::DType::float32;
}

void check_launch(int code, const char* what) {
  HRM_CHECK(code == 0, "fused ", what, " kernel launch failed: ", fused_cuda::error_string(code));
}

fused_cuda::RopeShape rope_shape(const torch::Tensor& x) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), x.stride(0), x.stride(1), x.stride(2)};
}

torch::Tensor rope_cuda(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  auto out = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::Contiguous));
  const fused_cuda::RopeShape shape = rope_shape(x);
  const c10::cuda::CUDAGuard guard(x.device());
  check_launch(fused_cuda::rope(kernel_dtype(x.scalar_type()), x.data_ptr(), out.data_ptr(), cos.data_ptr<float>(),
                                sin.data_ptr<float>(), shape, c10::cuda::getCurrentCUDAStream().stream()),
               "RoPE");
  return out;
}
#endif

}  // namespace

bool fused_cuda_kernels_built() { return HRM_CUDA_KERNELS; }

bool FusedKey::operator<(const FusedKey& o) const {
  return std::make_tuple(std::string_view(op), dtype, device.type(), device.index(), length, path) <
         std::make_tuple(std::string_view(o.op), o.dtype, o.device.type(), o.device.index(), o.length, o.path);
}

std::string FusedKey::str() const {
  return fmt::format("{} {} {} {}={} path {}", op, c10::toString(dtype), device.str(),
                     std::string_view(op) == "RoPE" ? "D" : "I", length, path);
}

std::map<std::string, bool> fused_verdicts() {
  std::lock_guard<std::mutex> lock(verdicts().mu);
  std::map<std::string, bool> out;
  for (const auto& [key, same] : verdicts().by_key) out.emplace(key.str(), same);
  return out;
}

namespace detail {

std::optional<bool> verdict(const FusedKey& key) {
  std::lock_guard<std::mutex> lock(verdicts().mu);
  const auto it = verdicts().by_key.find(key);
  return it == verdicts().by_key.end() ? std::nullopt : std::optional<bool>(it->second);
}

bool capturing_cuda_graph(const torch::Tensor& t) {
#if HRM_CUDA_KERNELS
  return t.is_cuda() && c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None;
#else
  (void)t;
  return false;
#endif
}

bool decide(const FusedKey& key, const std::vector<torch::Tensor>& fused, const std::vector<torch::Tensor>& chain) {
  double worst = fused.size() == chain.size() ? 0 : std::numeric_limits<double>::infinity();
  bool finite = true;
  for (size_t i = 0; i < fused.size() && i < chain.size(); ++i) {
    worst = std::max(worst, largest_difference(fused[i], chain[i]));
    if (worst == 0) finite = finite && torch::isfinite(chain[i]).all().item<bool>();
  }
  if (worst == 0 && !finite) return true;  // equal here, but undecided
  std::lock_guard<std::mutex> lock(verdicts().mu);
  const auto [it, first] = verdicts().by_key.emplace(key, worst == 0);
  if (first && worst != 0)
    std::cerr << fmt::format("warning: hrm's fused {} differs from the reference's op chain it replaces (largest "
                             "difference {:g}); the op chain is used from now on. Please report it with the output "
                             "of `hrm --version`.\n",
                             key.str(), worst);
  return it->second;
}

}  // namespace detail

std::optional<torch::Tensor> swiglu_fused(const torch::Tensor& gate_up) {
#if HRM_CUDA_KERNELS
  if (!gate_up.is_cuda() || !may_fuse(gate_up) || !gate_up.is_contiguous() || gate_up.size(-1) % 2 != 0)
    return std::nullopt;
  const int64_t inter = gate_up.size(-1) / 2, rows = gate_up.numel() / gate_up.size(-1);
  const FusedKey key{"SwiGLU", gate_up.scalar_type(), gate_up.device(), inter, fused_cuda::swiglu_path(rows, inter)};
  auto out = first_use_checked(
      key, gate_up,
      [&] {
        auto sizes = gate_up.sizes().vec();
        sizes.back() = inter;
        auto o = torch::empty(sizes, gate_up.options());
        const c10::cuda::CUDAGuard guard(gate_up.device());
        check_launch(fused_cuda::swiglu(kernel_dtype(gate_up.scalar_type()), gate_up.data_ptr(), o.data_ptr(), rows,
                                        inter, c10::cuda::getCurrentCUDAStream().stream()),
                     "SwiGLU");
        return std::vector<torch::Tensor>{o};
      },
      [&] { return std::vector<torch::Tensor>{swiglu_unfused(gate_up)}; });
  if (!out) return std::nullopt;
  return out->front();
#else
  (void)gate_up;
  return std::nullopt;
#endif
}

std::optional<std::pair<torch::Tensor, torch::Tensor>> rope_fused(const torch::Tensor& q, const torch::Tensor& k,
                                                                  const torch::Tensor& cos, const torch::Tensor& sin) {
  if (!rope_inputs_fit(q, k, cos, sin)) return std::nullopt;
  std::function<torch::Tensor(const torch::Tensor&)> one;
  int path = 0;
  // On the CPU only for bfloat16 and float16, whose chain adds two casts through float32 (measured 3-4x
  // faster fused); in float32 ATen's wider-vectorised ops beat one plain loop (docs/PERF.md).
  if (q.is_cpu() && q.scalar_type() != torch::kFloat32)
    one = [&](const torch::Tensor& x) { return rope_cpu(x, cos, sin); };
#if HRM_CUDA_KERNELS
  if (q.is_cuda()) {
    one = [&](const torch::Tensor& x) { return rope_cuda(x, cos, sin); };
    path = fused_cuda::rope_path(rope_shape(q)) | fused_cuda::rope_path(rope_shape(k));
  }
#endif
  if (!one) return std::nullopt;
  const FusedKey key{"RoPE", q.scalar_type(), q.device(), q.size(3), path};
  const auto out = first_use_checked(
      key, q, [&] { return std::vector<torch::Tensor>{one(q), one(k)}; },
      [&] {
        const auto chain = apply_rotary_pos_emb_unfused(q, k, cos, sin);
        return std::vector<torch::Tensor>{chain.first, chain.second};
      });
  if (!out) return std::nullopt;
  return std::make_pair((*out)[0], (*out)[1]);
}

}  // namespace hrm
