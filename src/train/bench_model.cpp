// bench_model.cpp: see bench_model.h.
#include "train/bench_model.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <optional>

#include "model/losses.h"
#include "train/bench_common.h"
#include "train/memory_estimate.h"
#include "train/flops.h"

namespace hrm {
namespace {

template <typename F>
double median_ms(int warmup, int iters, torch::Device d, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) ms.push_back(timed_ms(d, f));
  return median(ms);
}

}  // namespace

BenchModelResult bench_model(const BenchModelOptions& o) {
  const auto& c = o.config;
  // The inference need is a lower bound of the train segment's too (memory_estimate.h).
  train::check_memory_before_building(c, o.device, train::ModelUse::evaluation, false, "batch_size");
  ACTLossHead head(HRMACTV1(c, 0), c.loss_type);
  head->model->to_device(o.device);
  BenchModelResult r;
  for (const auto& p : head->parameters()) r.parameters += p.numel();
  const FlopCount flops = count_flops(c, c.batch_size);
  r.forward_flops = flops.forward_segment;
  r.train_flops = flops.train_step;

  auto iopts = torch::TensorOptions().dtype(torch::kInt32).device(o.device);
  Batch batch{torch::randint(1, c.vocab_size, {c.batch_size, c.seq_len}, iopts),
              torch::randint(1, c.vocab_size, {c.batch_size, c.seq_len}, iopts),
              torch::randint(0, c.num_puzzle_identifiers, {c.batch_size}, iopts)};
  const double tokens = static_cast<double>(c.batch_size) * c.seq_len;

  // One carry at a time, as the segments are timed one kind after the other (peak memory counts one).
  std::optional<Carry> eval_carry, train_carry;
  auto forward_segment = [&] {
    head->eval();
    torch::NoGradGuard no_grad;
    if (!eval_carry) eval_carry = head->initial_carry(batch);
    eval_carry = head->forward(*eval_carry, batch).new_carry;
  };
  auto train_segment = [&] {
    head->train();
    if (!train_carry) train_carry = head->initial_carry(batch);
    auto out = head->forward(*train_carry, batch);
    (out.loss / static_cast<double>(c.batch_size)).backward();
    for (auto& p : head->parameters()) p.mutable_grad() = torch::Tensor();
    train_carry = out.new_carry;
  };
  reset_peak_memory(o.device);
  r.forward_ms = median_ms(o.warmup, o.iters, o.device, forward_segment);
  r.forward_peak_bytes = peak_memory_bytes(o.device);
  eval_carry.reset();
  reset_peak_memory(o.device);
  r.train_ms = median_ms(o.warmup, o.iters, o.device, train_segment);
  r.train_peak_bytes = peak_memory_bytes(o.device);
  r.forward_tokens_per_s = tokens / (r.forward_ms / 1000.0);
  r.train_tokens_per_s = tokens / (r.train_ms / 1000.0);
  if (o.profile)
    r.profile = train::profile_steps(o.device, o.profile->steps, [&] {
      {
        RECORD_USER_SCOPE("hrm::forward_segment");
        forward_segment();
      }
      RECORD_USER_SCOPE("hrm::train_segment");
      train_segment();
    }, o.profile->trace_path);
  return r;
}

}  // namespace hrm
