// sparse_embedding.cpp: see sparse_embedding.h.
#include "model/sparse_embedding.h"

#include <torch/torch.h>

#include "model/layers.h"

namespace hrm {

CastedSparseEmbeddingImpl::CastedSparseEmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, double init_std,
                                                     torch::ScalarType cast_to_, at::Generator gen)
    : cast_to(cast_to_) {
  auto w = torch::empty({num_embeddings, embedding_dim});
  weights = register_buffer("weights", trunc_normal_init_(w, init_std, gen));
}

torch::Tensor CastedSparseEmbeddingImpl::forward(const torch::Tensor& inputs) {
  auto ids = inputs.to(torch::kLong);
  // Evaluation, or the ACT wrapper's no-grad target-Q forward: plain lookup. The latter must not
  // replace the leaf that the gradient step's graph holds (the reference re-copies equal values).
  if (!is_training() || !torch::GradMode::is_enabled()) return weights.index_select(0, ids).to(cast_to);
  {
    torch::NoGradGuard no_grad;
    local_weights = weights.index_select(0, ids).clone();
    local_ids = inputs.to(torch::kInt32).clone();
  }
  local_weights.set_requires_grad(true);
  return local_weights.to(cast_to);
}

}  // namespace hrm
