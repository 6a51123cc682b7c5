// Tests for src/model/layers.cpp and attention.cpp: each op against its formula.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>

#include "model/attention.h"
#include "model/layers.h"
#include "optim/adam_atan2.h"

namespace {

// set_fused_kernels is process-wide: restored whatever a test does.
struct FusedKernels {
  explicit FusedKernels(bool on) { hrm::set_fused_kernels(on); }
  ~FusedKernels() { hrm::set_fused_kernels(true); }
};
at::Generator gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }
}  // namespace

TEST(TruncNormal, HasTheRequestedStdAndStaysWithinTwoStd) {
  auto t = torch::empty({400000});
  hrm::trunc_normal_init_(t, 0.5, gen(1));
  // JAX corrects the std of the truncated distribution; torch's trunc_normal_ would give ~0.44.
  EXPECT_NEAR(t.std().item<double>(), 0.5, 0.005);
  EXPECT_NEAR(t.mean().item<double>(), 0.0, 0.005);
  const double bound = 2 * 0.5 / 0.87962566103423978;  // 2 * comp_std
  EXPECT_LE(t.abs().max().item<double>(), bound + 1e-6);
  EXPECT_GT(t.abs().max().item<double>(), 0.9 * bound);
}

TEST(TruncNormal, SameSeedSameValuesZeroStdGivesZeros) {
  auto a = torch::empty({100}), b = torch::empty({100}), z = torch::ones({10});
  hrm::trunc_normal_init_(a, 1.0, gen(7));
  hrm::trunc_normal_init_(b, 1.0, gen(7));
  EXPECT_TRUE(torch::equal(a, b));
  hrm::trunc_normal_init_(z, 0.0, gen(7));
  EXPECT_EQ(z.abs().sum().item<double>(), 0.0);
}

TEST(RoPE, MatchesTheRotationFormulaPerPair) {
  const int64_t S = 5, D = 8, H = 2;
  hrm::RotaryEmbedding rope(D, S, 10000.0);
  auto [cos, sin] = rope->forward();
  ASSERT_EQ(cos.sizes(), (std::vector<int64_t>{S, D}));
  auto q = torch::randn({1, S, H, D}, torch::kFloat64).to(torch::kFloat32);
  auto k = torch::randn({1, S, H, D});
  auto [qe, ke] = hrm::apply_rotary_pos_emb(q, k, cos, sin);
  // Rotate-half convention: dims i and i + D/2 form a pair rotated by angle pos * theta^(-2i/D).
  for (int64_t pos = 0; pos < S; ++pos)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < D / 2; ++i) {
        const double ang = pos * std::pow(10000.0, -2.0 * i / D);
        const double x1 = q[0][pos][h][i].item<double>(), x2 = q[0][pos][h][i + D / 2].item<double>();
        EXPECT_NEAR(qe[0][pos][h][i].item<double>(), x1 * std::cos(ang) - x2 * std::sin(ang), 1e-5);
        EXPECT_NEAR(qe[0][pos][h][i + D / 2].item<double>(), x2 * std::cos(ang) + x1 * std::sin(ang), 1e-5);
      }
}

TEST(RoPE, KeepsTheInputDtype) {
  hrm::RotaryEmbedding rope(8, 4, 10000.0);
  auto [cos, sin] = rope->forward();
  auto q = torch::randn({2, 4, 3, 8}).to(torch::kBFloat16);
  auto [qe, ke] = hrm::apply_rotary_pos_emb(q, q, cos, sin);
  EXPECT_EQ(qe.scalar_type(), torch::kBFloat16);
}

TEST(Attention, MathPathEqualsScaledDotProductAttention) {
  auto q = torch::randn({2, 7, 4, 16}), k = torch::randn({2, 7, 4, 16}), v = torch::randn({2, 7, 4, 16});
  auto a = hrm::attention(q, k, v, hrm::AttentionBackend::sdpa);
  auto b = hrm::attention(q, k, v, hrm::AttentionBackend::math);
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-5)) << (a - b).abs().max().item<double>();
  // Non-causal: the first position attends to the last.
  auto v2 = v.clone();
  v2.index_put_({torch::indexing::Slice(), 6}, 100.0);
  EXPECT_FALSE(torch::allclose(hrm::attention(q, k, v2).select(1, 0), a.select(1, 0)));
}

TEST(RmsNorm, NormalisesInFloat32AndKeepsDtype) {
  auto x = torch::randn({3, 5, 64}) * 7;
  auto y = hrm::rms_norm(x, 1e-5);
  auto rms = y.square().mean(-1).sqrt();
  EXPECT_TRUE(torch::allclose(rms, torch::ones_like(rms), 1e-4, 1e-4));
  EXPECT_EQ(hrm::rms_norm(x.to(torch::kBFloat16), 1e-5).scalar_type(), torch::kBFloat16);
}

