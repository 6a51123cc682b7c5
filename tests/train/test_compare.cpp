// compare_tensors: the elementwise and the normwise (relative L2) criteria of the golden checks.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <limits>

#include "train/compare.h"

namespace hrm {
namespace {

TEST(CompareTensors, ElementwiseFailsOneElementOutsideAtolPlusRtol) {
  const auto want = torch::tensor({1.0, 2.0, 0.0});
  EXPECT_TRUE(compare_tensors("x", want + 1e-5, want, {1e-4, 0}).pass);
  auto got = want.clone();
  got[2] = 1e-3;  // near zero: no relative slack
  const auto r = compare_tensors("x", got, want, {1e-4, 1e-4});
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.detail.find("flat index 2"), std::string::npos);
}

TEST(CompareTensors, NormwiseJudgesTheRelativeL2ErrorOfTheWholeTensor) {
  const auto want = torch::tensor({3.0, 4.0, 0.0});  // ||want|| = 5
  auto got = want.clone();
  got[2] = 0.4;  // elementwise this fails any rtol; normwise it is 0.4 / 5 = 8e-2
  const auto loose = compare_tensors("x", got, want, {0, 0, 0.1});
  EXPECT_TRUE(loose.pass);
  EXPECT_NEAR(loose.rel_l2, 0.08, 1e-7);  // torch::tensor({...}) is float32
  const auto tight = compare_tensors("x", got, want, {0, 0, 0.05});
  EXPECT_FALSE(tight.pass);
  EXPECT_NE(tight.detail.find("||want|| = 5"), std::string::npos);
  EXPECT_NE(format_result(tight).find("tol(rel_l2 5e-02)"), std::string::npos);
}

TEST(CompareTensors, NormwiseMatchesNaNAndInfinityWhereTheGoldenHasThem) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const auto want = torch::tensor({1.0, nan, inf});
  EXPECT_TRUE(compare_tensors("x", want.clone(), want, {0, 0, 1e-3}).pass);
  EXPECT_FALSE(compare_tensors("x", torch::tensor({1.0, 1.0, inf}), want, {0, 0, 1e3}).pass);  // NaN expected
  EXPECT_FALSE(compare_tensors("x", torch::tensor({nan, nan, inf}), want, {0, 0, 1e3}).pass);  // NaN produced
  // An infinity in the golden does not make every other difference vanish in the norm.
  const auto with_inf = torch::tensor({1.0, 2.0, inf});
  EXPECT_FALSE(compare_tensors("x", torch::tensor({1.5, 2.5, inf}), with_inf, {0, 0, 0.1}).pass);
  EXPECT_FALSE(compare_tensors("x", torch::tensor({1.0, 2.0, 3.0}), with_inf, {0, 0, 1e3}).pass);
}

TEST(CompareTensors, IntegerAndBoolTensorsMustBeEqualWhateverTheTolerance) {
  const auto want = torch::tensor({1, 2, 3});
  EXPECT_TRUE(compare_tensors("n", want.clone(), want, {0, 0, 0.5}).pass);
  EXPECT_FALSE(compare_tensors("n", torch::tensor({1, 2, 4}), want, {1, 1, 0.5}).pass);
  EXPECT_FALSE(compare_tensors("b", torch::tensor({true, false}), torch::tensor({true, true}), {1, 1, 1}).pass);
}

TEST(CompareTensors, AShapeMismatchOrAMissingTensorFails) {
  EXPECT_FALSE(compare_tensors("x", torch::zeros({2, 3}), torch::zeros({3, 2}), {1, 1}).pass);
  EXPECT_EQ(compare_tensors("x", torch::Tensor(), torch::zeros({2}), {1, 1}).detail, "not computed");
  EXPECT_EQ(compare_tensors("x", torch::zeros({2}), torch::Tensor(), {1, 1}).detail, "missing in the fixture");
}

}  // namespace
}  // namespace hrm
