// sign_sgd.h: the sparse sign-SGD step HRM trains the puzzle-embedding table with.
// Mirrors CastedSparseEmbeddingSignSGD_Distributed / _sparse_emb_signsgd_dist in
// models/sparse_embedding.py of sapientinc/HRM@42410da: ids = unique(all ids); G[id] = sum of the
// gradient rows with that id; W[id] = W[id]*(1 - lr*wd) - lr*sign(G[id]); rows not seen keep their value
// (no decay). Differs: a free function on the three tensors instead of a torch Optimizer that finds them
// by requires_grad/ndim; the data-parallel all-gather is an optional callback instead of torch.distributed.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <utility>

namespace hrm::optim {

struct SignSGDOptions {
  double lr = 1e-2;
  double weight_decay = 0.1;
};

// Data-parallel hook: given this rank's (grad [N, D], ids [N]) returns every rank's, concatenated
// (reference: dist.all_gather_into_tensor of both). Empty = single process (identity).
using GatherGradsFn =
    std::function<std::pair<torch::Tensor, torch::Tensor>(const torch::Tensor& grad, const torch::Tensor& ids)>;

// weights [num_ids, D] (float, updated in place); local_weights_grad [N, D], same dtype and device;
// local_ids [N] integer ids into weights. Differs: no unique() (whose output size needs a device-to-host
// sync on CUDA): duplicates are summed by a sort, so the step has fixed shapes and never waits for the
// device. On CPU, ids outside [0, num_ids) throw hrm::Error; on CUDA they are not checked here (that
// would be a sync) and index_select fails.
void sparse_sign_sgd_step(torch::Tensor& weights, const torch::Tensor& local_weights_grad,
                          const torch::Tensor& local_ids, double lr, double weight_decay,
                          const GatherGradsFn& all_gather = {});

}  // namespace hrm::optim
