// train_loop.h: the training driver of `hrm train`: train state, one training step, evaluation,
// and the train/eval/checkpoint loop.
// Mirrors pretrain.py of sapientinc/HRM@42410da (TrainState, create_model, init_train_state,
// compute_lr, train_batch, evaluate, launch) with the same statement order and metric names.
// Differs: data parallel on c10d through train/distributed.h (Gloo on CPU too); no torch.compile;
// the device comes from the config; the full training state is checkpointed at every evaluation and
// when SIGINT/SIGTERM stops the run after a step (checkpoint.h), and resumable; a non-finite loss or
// gradient skips the step (no optimizer update) and training stops after max_nonfinite_steps of
// them in a row; optional EMA weights (ema.h) for evaluation and saving; train metrics are summed
// on the device over log_interval steps and read once per interval.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/puzzle_dataset.h"
#include "model/losses.h"
#include "optim/adam_atan2.h"
#include "train/ema.h"
#include "train/memory_estimate.h"
#include "train/pretrain_config.h"
#include "train/progress.h"

namespace hrm::dist {
class Comm;  // dist/comm.h
}

namespace hrm::train {

struct TrainState {  // pretrain.py TrainState, plus what a resumable checkpoint needs
  ACTLossHead model = nullptr;
  std::unique_ptr<optim::AdamATan2> adam;  // optimizers[1]: every parameter
  std::vector<std::string> param_names;    // adam's parameters, in order
  std::optional<Carry> carry;              // None until the first training batch
  int64_t step = 0;
  int64_t total_steps = 0;
  std::unique_ptr<Ema> ema;  // when config.ema
  int64_t iter = 0;          // train/eval iterations completed
  int64_t nonfinite_in_row = 0, nonfinite_total = 0;
  torch::Device device = torch::kCPU;
  dist::Comm* comm = nullptr;  // data parallel (train/distributed.h): this rank's process group; null: one process
};

// auto | cpu | cuda | cuda:N (ConfigError if unavailable); auto is cuda (the current GPU) where CUDA is
// available, else cpu: the reference is CUDA-only, so a GPU machine trains on its GPU unasked.
torch::Device parse_device(const std::string& name);
// The run's device: parse_device(config.device), and a GPU where cuda_graphs=true needs one.
torch::Device run_device(const PretrainConfig& config);

// create_model: the arch config with batch_size = global_batch_size and vocab_size, seq_len,
// num_puzzle_identifiers from the training metadata; HRM ACT v1 inside ACTLossHead, on the device.
// With `comm` (data parallel): batch_size = global_batch_size / world size, the exploration draws
// made for the global batch (HRMACTV1Impl::exploration_rows), and rank 0's weights broadcast.
// Before building it, a ConfigError when `use` certainly cannot fit in the device's memory (memory_estimate.h).
ACTLossHead create_model(const PretrainConfig& config, const data::DatasetMetadata& train_metadata,
                         torch::Device device, dist::Comm* comm = nullptr, ModelUse use = ModelUse::evaluation);
// init_train_state: total_steps as the reference estimates it, the model, AdamATan2 (lr set per step).
// `use`: evaluation for a state that never steps (hrm eval, bench eval): no optimizer memory is counted.
TrainState init_train_state(const PretrainConfig& config, const data::DatasetMetadata& train_metadata,
                            dist::Comm* comm = nullptr, ModelUse use = ModelUse::training);

// compute_lr: the warm-up + cosine schedule at train_state.step (1-based inside train_batch).
double compute_lr(double base_lr, const PretrainConfig& config, const TrainState& state);

// A sampler batch as model tensors on `device` (int32).
Batch to_device(const data::Batch& batch, torch::Device device);

struct StepOptions {
  double lr = 0, puzzle_emb_lr = 0;  // this step's scheduled learning rates
  double puzzle_emb_weight_decay = 0;
  bool skip_nonfinite = true;  // check loss and gradients (one host sync) and skip the update if not finite
  dist::Comm* comm = nullptr;  // data parallel: gradients summed over ranks, sign-SGD on every rank's rows
};

struct StepResult {
  LossHeadOutput out;   // of the forward (carry already moved into `carry`)
  bool finite = true;   // false: no parameter was updated and every carry row restarts next step
};

// One iteration of train_batch after the carry exists, as the reference runs it: forward of the
// loss head, backward of loss / global_batch_size, the sign-SGD step on the puzzle embeddings,
// the AdamATan2 step, gradients cleared. `carry` is replaced by the new carry.
StepResult train_step(ACTLossHead& model, optim::AdamATan2& adam, Carry& carry, const Batch& batch,
                      int64_t global_batch_size, const StepOptions& opts);

// Metric names of a training step, sorted (the reference sorts the keys before stacking).
struct TrainMetrics {
  std::vector<std::string> names;  // "train/accuracy", "train/count", ... (without train/lr)
  torch::Tensor values;            // [names] float64 on the device, normalised as the reference (data parallel: valid on rank 0)
  torch::Tensor raw;               // [names] float64 on the device, the loss head's sums (data parallel: summed over ranks on rank 0)
  int64_t global_batch_size = 0;   // the divisor of the losses
  double lr = 0;
};

// train_batch: step += 1; nothing more once step > total_steps (returns nullopt); creates the carry
// on the first batch; runs train_step with compute_lr; counts non-finite steps (nullopt too).
std::optional<TrainMetrics> train_batch(const PretrainConfig& config, TrainState& state, const data::Batch& batch);

// Per set: metric name -> value (sums over the set's batches divided by count, as the reference).
using EvalMetrics = std::vector<std::pair<std::string, MetricValues>>;

// evaluate: every test batch from a fresh carry until all rows halted, in inference mode, with the
// EMA weights when present. Writes `step_<N>_all_preds.<rank>` in save_dir when eval_save_outputs is
// non-empty and save_dir is given (rank 0 removes files of ranks beyond this world size).
struct EvalControl {  // each may be empty
  // Asked before each batch after the first and, where eval_stops_between_segments, also between
  // the segments of a batch (under data parallel every rank asks equally often): true abandons the
  // evaluation, which then writes nothing and returns nullopt.
  std::function<bool()> abandon;
  // Told the batches done (0 at the start, then after each) of the total (every rank runs them all).
  std::function<void(int64_t done, int64_t total)> progress;
};
// On the CPU an evaluation batch can run for minutes (the 27M model at batch 768: 16 segments, each
// ~48 times the 0.9-1.7 s of a batch-16 segment in docs/PERF.md), longer than a scheduler's grace between its SIGTERM and SIGKILL, so a stop is honoured
// between segments there; on a GPU a batch takes about a second, and a check between segments would
// cost a device sync each under data parallel.
bool eval_stops_between_segments(const torch::Device& device);
// "segment" or "batch": what a stop during an evaluation waits for on this device.
const char* eval_stop_unit(const torch::Device& device);
std::optional<EvalMetrics> evaluate(const PretrainConfig& config, TrainState& state, const data::Dataset& eval_data,
                                    const std::optional<std::string>& save_dir, const EvalControl& control = {});

// Test hooks into run_pretrain (no effect when empty).
struct TrainHooks {
  std::function<void(TrainState&)> before_step;           // e.g. inject a NaN
  std::function<void(TrainState&)> after_checkpoint;      // e.g. simulate a crash
  std::function<void(TrainState&)> at_eval_stop_check;  // where an evaluation may be abandoned: e.g. a signal there
};

// launch(): the whole run. Prints the resolved config, saves all_config.yaml, trains
// epochs/eval_interval iterations of eval_interval epochs each, evaluating and checkpointing after
// each. With config.resume, continues from DIR/train_state.pt. Returns the final train state.
// Throws hrm::Error when max_nonfinite_steps non-finite steps happen in a row, and Interrupted after
// SIGINT/SIGTERM (to any rank), with the state saved at the step where every rank stopped (during an
// evaluation: the evaluation is abandoned and the state saved before it, so that resuming runs it).
TrainState run_pretrain(PretrainConfig config, std::ostream& out, const TrainHooks& hooks = {});

}  // namespace hrm::train
