// bench_train.cpp: see bench_train.h.
#include "train/bench_train.h"

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <numeric>
#include <vector>

#include "core/check.h"
#include "data/dataset.h"
#include "data/puzzle_dataset.h"
#include "train/train_loop.h"

namespace hrm::train {

BenchTrainResult bench_train(const PretrainConfig& config, int warmup, int steps) {
  if (warmup < 0 || steps < 1) HRM_THROW(ConfigError, "bench train: --warmup >= 0 and --iters >= 1 (got ", warmup, ", ", steps, ")");
  const data::Dataset train_data = data::Dataset::open(config.data_path, "train");
  data::SamplerConfig sc;
  sc.seed = static_cast<uint64_t>(config.seed);
  sc.global_batch_size = config.global_batch_size;
  sc.epochs_per_iter = 1;
  data::PuzzleSampler sampler(train_data, sc);
  TrainState state = init_train_state(config, train_data.metadata());
  state.total_steps = std::numeric_limits<int64_t>::max() / 2;  // never stop for the schedule's end
  state.model->train();

  auto sync = [&] {
    if (state.device.is_cuda()) torch::cuda::synchronize(state.device.index() < 0 ? -1 : state.device.index());
  };
  std::vector<double> ms;
  data::Batch batch;
  for (int i = 0; i < warmup + steps; ++i) {
    sync();
    const auto t0 = std::chrono::steady_clock::now();
    if (!sampler.next(batch)) HRM_CHECK(sampler.next(batch), config.data_path, ": the training split gives no full batch of ",
                                        config.global_batch_size);
    train_batch(config, state, batch);
    sync();
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  BenchTrainResult r;
  r.steps = steps;
  r.seq_len = train_data.metadata().seq_len;
  for (const auto& p : state.model->parameters()) r.parameters += p.numel();
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  r.median_step_ms = sorted[sorted.size() / 2];
  r.mean_step_ms = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  r.steps_per_s = 1000.0 / r.median_step_ms;
  r.tokens_per_s = r.steps_per_s * static_cast<double>(config.global_batch_size * r.seq_len);
  return r;
}

}  // namespace hrm::train
