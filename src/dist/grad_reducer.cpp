// grad_reducer.cpp: Comm's use of c10d::Reducer (reducer.hpp), DDP's bucketed all-reduce that runs
// inside the backward from autograd hooks on the parameters' gradient accumulators (see comm.h).
// Differs from DDP's defaults in one point: the reference sums gradients over ranks (its loss is
// already divided by the global batch size), while DDP's Reducer divides by the world size unless a
// communication hook is registered, so we register one that all-reduces with SUM.
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <algorithm>

#include "dist/comm_impl.h"

namespace hrm::dist {

namespace {

constexpr size_t kFirstBucketBytes = 1024 * 1024;  // DDP's _DEFAULT_FIRST_BUCKET_BYTES

// The bucket's flat buffer all-reduced with SUM on our backend; the Reducer copies the result back
// into the gradients at the end of the backward.
class SumHook : public c10d::CppCommHookInterface<c10::intrusive_ptr<c10d::Backend>> {
 public:
  explicit SumHook(const c10::intrusive_ptr<c10d::Backend>& backend, std::chrono::milliseconds timeout)
      : c10d::CppCommHookInterface<c10::intrusive_ptr<c10d::Backend>>(backend), timeout_(timeout) {}
  c10::intrusive_ptr<c10::ivalue::Future> runHook(c10d::GradBucket& bucket) override {
    std::vector<at::Tensor> tensors{bucket.getBufferRef()};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    o.timeout = timeout_;
    return state_->allreduce(tensors, o)->getFuture();
  }

 private:
  std::chrono::milliseconds timeout_;
};

}  // namespace

void Comm::attach_gradient_reducer(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  Impl& m = *impl_;
  HRM_CHECK(!m.reducer, "attach_gradient_reducer: a reducer is already attached");
  for (const auto& p : params) {
    HRM_CHECK(p.requires_grad() && p.is_leaf(), "attach_gradient_reducer: parameters must be leaves that require grad");
    // Gloo has no bfloat16/float16 reduction (comm.h reduces a float32 copy; the Reducer cannot).
    HRM_CHECK(m.device.is_cuda() || !m.needs_float32(p), "attach_gradient_reducer: a ", p.scalar_type(),
              " parameter cannot be reduced by Gloo");
  }
  // c10d::Reducer wants a ProcessGroup: ours holds the one backend for this device.
  const auto type = m.device.is_cuda() ? c10d::ProcessGroup::BackendType::NCCL : c10d::ProcessGroup::BackendType::GLOO;
  auto group = c10::make_intrusive<c10d::ProcessGroup>(m.store, m.env.rank, m.env.world_size);
  group->setBackend(m.device.type(), type, m.pg);
  group->setDefaultBackend(type);

  // As DistributedDataParallel: buckets by size over the parameters, then reversed (gradients arrive
  // roughly in reverse order of the parameters).
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
      params, {kFirstBucketBytes, static_cast<size_t>(bucket_bytes)}, std::vector<bool>(params.size(), false));
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  std::vector<int64_t> limit_list(limits.begin(), limits.end());
  try {
    m.reducer = std::make_shared<c10d::Reducer>(
        params, buckets, group, std::vector<bool>(params.size(), false), bucket_bytes,
        /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
        std::unordered_map<size_t, std::string>{}, static_cast<int64_t>(kFirstBucketBytes),
        /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false, limit_list);
    m.reducer->register_comm_hook(std::make_unique<SumHook>(m.pg, m.timeout));
  } catch (const c10::Error& e) {
    HRM_THROW(Error, "rank ", m.env.rank, ": setting up c10d's gradient Reducer failed: ", e.what_without_backtrace());
  }
}

bool Comm::has_gradient_reducer() const { return impl_->reducer != nullptr; }

void Comm::run_backward(const std::function<void()>& backward) {
  Impl& m = *impl_;
  try {
    if (m.reducer) {  // as DistributedDataParallel.forward (_pre_forward)
      // The first backward recorded the order in which gradients became ready; rebuild the buckets in
      // that order once (a collective: rank 0's order everywhere). Until this runs the Reducer keeps
      // recording on every backward, so it must run every step; after the first it returns at once.
      m.reducer->rebuild_buckets();
      m.reducer->prepare_for_forward();
      m.reducer->prepare_for_backward({});
    }
    backward();
  } catch (const hrm::Error&) {
    throw;
  } catch (const std::exception& e) {
    m.fail("all-reduce of the gradients (c10d::Reducer, in the backward)", message_of(e));
  }
}

}  // namespace hrm::dist
