// bench_train.cpp: see bench_train.h.
#include "train/bench_train.h"

#include <ATen/record_function.h>

#include <torch/torch.h>

#include <limits>
#include <vector>

#include "core/check.h"
#include "data/dataset.h"
#include "data/puzzle_dataset.h"
#include "train/bench_common.h"
#include "train/eval_graph.h"
#include "train/flops.h"
#include "train/train_loop.h"

namespace hrm::train {
namespace {

void check_counts(const char* what, int warmup, int n) {
  if (warmup < 0 || n < 1)
    HRM_THROW(ConfigError, "bench ", what, ": --warmup >= 0 and --iters >= 1 (got ", warmup, ", ", n, ")");
}

StepTimes summarize(const std::vector<double>& ms, double flops, const TrainState& state, const PretrainConfig& config,
                    int64_t seq_len, ModelUse use) {
  StepTimes r;
  r.count = static_cast<int64_t>(ms.size());
  r.median_ms = median(ms);
  r.mean_ms = mean(ms);
  r.per_s = 1000.0 / r.median_ms;
  r.tokens_per_s = r.per_s * static_cast<double>(config.global_batch_size * seq_len);
  r.flops = flops;
  r.peak_bytes = peak_memory_bytes(state.device);
  r.estimated_bytes = estimate_memory(state.model->model->config, use, config.ema, state.device).total();
  for (const auto& p : state.model->parameters()) r.parameters += p.numel();
  r.seq_len = seq_len;
  return r;
}

}  // namespace

StepTimes bench_train(const PretrainConfig& config, int warmup, int steps, const std::optional<ProfileRequest>& profile) {
  check_counts("train", warmup, steps);
  const data::Dataset train_data = data::Dataset::open(config.data_path, "train");
  data::SamplerConfig sc;
  sc.seed = static_cast<uint64_t>(config.seed);
  sc.global_batch_size = config.global_batch_size;
  sc.epochs_per_iter = 1;
  data::PuzzleSampler sampler(train_data, sc);
  TrainState state = init_train_state(config, train_data.metadata());
  state.total_steps = std::numeric_limits<int64_t>::max() / 2;  // never stop for the schedule's end
  state.model->train();

  std::vector<double> ms;
  data::Batch batch;
  auto one_step = [&] {
    if (!sampler.next(batch))
      HRM_CHECK(sampler.next(batch), config.data_path, ": the training split gives no full batch of ",
                config.global_batch_size);
    train_batch(config, state, batch);
  };
  for (int i = 0; i < warmup + steps; ++i) {
    if (i == warmup) reset_peak_memory(state.device);
    const double t = timed_ms(state.device, one_step);
    if (i >= warmup) ms.push_back(t);
  }
  StepTimes r = summarize(ms, count_flops(state.model->model->config, config.global_batch_size).train_step, state,
                          config, train_data.metadata().seq_len, ModelUse::training);
  if (profile) r.profile = profile_steps(state.device, profile->steps, one_step, profile->trace_path);
  return r;
}

BenchEvalResult bench_eval(const PretrainConfig& config, int warmup, int batches,
                           const std::optional<ProfileRequest>& profile) {
  check_counts("eval", warmup, batches);
  const data::Dataset train_data = data::Dataset::open(config.data_path, "train");  // sizes the model, as hrm eval
  const data::Dataset test_data = data::Dataset::open(config.data_path, "test");
  data::check_splits_agree(train_data, test_data);
  data::SamplerConfig sc;
  sc.seed = static_cast<uint64_t>(config.seed);
  sc.global_batch_size = config.global_batch_size;
  sc.test_set_mode = true;
  sc.epochs_per_iter = 1;
  TrainState state = init_train_state(config, train_data.metadata(), nullptr, ModelUse::evaluation);
  state.model->eval();
  c10::InferenceMode inference;

  EvalStepGraph step(config.cuda_graphs);  // captured at the first (warm-up) batch
  std::optional<data::PuzzleSampler> sampler;
  std::vector<double> ms;
  data::Batch db;
  Batch batch;
  Carry carry;
  auto next_batch = [&] {
    if (!sampler || !sampler->next(db)) {  // a new pass over the test split
      sampler.emplace(test_data, sc);
      HRM_CHECK(sampler->next(db), config.data_path, ": the test split gives no batch");
    }
    batch = to_device(db, state.device);
    carry = state.model->initial_carry(batch);
  };
  auto act_step = [&] { carry = step.forward(state.model, carry, batch).new_carry; };
  for (int i = 0; i < warmup + batches; ++i) {
    next_batch();
    if (i == warmup) reset_peak_memory(state.device);
    for (int k = 0; k < config.arch.halt_max_steps; ++k) {  // exactly halt_max_steps in evaluation (evaluate())
      const double t = timed_ms(state.device, act_step);
      if (i >= warmup) ms.push_back(t);
    }
  }
  BenchEvalResult r{batches, summarize(ms, count_flops(state.model->model->config, config.global_batch_size).forward_segment,
                                       state, config, test_data.metadata().seq_len, ModelUse::evaluation)};
  if (profile) {  // ACT steps of whole batches: halt_max_steps to a batch, whose preparation the timed
    int k = 0;     // steps leave out; named here, so the phases table shows it apart
    r.act_steps.profile = profile_steps(state.device, profile->steps, [&] {
      if (k++ % config.arch.halt_max_steps == 0) {
        RECORD_USER_SCOPE("hrm::next_batch");
        next_batch();
      }
      RECORD_USER_SCOPE("hrm::act_step");
      act_step();
    }, profile->trace_path);
  }
  return r;
}

}  // namespace hrm::train
