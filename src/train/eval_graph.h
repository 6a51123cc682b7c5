// eval_graph.h: the evaluation ACT step as a CUDA graph. In evaluation a segment has fixed shapes and
// no randomness, so it is captured once per batch shape and then replayed: one launch instead of
// ~40 per block pass, which is what small models and small batches (hrm solve) are bound by on a GPU.
// Opt-in (`cuda_graphs=true`): captured with PyTorch's CUDAGraph (ATen/cuda), built where the CUDA
// toolkit's headers are.
#pragma once

#include <memory>

#include "model/losses.h"

namespace hrm::train {

class EvalStepGraph {
 public:
  // enabled = false: forward() is the eager model->forward (so callers keep one code path).
  explicit EvalStepGraph(bool enabled);
  ~EvalStepGraph();
  bool enabled() const { return enabled_; }

  // Whether this build can capture CUDA graphs (compiled with the CUDA toolkit's headers).
  static bool available();

  // The same as model->forward(carry, batch). Enabled, the model must be in eval mode on a CUDA
  // device, under no-grad or inference mode. The first call for a batch shape (or model) warms up and captures;
  // every call copies carry and batch into the graph's inputs, replays, and returns copies of its
  // outputs. The replay reads the parameters where they were at capture: values changed in place
  // (an optimizer step, EMA weights copied in) are seen; a model whose parameters were reallocated
  // (moved, reloaded) is captured anew.
  LossHeadOutput forward(ACTLossHead& model, const Carry& carry, const Batch& batch);

 private:
  struct Impl;
  bool enabled_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hrm::train
