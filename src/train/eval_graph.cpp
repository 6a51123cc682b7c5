// eval_graph.cpp: see eval_graph.h.
#include "train/eval_graph.h"

#include <torch/torch.h>

#include "core/check.h"

#include <vector>

#if HRM_CUDA_TOOLKIT && !HRM_TORCH_FALLBACK  // set by CMakeLists.txt where the CUDA toolkit is found
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define HRM_EVAL_GRAPH 1
#else
#define HRM_EVAL_GRAPH 0
#endif

namespace hrm::train {
#if HRM_EVAL_GRAPH
namespace {

// f(a's tensor, b's tensor) for each tensor of a carry.
template <typename F>
void each_tensor(Carry& a, const Carry& b, F&& f) {
  f(a.inner_carry.z_H, b.inner_carry.z_H);
  f(a.inner_carry.z_L, b.inner_carry.z_L);
  f(a.steps, b.steps);
  f(a.halted, b.halted);
  f(a.current_data.inputs, b.current_data.inputs);
  f(a.current_data.labels, b.current_data.labels);
  f(a.current_data.puzzle_identifiers, b.current_data.puzzle_identifiers);
}

torch::Tensor copy_of(const torch::Tensor& t) { return t.defined() ? t.clone() : t; }

Carry copy_of(const Carry& c) {
  Carry out;
  each_tensor(out, c, [](torch::Tensor& dst, const torch::Tensor& src) { dst = copy_of(src); });
  return out;
}

LossHeadOutput copy_of(const LossHeadOutput& o) {
  LossHeadOutput out{copy_of(o.new_carry), copy_of(o.loss), {}, {}, copy_of(o.all_halted)};
  for (const auto& [k, v] : o.metrics) out.metrics.emplace_back(k, copy_of(v));
  out.outputs = ModelOutputs{copy_of(o.outputs.logits), copy_of(o.outputs.q_halt_logits),
                             copy_of(o.outputs.q_continue_logits), copy_of(o.outputs.target_q_continue)};
  return out;
}

// Where a model's parameters and buffers are: the replay reads that memory.
std::vector<const void*> memory_of(ACTLossHead& model) {
  std::vector<const void*> at;
  for (const auto& p : model->parameters()) at.push_back(p.data_ptr());
  for (const auto& b : model->buffers()) at.push_back(b.data_ptr());
  return at;
}

}  // namespace

struct EvalStepGraph::Impl {
  at::cuda::CUDAGraph graph;
  ACTLossHead model;                 // held, so that its memory cannot be freed and reused under the graph
  std::vector<const void*> memory;  // memory_of(model) at capture: another model, or a reallocation, recaptures
  Carry in_carry;  // the graph's inputs: every replay reads these tensors
  Batch in_batch;
  LossHeadOutput out;  // the graph's outputs: every replay rewrites these tensors

  explicit Impl(ACTLossHead m) : model(std::move(m)), memory(memory_of(model)) {}
};
#else
struct EvalStepGraph::Impl {};
#endif

EvalStepGraph::EvalStepGraph(bool enabled) : enabled_(enabled) {}

EvalStepGraph::~EvalStepGraph() {
#if HRM_EVAL_GRAPH
  if (!impl_) return;
  impl_.reset();
  // The graph's private memory pool is only released to the cache: give it back, for training.
  c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

bool EvalStepGraph::available() { return HRM_EVAL_GRAPH; }

LossHeadOutput EvalStepGraph::forward(ACTLossHead& model, const Carry& carry, const Batch& batch) {
  if (!enabled_) return model->forward(carry, batch);
  HRM_CHECK(!model->is_training(), "EvalStepGraph: the model must be in eval mode");
  HRM_CHECK(!torch::GradMode::is_enabled(), "EvalStepGraph: run under no-grad or inference mode");
  HRM_CHECK(carry.steps.is_cuda() && batch.inputs.is_cuda(), "EvalStepGraph: CUDA tensors only");
#if HRM_EVAL_GRAPH
  const bool same = impl_ && impl_->model.get() == model.get() && impl_->memory == memory_of(model) &&
                    impl_->in_batch.inputs.sizes() == batch.inputs.sizes() &&
                    impl_->in_carry.inner_carry.z_H.sizes() == carry.inner_carry.z_H.sizes();
  if (!same) {
    impl_.reset();  // a graph that is not complete is never kept
    auto g = std::make_unique<Impl>(model);
    g->in_carry = copy_of(carry);
    g->in_batch = Batch{batch.inputs.clone(), batch.labels.clone(), batch.puzzle_identifiers.clone()};
    // Warm up, then capture, on a side stream (capture needs one; the warm-up makes cuBLAS and the
    // attention kernels create their handles and workspaces outside the capture).
    const c10::DeviceIndex index = carry.steps.device().index();
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, index);
    torch::cuda::synchronize(index);
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      for (int i = 0; i < 2; ++i) model->forward(g->in_carry, g->in_batch);
      side.synchronize();
      g->graph.capture_begin();
      try {
        g->out = model->forward(g->in_carry, g->in_batch);
      } catch (const std::exception& e) {
        try {
          g->graph.capture_end();  // ends the stream's capture and the allocator's routing to the graph
        } catch (const std::exception&) {
        }
        HRM_THROW(Error, "cuda_graphs: capturing the evaluation step failed (run without cuda_graphs=true): ",
                  dynamic_cast<const c10::Error*>(&e) ? static_cast<const c10::Error&>(e).what_without_backtrace()
                                                      : e.what());
      }
      g->graph.capture_end();
    }
    side.synchronize();
    impl_ = std::move(g);
  }
  // Inputs in, replay on the current stream, outputs out (copies: the next replay rewrites them).
  each_tensor(impl_->in_carry, carry, [](torch::Tensor& dst, const torch::Tensor& src) { dst.copy_(src); });
  impl_->in_batch.inputs.copy_(batch.inputs);
  impl_->in_batch.labels.copy_(batch.labels);
  impl_->in_batch.puzzle_identifiers.copy_(batch.puzzle_identifiers);
  impl_->graph.replay();
  return copy_of(impl_->out);
#else
  (void)model, (void)carry, (void)batch;
  HRM_THROW(ConfigError, "cuda_graphs: this hrm was built without the CUDA toolkit's headers (no CUDA graphs)");
#endif
}

}  // namespace hrm::train
