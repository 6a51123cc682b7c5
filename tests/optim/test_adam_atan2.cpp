// test_adam_atan2.cpp: tests src/optim/adam_atan2.cpp against hand-computed updates, and its state
// round trip. The fixture comparison (optim_step.pt) is in test_verify_optim.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/check.h"
#include "optim/adam_atan2.h"

namespace hrm::optim {
namespace {

torch::Tensor param(std::vector<double> values, torch::Dtype dtype = torch::kDouble) {
  return torch::tensor(values, torch::TensorOptions().dtype(dtype)).set_requires_grad(true);
}

// Two steps by hand, in double, from the SPEC formula.
TEST(AdamATan2, TwoStepsMatchHandComputedFormula) {
  const double lr = 0.1, b1 = 0.9, b2 = 0.95, wd = 0.1;
  torch::Tensor p = param({1.0, -2.0});
  AdamATan2 opt({p}, {lr, b1, b2, wd});
  const double g1[2] = {0.5, -0.25}, g2[2] = {-1.0, 0.75};
  double want_p[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  for (int t = 1; t <= 2; ++t) {
    const double* g = t == 1 ? g1 : g2;
    p.mutable_grad() = torch::tensor({g[0], g[1]}, torch::kDouble);
    opt.step(lr);
    for (int i = 0; i < 2; ++i) {
      want_p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      want_p[i] -= lr / (1 - std::pow(b1, t)) * std::atan2(m[i], std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, t)));
      EXPECT_NEAR(p[i].item<double>(), want_p[i], 1e-14) << "step " << t << " element " << i;
      EXPECT_NEAR(opt.exp_avg()[0][i].item<double>(), m[i], 1e-15);
      EXPECT_NEAR(opt.exp_avg_sq()[0][i].item<double>(), v[i], 1e-15);
    }
  }
  EXPECT_EQ(opt.step_count(), 2);
}

// The multi-tensor step (all parameters at once, grouped by step count) computes what the package's
// per-element formula gives with per-tensor ops, bit for bit on the CPU: several float32 shapes, one
// parameter that sits out a step and so has its own bias correction afterwards.
TEST(AdamATan2, MultiTensorStepEqualsThePerTensorFormulaBitForBit) {
  const double lr = 3e-3, b1 = 0.9, b2 = 0.95, wd = 0.1;
  torch::manual_seed(3);
  std::vector<torch::Tensor> ps{torch::randn({7, 5}), torch::randn({33}), torch::randn({2, 3, 4})};
  std::vector<torch::Tensor> want, m, v;
  std::vector<int64_t> t(ps.size(), 0);
  for (auto& p : ps) {
    want.push_back(p.clone());
    m.push_back(torch::zeros_like(p));
    v.push_back(torch::zeros_like(p));
  }
  AdamATan2 opt(ps, {lr, b1, b2, wd});
  for (int step = 1; step <= 4; ++step) {
    for (size_t i = 0; i < ps.size(); ++i) {
      if (step == 2 && i == 1) {
        ps[i].mutable_grad() = torch::Tensor();  // sits out this step
        continue;
      }
      const torch::Tensor g = torch::randn(ps[i].sizes());
      ps[i].mutable_grad() = g;
      const double bc1 = 1 - std::pow(b1, ++t[i]), bc2 = 1 - std::pow(b2, t[i]);
      want[i].mul_(1 - lr * wd);
      m[i].lerp_(g, 1 - b1);
      v[i].lerp_(g * g, 1 - b2);
      want[i].add_(torch::atan2(m[i], v[i].sqrt().div_(std::sqrt(bc2))), -lr / bc1);
    }
    opt.step(lr);
    for (size_t i = 0; i < ps.size(); ++i) {
      EXPECT_TRUE(torch::equal(ps[i], want[i])) << "step " << step << " parameter " << i;
      EXPECT_TRUE(torch::equal(opt.exp_avg_sq()[i], v[i])) << "step " << step << " parameter " << i;
    }
  }
}

// The first step of any nonzero gradient moves by about lr (atan2(0.1g, |g|)/0.1 = 0.9967), whatever
// the gradient's scale: the property that makes the optimizer epsilon-free.
TEST(AdamATan2, FirstStepIsScaleInvariant) {
  for (double scale : {1e-30, 1e-3, 1e3}) {
    torch::Tensor p = param({0.0});
    AdamATan2 opt({p}, {0.01, 0.9, 0.95, 0.0});
    p.mutable_grad() = torch::tensor({scale}, torch::kDouble);
    opt.step(0.01);
    EXPECT_NEAR(p.item<double>(), -0.01 * std::atan2(0.1, 1.0) / 0.1, 1e-15) << "scale " << scale;
  }
}

TEST(AdamATan2, ZeroGradientOnlyDecays) {
  torch::Tensor p = param({2.0});
  AdamATan2 opt({p}, {0.1, 0.9, 0.95, 0.5});
  p.mutable_grad() = torch::zeros({1}, torch::kDouble);
  opt.step(0.1);  // atan2(0, 0) = 0: no NaN without an epsilon
  EXPECT_DOUBLE_EQ(p.item<double>(), 2.0 * (1 - 0.1 * 0.5));
}

TEST(AdamATan2, UsesTheLrPassedToStepNotTheOption) {
  torch::Tensor a = param({1.0}), b = param({1.0});
  AdamATan2 opt_a({a}, {/*lr=*/123.0, 0.9, 0.95, 0.1}), opt_b({b}, {0.05, 0.9, 0.95, 0.1});
  a.mutable_grad() = torch::ones({1}, torch::kDouble);
  b.mutable_grad() = torch::ones({1}, torch::kDouble);
  opt_a.step(0.05);
  opt_b.step(0.05);
  EXPECT_DOUBLE_EQ(a.item<double>(), b.item<double>());
}

TEST(AdamATan2, SkipsParametersWithoutGradientAndKeepsTheirOwnStepCount) {
  torch::Tensor with = param({1.0}), without = param({1.0});
  AdamATan2 opt({with, without}, {0.1, 0.9, 0.95, 0.1});
  with.mutable_grad() = torch::ones({1}, torch::kDouble);
  opt.step(0.1);
  EXPECT_DOUBLE_EQ(without.item<double>(), 1.0) << "no grad: not even decayed";
  EXPECT_EQ(opt.exp_avg()[1].item<double>(), 0.0);

  // Its first real step must use t = 1 bias corrections, exactly like a fresh optimizer.
  torch::Tensor fresh = param({1.0});
  AdamATan2 opt_fresh({fresh}, {0.1, 0.9, 0.95, 0.1});
  opt.zero_grad();
  without.mutable_grad() = torch::ones({1}, torch::kDouble);
  fresh.mutable_grad() = torch::ones({1}, torch::kDouble);
  opt.step(0.1);
  opt_fresh.step(0.1);
  EXPECT_DOUBLE_EQ(without.item<double>(), fresh.item<double>());
}

TEST(AdamATan2, ZeroGradSetsGradientsToUndefined) {
  torch::Tensor p = param({1.0});
  AdamATan2 opt({p}, {});
  p.mutable_grad() = torch::ones({1}, torch::kDouble);
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
}

TEST(AdamATan2, UpdatesTheCallersTensorsInPlace) {
  torch::nn::Linear lin(3, 2);
  lin->weight.mutable_grad() = torch::ones_like(lin->weight);
  torch::Tensor before = lin->weight.detach().clone();
  AdamATan2 opt(lin->parameters(), {0.1, 0.9, 0.95, 0.0});
  opt.step(0.1);
  EXPECT_TRUE(torch::allclose(lin->weight, before - 0.1 * std::atan2(0.1, 1.0) / 0.1));
  EXPECT_TRUE(torch::equal(lin->bias, opt.params()[1])) << "bias had no grad";
}

TEST(AdamATan2, StateRoundTripContinuesIdentically) {
  auto make = [] { return param({0.3, -0.7, 1.1}, torch::kFloat); };
  auto grad = [](int t) { return torch::tensor({0.1f * t, -0.2f, 0.05f * t * t}); };
  torch::Tensor a = make(), b = make();
  AdamATan2 opt_a({a}, {1e-2, 0.9, 0.95, 0.1});
  for (int t = 1; t <= 3; ++t) {
    a.mutable_grad() = grad(t);
    opt_a.step(1e-2);
  }
  const auto st = opt_a.state({"w"});
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st[0].first, "step");

