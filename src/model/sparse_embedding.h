// sparse_embedding.h: the puzzle-embedding table trained by sign-SGD.
// Mirrors CastedSparseEmbedding in models/sparse_embedding.py (sapientinc/HRM@42410da).
// `weights` is a registered buffer (it is in the state dict, as the reference's persistent
// buffer) that autograd never touches. In training, forward gathers the batch's rows into a
// fresh leaf `local_weights` (requires_grad) and remembers `local_ids`; after backward the
// sign-SGD step reads local_weights.grad() and local_ids. The reference copies into fixed
// buffers instead; a fresh leaf per step computes the same thing.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace hrm {

struct CastedSparseEmbeddingImpl : torch::nn::Module {
  CastedSparseEmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, double init_std, torch::ScalarType cast_to,
                            at::Generator gen);
  torch::Tensor forward(const torch::Tensor& inputs);

  torch::Tensor weights;                  // [num_embeddings, embedding_dim] float32, buffer
  torch::Tensor local_weights, local_ids;  // set by a training forward with grad enabled
  torch::ScalarType cast_to;
};
TORCH_MODULE(CastedSparseEmbedding);

}  // namespace hrm
