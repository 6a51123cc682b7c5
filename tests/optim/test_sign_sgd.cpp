// test_sign_sgd.cpp: tests src/optim/sign_sgd.cpp (sparse sign-SGD of the puzzle embeddings).
// The fixture comparison (puzzle_emb_weights_<k> of optim_step.pt) is in test_verify_optim.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/check.h"
#include "optim/sign_sgd.h"

namespace hrm::optim {
namespace {

TEST(SparseSignSGD, SumsDuplicateIdsBeforeTheSignAndLeavesOtherRowsUndecayed) {
  torch::Tensor w = torch::tensor({{1.0f, 1.0f}, {2.0f, 2.0f}, {3.0f, 3.0f}, {4.0f, 4.0f}});
  // Row 2 appears twice: +0.5 and -2.0 sum to -1.5 (sign -1); taking the sign per row first and
  // summing those would give 0 in column 0. Row 0 appears once. Rows 1 and 3 are not seen.
  torch::Tensor grad = torch::tensor({{0.5f, 1.0f}, {3.0f, -1.0f}, {-2.0f, 1.0f}});
  torch::Tensor ids = torch::tensor({2, 0, 2}, torch::kInt);
  const double lr = 0.1, wd = 0.5;
  sparse_sign_sgd_step(w, grad, ids, lr, wd);
  const float decay = 1.0f - 0.05f;
  torch::Tensor want = torch::tensor({{1.0f * decay - 0.1f, 1.0f * decay + 0.1f},
                                      {2.0f, 2.0f},
                                      {3.0f * decay + 0.1f, 3.0f * decay - 0.1f},
                                      {4.0f, 4.0f}});
  EXPECT_TRUE(torch::allclose(w, want, 1e-6, 1e-6)) << w;
  EXPECT_EQ(w[1][0].item<float>(), 2.0f) << "untouched rows must be bit-identical";
  EXPECT_EQ(w[3][1].item<float>(), 4.0f);
}

TEST(SparseSignSGD, ZeroSumGradientOnlyDecays) {
  torch::Tensor w = torch::tensor({{1.0f}, {5.0f}});
  sparse_sign_sgd_step(w, torch::tensor({{0.25f}, {-0.25f}}), torch::tensor({1, 1}, torch::kLong), 0.1, 1.0);
  EXPECT_FLOAT_EQ(w[1][0].item<float>(), 5.0f * 0.9f) << "sign(0) = 0";
  EXPECT_EQ(w[0][0].item<float>(), 1.0f);
}

TEST(SparseSignSGD, AllGatherHookSeesLocalTensorsAndItsResultIsUsed) {
  torch::Tensor w = torch::zeros({3, 1});
  int calls = 0;
  // A fake second rank that contributes a gradient for row 1.
  GatherGradsFn gather = [&](const torch::Tensor& g, const torch::Tensor& ids) {
    ++calls;
    EXPECT_EQ(ids.size(0), 1);
    return std::make_pair(torch::cat({g, torch::tensor({{-1.0f}})}), torch::cat({ids, torch::tensor({1}, ids.options())}));
  };
  sparse_sign_sgd_step(w, torch::tensor({{1.0f}}), torch::tensor({0}, torch::kInt), 0.5, 0.0, gather);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(torch::equal(w, torch::tensor({{-0.5f}, {0.5f}, {0.0f}})));
}

TEST(SparseSignSGD, RejectsOutOfRangeIdsAndMismatchedShapes) {
  torch::Tensor w = torch::zeros({2, 3});
  torch::Tensor before = w.clone();
  EXPECT_THROW(sparse_sign_sgd_step(w, torch::ones({1, 3}), torch::tensor({2}, torch::kInt), 0.1, 0.1), Error);
  EXPECT_THROW(sparse_sign_sgd_step(w, torch::ones({1, 3}), torch::tensor({-1}, torch::kInt), 0.1, 0.1), Error);
  EXPECT_THROW(sparse_sign_sgd_step(w, torch::ones({1, 4}), torch::tensor({0}, torch::kInt), 0.1, 0.1), Error);
  EXPECT_THROW(sparse_sign_sgd_step(w, torch::ones({2, 3}), torch::tensor({0}, torch::kInt), 0.1, 0.1), Error);
  EXPECT_THROW(sparse_sign_sgd_step(w, torch::ones({1, 3}), torch::tensor({0.0f}), 0.1, 0.1), Error);
  EXPECT_TRUE(torch::equal(w, before)) << "a rejected step changes nothing";
}

// The reference's formulation (sparse_embedding.py): unique ids, scatter_add_ of the rows, update.
void reference_sign_sgd(torch::Tensor& w, const torch::Tensor& grad, const torch::Tensor& ids, double lr, double wd) {
  auto [uids, inv] = torch::_unique(ids, /*sorted=*/true, /*return_inverse=*/true);
  torch::Tensor g = torch::zeros({uids.size(0), grad.size(1)}, grad.options());
  g.scatter_add_(0, inv.unsqueeze(-1).expand({-1, grad.size(1)}), grad);
  torch::Tensor rows = uids.to(torch::kLong), p = w.index_select(0, rows);
  p.mul_(1.0 - lr * wd).add_(torch::sign(g), -lr);
  w.index_copy_(0, rows, p);
}

// The sort-based step (no unique, no host sync) gives the reference's result bit for bit on the CPU,
// with many duplicates (64 rows over 10 ids) and ids in any order.
TEST(SparseSignSGD, EqualsTheUniqueAndScatterAddFormulationBitForBit) {
  torch::manual_seed(1);
  for (int trial = 0; trial < 5; ++trial) {
    torch::Tensor w = torch::randn({12, 16}), grad = torch::randn({64, 16});
    torch::Tensor ids = torch::randint(0, 10, {64}, torch::kInt);
    torch::Tensor want = w.clone();
    reference_sign_sgd(want, grad, ids, 1e-2, 0.1);
    sparse_sign_sgd_step(w, grad, ids, 1e-2, 0.1);
    EXPECT_TRUE(torch::equal(w, want)) << "trial " << trial;
  }
}

TEST(SparseSignSGD, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(0);
  torch::Tensor w = torch::randn({50, 8}), grad = torch::randn({64, 8});
  torch::Tensor ids = torch::randint(0, 50, {64}, torch::kInt);
  torch::Tensor w_gpu = w.to(torch::kCUDA);
  sparse_sign_sgd_step(w, grad, ids, 1e-2, 0.1);
  sparse_sign_sgd_step(w_gpu, grad.to(torch::kCUDA), ids.to(torch::kCUDA), 1e-2, 0.1);
  // The sums of duplicate rows may round differently (scatter_add order), never enough to flip a sign
  // of random N(0, 1) sums in practice; the update is then identical up to float rounding.
  EXPECT_TRUE(torch::allclose(w_gpu.cpu(), w, 1e-6, 1e-7));
}

}  // namespace
}  // namespace hrm::optim