  AdamATan2 opt_b({b}, {1e-2, 0.9, 0.95, 0.1});
  {
    torch::NoGradGuard no_grad;
    b.copy_(a);
  }
  opt_b.load_state(st, {"w"});
  EXPECT_EQ(opt_b.step_count(), 3);
  a.mutable_grad() = grad(4);
  b.mutable_grad() = grad(4);
  opt_a.step(1e-2);
  opt_b.step(1e-2);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(opt_a.exp_avg_sq()[0], opt_b.exp_avg_sq()[0]));
}

TEST(AdamATan2, LoadStateRejectsMissingWrongShapedOrForeignKeys) {
  torch::Tensor p = param({1.0, 2.0}, torch::kFloat);
  AdamATan2 opt({p}, {});
  auto st = opt.state({"w"});

  auto missing = st;
  missing.erase(missing.begin() + 1);  // exp_avg.w
  EXPECT_THROW(opt.load_state(missing, {"w"}), FormatError);

  auto bad_shape = st;
  bad_shape[1].second = torch::zeros({3});
  try {
    opt.load_state(bad_shape, {"w"});
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("exp_avg.w"), std::string::npos) << e.what();
  }

  auto foreign = st;
  foreign.emplace_back("exp_avg.other", torch::zeros({2}));
  EXPECT_THROW(opt.load_state(foreign, {"w"}), FormatError);
  EXPECT_THROW(opt.load_state(st, {"w", "x"}), Error);
}

