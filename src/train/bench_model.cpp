// bench_model.cpp: see bench_model.h. Times with a device synchronisation around each segment,
// so CPU and CUDA figures mean the same thing.
#include "train/bench_model.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include <ATen/Context.h>

#include "model/losses.h"

namespace hrm {
namespace {

void sync(torch::Device d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index() < 0 ? -1 : d.index());  // a host sync, on purpose
}

template <typename F>
double median_ms(int warmup, int iters, torch::Device d, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    sync(d);
    auto t0 = std::chrono::steady_clock::now();
    f();
    sync(d);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

BenchModelResult bench_model(const BenchModelOptions& o) {
  const auto& c = o.config;
  ACTLossHead head(HRMACTV1(c, 0), c.loss_type);
  head->model->to_device(o.device);
  BenchModelResult r;
  for (const auto& p : head->parameters()) r.parameters += p.numel();

  auto iopts = torch::TensorOptions().dtype(torch::kInt32).device(o.device);
  Batch batch{torch::randint(1, c.vocab_size, {c.batch_size, c.seq_len}, iopts),
              torch::randint(1, c.vocab_size, {c.batch_size, c.seq_len}, iopts),
              torch::randint(0, c.num_puzzle_identifiers, {c.batch_size}, iopts)};
  const double tokens = static_cast<double>(c.batch_size) * c.seq_len;

  {
    head->eval();
    torch::NoGradGuard no_grad;
    auto carry = head->initial_carry(batch);
    r.forward_ms = median_ms(o.warmup, o.iters, o.device, [&] { carry = head->forward(carry, batch).new_carry; });
  }
  {
    head->train();
    auto carry = head->initial_carry(batch);
    r.train_ms = median_ms(o.warmup, o.iters, o.device, [&] {
      auto out = head->forward(carry, batch);
      (out.loss / static_cast<double>(c.batch_size)).backward();
      for (auto& p : head->parameters()) p.mutable_grad() = torch::Tensor();
      carry = out.new_carry;
    });
  }
  r.forward_tokens_per_s = tokens / (r.forward_ms / 1000.0);
  r.train_tokens_per_s = tokens / (r.train_ms / 1000.0);
  return r;
}

}  // namespace hrm