// The fused path (ATen's rms_norm) against the reference's ops, values and input gradients, in the
// two forward dtypes: bit for bit on the CPU; on CUDA (one fused kernel each way) to float32 rounding
// of the statistics, i.e. one rounding of the output dtype.
TEST(RmsNorm, FusedEqualsTheReferenceOps) {
  torch::manual_seed(0);
  std::vector<torch::Device> devices{torch::kCPU};
  if (torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
  for (const auto device : devices)
    for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      const auto x = (torch::randn({4, 17, 96}) * 3).to(device);
      const auto dy = torch::randn({4, 17, 96}).to(device);
      std::vector<torch::Tensor> y, dx;
      for (const bool fused : {true, false}) {
        auto xi = x.clone().set_requires_grad(true);  // float32 master, cast as the model does
        auto out = fused ? hrm::rms_norm(xi.to(dtype), 1e-5) : hrm::rms_norm_unfused(xi.to(dtype), 1e-5);
        out.backward(dy.to(dtype));
        y.push_back(out.to(torch::kFloat32));
        dx.push_back(xi.grad());
      }
      if (device.is_cpu()) {
        EXPECT_TRUE(torch::equal(y[0], y[1])) << dtype;
        EXPECT_TRUE(torch::equal(dx[0], dx[1])) << dtype;
      } else {
        const double tol = dtype == torch::kFloat32 ? 1e-5 : 1e-2;
        EXPECT_TRUE(torch::allclose(y[0], y[1], tol, tol)) << "cuda " << dtype;
        EXPECT_TRUE(torch::allclose(dx[0], dx[1], tol, tol)) << "cuda " << dtype;
      }
    }
}

// CastedLinear's CPU cast cache: uses with grad mode off share one cast of the weight, every in-place
// update (AdamATan2's step, a load's copy_, through a detached alias) makes a new one, a cast made under
// InferenceMode serves later no-grad uses and never a recorded one, and a use with grad mode on, a
// float32 input or `hrm --unfused` never takes it.
TEST(CastedLinear, NoGradUsesShareOneCastThatFollowsEveryInPlaceUpdate) {
  hrm::CastedLinear lin(8, 4, true, gen(5));
  hrm::optim::AdamATan2 adam({lin->weight, lin->bias}, hrm::optim::AdamATan2Options{});
  const auto x = torch::randn({3, 8}).to(torch::kBFloat16);
  auto expected = [&] {
    return torch::nn::functional::linear(x, lin->weight.detach().to(torch::kBFloat16), lin->bias.detach().to(torch::kBFloat16));
  };
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
    const auto first = lin->weight_cast.cast;
    ASSERT_TRUE(first.defined());
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
    EXPECT_TRUE(lin->weight_cast.cast.is_same(first)) << "a second use casts again";
    lin->weight.add_(1.0);
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
    EXPECT_FALSE(lin->weight_cast.cast.is_same(first));
    lin->weight.mutable_grad() = torch::ones_like(lin->weight);
    lin->bias.mutable_grad() = torch::ones_like(lin->bias);
    adam.step(0.5);
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
    lin->weight.copy_(torch::randn({4, 8}));  // as a state-dict load
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
    lin->bias.detach().mul_(3.0);  // as EMA's swap, through a detached alias
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
  }
  lin->weight_cast = {};
  {
    c10::InferenceMode inference;  // as evaluation and `hrm solve`: the cast kept is an inference tensor
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
  }
  ASSERT_TRUE(lin->weight_cast.cast.is_inference());
  {
    torch::NoGradGuard no_grad;  // a training step's no-grad cycles after the evaluation reuse it
    EXPECT_TRUE(torch::equal(lin->forward(x), expected()));
  }
  // With the gradient: autograd's own cast, gradients reach the float32 master weight; with a frozen
  // weight and an input that needs its gradient, autograd saves the cast: never the inference one.
  lin->weight.mutable_grad() = torch::Tensor();
  auto y = lin->forward(x);
  y.to(torch::kFloat32).sum().backward();
  EXPECT_TRUE(lin->weight.grad().defined());
  lin->weight.set_requires_grad(false);
  lin->bias.set_requires_grad(false);
  const auto xg = x.detach().clone().set_requires_grad(true);
  lin->forward(xg).to(torch::kFloat32).sum().backward();
  EXPECT_TRUE(xg.grad().defined());
  lin->weight.set_requires_grad(true);
  lin->bias.set_requires_grad(true);
  lin->weight_cast = {};
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(lin->forward(x.to(torch::kFloat32)),
                           torch::nn::functional::linear(x.to(torch::kFloat32), lin->weight, lin->bias)));
  EXPECT_FALSE(lin->weight_cast.cast.defined()) << "float32 needs no cast";
  {
    const FusedKernels off(false);
    lin->forward(x);
  }
  EXPECT_FALSE(lin->weight_cast.cast.defined()) << "hrm --unfused casts at every use, as the reference";
}

TEST(SwiGLU, IsDownOfSiluGateTimesUp) {
  hrm::SwiGLU mlp(16, 256, gen(3));
  auto x = torch::randn({2, 3, 16});
  auto gu = torch::matmul(x, mlp->gate_up_proj->weight.t());
  auto expected = torch::matmul(torch::silu(gu.narrow(-1, 0, 256)) * gu.narrow(-1, 256, 256), mlp->down_proj->weight.t());
  EXPECT_TRUE(torch::allclose(mlp->forward(x), expected, 1e-5, 1e-5));
}
