// bench_model.cpp: see bench_model.h.
#include "train/bench_model.h"

#include <torch/torch.h>

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

  {
    head->eval();
    torch::NoGradGuard no_grad;
    auto carry = head->initial_carry(batch);
    reset_peak_memory(o.device);
    r.forward_ms = median_ms(o.warmup, o.iters, o.device, [&] { carry = head->forward(carry, batch).new_carry; });
    r.forward_peak_bytes = peak_memory_bytes(o.device);
  }
  {
    head->train();
    auto carry = head->initial_carry(batch);
    reset_peak_memory(o.device);
    r.train_ms = median_ms(o.warmup, o.iters, o.device, [&] {
      auto out = head->forward(carry, batch);
      (out.loss / static_cast<double>(c.batch_size)).backward();
      for (auto& p : head->parameters()) p.mutable_grad() = torch::Tensor();
      carry = out.new_carry;
    });
    r.train_peak_bytes = peak_memory_bytes(o.device);
  }
  r.forward_tokens_per_s = tokens / (r.forward_ms / 1000.0);
  r.train_tokens_per_s = tokens / (r.train_ms / 1000.0);
  return r;
}

}  // namespace hrm