TEST(AdamATan2, RejectsBadOptionsAndMismatchedGradients) {
  torch::Tensor p = param({1.0});
  EXPECT_THROW(AdamATan2({p}, {1e-3, 1.0, 0.95, 0.1}), ConfigError);
  EXPECT_THROW(AdamATan2({p}, {1e-3, 0.9, 0.95, -1.0}), ConfigError);
  EXPECT_THROW(AdamATan2({torch::zeros({1}, torch::kBFloat16)}, {}), Error);
  AdamATan2 opt({p}, {});
  EXPECT_THROW(opt.step(-1.0), ConfigError);
  p.mutable_grad() = torch::ones({2}, torch::kDouble);
  EXPECT_THROW(opt.step(1e-3), Error);
}

// ggml-style backend check: the CUDA path must equal the CPU path (to float32 rounding).
TEST(AdamATan2, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(0);
  torch::Tensor cpu = torch::randn({64, 33}).set_requires_grad(true);
  torch::Tensor gpu = cpu.detach().to(torch::kCUDA).set_requires_grad(true);
  AdamATan2 opt_cpu({cpu}, {1e-3, 0.9, 0.95, 0.1}), opt_gpu({gpu}, {1e-3, 0.9, 0.95, 0.1});
  for (int t = 0; t < 5; ++t) {
    torch::Tensor g = torch::randn({64, 33}) * 1e-3;
    cpu.mutable_grad() = g;
    gpu.mutable_grad() = g.to(torch::kCUDA);
    opt_cpu.step(1e-3);
    opt_gpu.step(1e-3);
  }
  EXPECT_TRUE(torch::allclose(gpu.cpu(), cpu, /*rtol=*/1e-5, /*atol=*/1e-7));
  EXPECT_TRUE(torch::allclose(opt_gpu.exp_avg_sq()[0].cpu(), opt_cpu.exp_avg_sq()[0], 1e-5, 1e-12));
}

}  // namespace
}  // namespace hrm::optim
