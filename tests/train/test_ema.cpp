// test_ema.cpp: tests src/train/ema.cpp: the TRM EMAHelper update shadow = (1-rate)*p + rate*shadow,
// swapping in and back restores the trained weights exactly, and the state round-trips.
#include <gtest/gtest.h>

#include "core/check.h"
#include "train/ema.h"

namespace hrm::train {
namespace {

TEST(Ema, UpdateIsTheExponentialMovingAverage) {
  torch::nn::Linear lin(3, 2);
  const torch::Tensor w0 = lin->weight.detach().clone();
  Ema ema(*lin, 0.75);
  {
    torch::NoGradGuard no_grad;
    lin->weight.add_(1.0);
  }
  ema.update();
  const torch::Tensor w1 = lin->weight.detach().clone();
  torch::Tensor shadow;
  for (const auto& [k, v] : ema.state())
    if (k == "ema.weight") shadow = v;
  EXPECT_TRUE(torch::allclose(shadow, 0.25 * w1 + 0.75 * w0, 1e-6, 1e-6));
}

TEST(Ema, SwapInAndBackRestoresTheTrainedWeightsExactly) {
  torch::nn::Linear lin(4, 4);
  Ema ema(*lin, 0.5);
  {
    torch::NoGradGuard no_grad;
    lin->weight.mul_(3.0);
  }
  ema.update();
  const torch::Tensor trained = lin->weight.detach().clone();
  {
    EmaScope scope(&ema);
    EXPECT_FALSE(torch::equal(lin->weight, trained));
  }
  EXPECT_TRUE(torch::equal(lin->weight, trained));
  EmaScope none(nullptr);  // no EMA: nothing happens
  EXPECT_TRUE(torch::equal(lin->weight, trained));
}

TEST(Ema, StateRoundTripsAndMissingKeysAreNamed) {
  torch::nn::Linear a(2, 2), b(2, 2);
  Ema ea(*a, 0.9), eb(*b, 0.9);
  eb.load_state(ea.state(), "test");
  for (size_t i = 0; i < ea.state().size(); ++i) EXPECT_TRUE(torch::equal(ea.state()[i].second, eb.state()[i].second));
  auto partial = ea.state();
  partial.pop_back();
  try {
    eb.load_state(partial, "file.pt");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("file.pt: missing EMA weights 'ema.bias'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hrm::train
