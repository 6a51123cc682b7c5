// sign_sgd.cpp: sparse sign-SGD on the puzzle-embedding table (see sign_sgd.h).
#include "optim/sign_sgd.h"

#include "core/check.h"

namespace hrm::optim {

namespace {

void check_inputs(const torch::Tensor& weights, const torch::Tensor& grad, const torch::Tensor& ids) {
  HRM_CHECK(weights.defined() && grad.defined() && ids.defined(), "sparse_sign_sgd_step: undefined tensor");
  HRM_CHECK(weights.dim() == 2 && weights.is_floating_point(),
            "sparse_sign_sgd_step: weights must be a 2-d float tensor, got ", weights.scalar_type(), " ",
            weights.sizes());
  HRM_CHECK(grad.dim() == 2 && grad.size(1) == weights.size(1) && grad.scalar_type() == weights.scalar_type(),
            "sparse_sign_sgd_step: gradient ", grad.scalar_type(), " ", grad.sizes(), " does not match weights ",
            weights.scalar_type(), " ", weights.sizes());
  HRM_CHECK(ids.dim() == 1 && ids.size(0) == grad.size(0) && !ids.is_floating_point() &&
                ids.scalar_type() != torch::kBool,
            "sparse_sign_sgd_step: ids must be 1-d integers, one per gradient row; got ", ids.scalar_type(), " ",
            ids.sizes(), " for gradient ", grad.sizes());
  HRM_CHECK(grad.device() == weights.device() && ids.device() == weights.device(),
            "sparse_sign_sgd_step: weights, gradient and ids must be on one device");
}

}  // namespace

void sparse_sign_sgd_step(torch::Tensor& weights, const torch::Tensor& local_weights_grad,
                          const torch::Tensor& local_ids, double lr, double weight_decay,
                          const GatherGradsFn& all_gather) {
  HRM_CHECK(lr >= 0.0 && weight_decay >= 0.0, "sparse_sign_sgd_step: lr (", lr, ") and weight_decay (",
            weight_decay, ") must be >= 0");
  torch::NoGradGuard no_grad;
  torch::Tensor all_grad = local_weights_grad, all_ids = local_ids;
  if (all_gather) std::tie(all_grad, all_ids) = all_gather(local_weights_grad, local_ids);
  check_inputs(weights, all_grad, all_ids);
  if (all_ids.numel() == 0) return;
  if (all_ids.is_cpu()) {
    const int64_t lo = all_ids.min().item<int64_t>(), hi = all_ids.max().item<int64_t>();
    HRM_CHECK(lo >= 0 && hi < weights.size(0), "sparse_sign_sgd_step: ids span [", lo, ", ", hi,
              "], outside the table's ", weights.size(0), " rows");
  }

  // Sum the gradient rows of duplicate ids before the sign (reference: unique + scatter_add_), with
  // fixed shapes and no host sync (unique's output size needs one on CUDA): a stable sort of the ids,
  // runs of equal ids numbered, each run summed into one row of an [N, D] buffer in the original row
  // order (as scatter_add_ on the CPU adds them).
  const int64_t N = all_ids.size(0), D = all_grad.size(1);
  const auto sorted = torch::sort(all_ids.to(torch::kLong), /*stable=*/c10::optional<bool>(true), /*dim=*/0);
  const torch::Tensor& ids = std::get<0>(sorted);  // [N]
  const torch::Tensor& order = std::get<1>(sorted);
  torch::Tensor starts_run = torch::ones({N}, ids.options().dtype(torch::kBool));
  starts_run.slice(0, 1).copy_(ids.slice(0, 1) != ids.slice(0, 0, N - 1));
  const torch::Tensor run = starts_run.to(torch::kLong).cumsum(0) - 1;  // [N], the run of each sorted row
  const torch::Tensor run_grad = torch::zeros({N, D}, all_grad.options()).index_add_(0, run, all_grad.index_select(0, order));

  // SignSGD with decoupled weight decay, on the seen rows only. A duplicated id is written once per
  // occurrence, each time with the same value (same old row, same summed gradient).
  torch::Tensor p = weights.index_select(0, ids);  // [N, D]
  p.mul_(1.0 - lr * weight_decay).add_(torch::sign(run_grad.index_select(0, run)), -lr);
  weights.index_copy_(0, ids, p);
}

}  // namespace hrm::optim
