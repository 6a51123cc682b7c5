// train_loop.cpp: see train_loop.h (pretrain.py). Functions appear in the reference's order.
#include "train/train_loop.h"

#include <ATen/record_function.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <numeric>
#include <ostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/dir_lock.h"
#include "core/stop_signals.h"
#include "optim/lr_schedule.h"
#include "optim/sign_sgd.h"
#include "train/bench_common.h"
#include "train/checkpoint.h"
#include "train/distributed.h"
#include "train/eval_graph.h"

namespace fs = std::filesystem;

namespace hrm::train {
namespace {

bool is_loss(const std::string& name) {  // the reference: k.endswith("loss")
  return name.size() >= 4 && name.compare(name.size() - 4, 4, "loss") == 0;
}

// The step's metrics sorted by name (the reference sorts before stacking).
Metrics sorted_metrics(const Metrics& m) {
  Metrics s = m;
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return s;
}

// Train metrics over a log interval, read from the device once per interval. Normalised as the
// reference does per step, but over the interval's totals: losses / (global batch size x steps),
// the others / total count. With log_interval=1 this is exactly the reference's per-step value.
struct MetricsAccumulator {
  std::vector<std::string> names;
  torch::Tensor sum;  // raw sums, float64 on the device
  int64_t steps = 0, skipped = 0, rows = 0;
  double lr = 0;

  void add(const TrainMetrics& m) {
    if (!sum.defined() || names != m.names) {
      names = m.names;
      sum = torch::zeros_like(m.raw);
    }
    sum += m.raw;
    ++steps;
    rows += m.global_batch_size;
    lr = m.lr;
  }
  bool pending() const { return steps > 0 || skipped > 0; }
  MetricValues take() {
    MetricValues out;
    if (steps > 0) {
      const torch::Tensor host = sum.cpu();  // note: a device-to-host sync point
      double count = 0;
      for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == "train/count") count = host[static_cast<int64_t>(i)].item<double>();
      for (size_t i = 0; i < names.size(); ++i) {
        const double v = host[static_cast<int64_t>(i)].item<double>();
        out.emplace_back(names[i], is_loss(names[i]) ? v / static_cast<double>(rows) : v / std::max(count, 1.0));
      }
      out.emplace_back("train/lr", lr);
    }
    if (skipped > 0) out.emplace_back("train/nonfinite_steps", static_cast<double>(skipped));
    if (sum.defined()) sum.zero_();
    steps = skipped = rows = 0;
    return out;
  }
};

std::string fmt_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

torch::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::Device device = torch::kCPU;
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    HRM_THROW(ConfigError, "device '", name, "': expected auto, cpu, cuda or cuda:N");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available())
      HRM_THROW(ConfigError, "device '", name, "': CUDA is not available in this build or on this machine (use device=cpu)");
    const int64_t n = static_cast<int64_t>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= n)
      HRM_THROW(ConfigError, "device '", name, "': this machine has ", n, " CUDA device(s)");
  } else if (!device.is_cpu()) {
    HRM_THROW(ConfigError, "device '", name, "': expected auto, cpu, cuda or cuda:N");
  }
  return device;
}

torch::Device run_device(const PretrainConfig& config) {
  const torch::Device device = parse_device(config.device);
  if (config.cuda_graphs && !device.is_cuda())
    HRM_THROW(ConfigError, "config key 'cuda_graphs' = true needs a GPU; device=", config.device, " is the CPU here");
  return device;
}

ACTLossHead create_model(const PretrainConfig& config, const data::DatasetMetadata& train_metadata,
                         torch::Device device, dist::Comm* comm, ModelUse use) {
  const int world_size = comm ? comm->world_size() : 1;
  HRMConfig model_cfg = config.arch;
  model_cfg.batch_size = static_cast<int>(config.global_batch_size / world_size);
  model_cfg.vocab_size = static_cast<int>(train_metadata.vocab_size);
  model_cfg.seq_len = static_cast<int>(train_metadata.seq_len);
  model_cfg.num_puzzle_identifiers = static_cast<int>(train_metadata.num_puzzle_identifiers);
  model_cfg.validate();
  // Before anything is allocated: a configuration that cannot fit is an error naming its sizes, not an
  // OOM kill halfway through initialising the weights.
  check_memory_before_building(model_cfg, device, use, config.ema);
  // The reference seeds torch's global generator with config.seed + RANK before building the model
  // and broadcasts rank 0's weights, so every rank starts from config.seed's.
  ACTLossHead model(HRMACTV1(model_cfg, static_cast<uint64_t>(config.seed)), model_cfg.loss_type);
  model->model->to_device(device);
  if (comm) {  // data parallel
    model->model->exploration_rows = config.global_batch_size;
    model->model->exploration_offset = comm->rank() * (config.global_batch_size / world_size);
    broadcast_model(*comm, model);  // Broadcast parameters from rank 0
  }
  return model;
}

TrainState init_train_state(const PretrainConfig& config, const data::DatasetMetadata& train_metadata,
                            dist::Comm* comm, ModelUse use) {
  TrainState state;
  state.device = run_device(config);
  if (comm) state.device = comm->device();  // data parallel: rank r's GPU is cuda:LOCAL_RANK
  state.comm = comm;
  // Estimated total training steps
  state.total_steps = optim::total_steps(config.epochs, train_metadata.total_groups,
                                         train_metadata.mean_puzzle_examples, config.global_batch_size);
  state.model = create_model(config, train_metadata, state.device, comm, use);
  std::vector<torch::Tensor> params;
  for (auto& p : state.model->named_parameters()) {
    state.param_names.push_back(p.key());
    params.push_back(p.value());
  }
  // lr=0 here: it is set by the scheduler at every step (optimizers[0], the sign-SGD, is a function).
  state.adam = std::make_unique<optim::AdamATan2>(
      params, optim::AdamATan2Options{0.0, config.beta1, config.beta2, config.weight_decay});
  if (comm) setup_gradient_reduction(*comm, config, params);
  if (config.ema) state.ema = std::make_unique<Ema>(*state.model, config.ema_rate);
  return state;
}

double compute_lr(double base_lr, const PretrainConfig& config, const TrainState& state) {
  return optim::cosine_schedule_with_warmup_lr(state.step, base_lr, std::llround(static_cast<double>(config.lr_warmup_steps)),
                                               state.total_steps, config.lr_min_ratio);
}

Batch to_device(const data::Batch& batch, torch::Device device) {
  auto tensor = [&](const std::vector<int32_t>& v, std::vector<int64_t> shape) {
    HRM_CHECK(static_cast<int64_t>(v.size()) == std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>()),
              "batch of ", v.size(), " values does not fill shape ", torch::IntArrayRef(shape));
    const torch::Tensor host = torch::from_blob(const_cast<int32_t*>(v.data()), shape, torch::kInt32);
    if (!device.is_cuda()) return host.clone();
    // Through pinned (page-locked) memory, so the copy is queued without waiting for the device: the host
    // goes on sampling the next batch while the GPU computes. The caching host allocator keeps the pinned
    // buffer alive until the copy has run.
    return host.pin_memory().to(device, /*non_blocking=*/true);
  };
  return Batch{tensor(batch.inputs, {batch.rows, batch.seq_len}), tensor(batch.labels, {batch.rows, batch.seq_len}),
               tensor(batch.puzzle_identifiers, {batch.rows})};
}

StepResult train_step(ACTLossHead& model, optim::AdamATan2& adam, Carry& carry, const Batch& batch,
                      int64_t global_batch_size, const StepOptions& opts) {
  StepResult r;
  // The phases are named for profiles (hrm bench train --profile); free when no profiler runs.
  {
    RECORD_USER_SCOPE("hrm::forward");
    r.out = model->forward(carry, batch);
  }
  auto backward = [&] { ((1.0 / static_cast<double>(global_batch_size)) * r.out.loss).backward(); };
  {
    RECORD_USER_SCOPE("hrm::backward");
    if (opts.comm)
      opts.comm->run_backward(backward);  // with c10d's Reducer, the gradients are summed over ranks inside it
    else
      backward();
  }

  auto& puzzle_emb = model->model->inner->puzzle_emb;
  const bool sparse = puzzle_emb && puzzle_emb->local_weights.defined() && puzzle_emb->local_weights.grad().defined();
  torch::Tensor bad_ranks;  // data parallel: the ranks whose loss or embedding gradient was not finite
  if (opts.comm) {          // sum the gradients over ranks (train/distributed.h)
    torch::Tensor bad = torch::logical_not(torch::isfinite(r.out.loss).all());
    if (sparse) bad = bad | torch::logical_not(torch::isfinite(puzzle_emb->local_weights.grad()).all());
    std::vector<torch::Tensor> grads;
    for (const auto& p : adam.params())
      if (p.grad().defined()) grads.push_back(p.grad());
    bad_ranks = all_reduce_gradients(*opts.comm, grads, bad);
  }
  if (opts.skip_nonfinite) {
    std::vector<torch::Tensor> finite{bad_ranks.defined() ? (bad_ranks == 0).all() : torch::isfinite(r.out.loss).all()};
    for (const auto& p : adam.params())
      if (p.grad().defined()) finite.push_back(torch::isfinite(p.grad()).all());
    if (sparse && !bad_ranks.defined()) finite.push_back(torch::isfinite(puzzle_emb->local_weights.grad()).all());
    r.finite = torch::stack(finite).all().item<bool>();  // note: a device-to-host sync point
  }

  // Apply optimizer: optimizers[0] (sign-SGD on the puzzle embeddings), then optimizers[1] (AdamATan2).
  RECORD_USER_SCOPE("hrm::optimizers");
  if (r.finite) {
    if (sparse)
      optim::sparse_sign_sgd_step(puzzle_emb->weights, puzzle_emb->local_weights.grad(), puzzle_emb->local_ids,
                                  opts.puzzle_emb_lr, opts.puzzle_emb_weight_decay,
                                  opts.comm ? sign_sgd_all_gather(*opts.comm) : optim::GatherGradsFn{});
    adam.step(opts.lr);
  }
  adam.zero_grad();
  if (puzzle_emb) puzzle_emb->local_weights = torch::Tensor();

  carry = r.out.new_carry;
  // A non-finite step may have left NaN in z_H/z_L: every row restarts from H_init/L_init next step.
  if (!r.finite) carry.halted = torch::ones_like(carry.halted);
  return r;
}

std::optional<TrainMetrics> train_batch(const PretrainConfig& config, TrainState& state, const data::Batch& batch) {
  state.step += 1;
  if (state.step > state.total_steps) return std::nullopt;  // At most train_total_steps

  // To device
  const Batch b = to_device(batch, state.device);
  // Init carry if it is None
  if (!state.carry) state.carry = state.model->initial_carry(b);

  StepOptions opts;
  opts.puzzle_emb_lr = compute_lr(config.puzzle_emb_lr, config, state);
  opts.lr = compute_lr(config.lr, config, state);
  opts.puzzle_emb_weight_decay = config.puzzle_emb_weight_decay;
  opts.comm = state.comm;
  opts.skip_nonfinite = config.max_nonfinite_steps > 0;
  StepResult r = train_step(state.model, *state.adam, *state.carry, b, batch.effective_rows, opts);
  if (!r.finite) {
    ++state.nonfinite_in_row;
    ++state.nonfinite_total;
    return std::nullopt;
  }
  state.nonfinite_in_row = 0;
  if (state.ema) state.ema->update();

  // Reduce metrics: losses / global batch size, the others / count (on the device, no sync).
  TrainMetrics m;
  m.lr = opts.lr;
  m.global_batch_size = batch.effective_rows;
  const Metrics sorted = sorted_metrics(r.out.metrics);
  std::vector<torch::Tensor> raw;
  for (const auto& [name, v] : sorted) {
    m.names.push_back("train/" + name);
    raw.push_back(v.to(torch::kFloat64));
  }
  m.raw = torch::stack(raw);  // [M]
  if (state.comm) state.comm->reduce_sum_to_root(m.raw, "reduce of the train metrics");  // valid on rank 0
  // From the reduced sums (the global ones on rank 0), as the reference normalises them.
  const size_t count_index = static_cast<size_t>(
      std::find_if(sorted.begin(), sorted.end(), [](const auto& kv) { return kv.first == "count"; }) - sorted.begin());
  HRM_CHECK(count_index < sorted.size(), "the loss head gave no 'count' metric");
  const torch::Tensor count = m.raw[static_cast<int64_t>(count_index)].clamp_min(1);  // Avoid NaNs
  std::vector<torch::Tensor> values;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const torch::Tensor total = m.raw[static_cast<int64_t>(i)];
    values.push_back(is_loss(sorted[i].first) ? total / static_cast<double>(batch.effective_rows) : total / count);
  }
  m.values = torch::stack(values);
  return m;
}

bool eval_stops_between_segments(const torch::Device& device) { return device.is_cpu(); }

const char* eval_stop_unit(const torch::Device& device) {
  return eval_stops_between_segments(device) ? "segment" : "batch";
}

std::optional<EvalMetrics> evaluate(const PretrainConfig& config, TrainState& state, const data::Dataset& eval_data,
                                    const std::optional<std::string>& save_dir, const EvalControl& control) {
  EmaScope ema_weights(state.ema.get());  // outside inference mode: it writes the parameters
  c10::InferenceMode inference;
  const auto& sets = eval_data.metadata().sets;
  data::SamplerConfig sc;
  sc.seed = static_cast<uint64_t>(config.seed);
  sc.global_batch_size = config.global_batch_size;
  sc.test_set_mode = true;
  sc.epochs_per_iter = 1;
  if (state.comm) {
    sc.rank = state.comm->rank();
    sc.num_replicas = state.comm->world_size();
  }
  data::PuzzleSampler sampler(eval_data, sc);

  const auto& wanted = config.eval_save_outputs;
  auto want = [&](const std::string& k) { return std::find(wanted.begin(), wanted.end(), k) != wanted.end(); };
  std::vector<std::pair<std::string, std::vector<torch::Tensor>>> all_preds;
  auto keep = [&](const std::string& k, const torch::Tensor& v) {
    auto it = std::find_if(all_preds.begin(), all_preds.end(), [&](const auto& p) { return p.first == k; });
    if (it == all_preds.end()) {
      all_preds.emplace_back(k, std::vector<torch::Tensor>{});
      it = all_preds.end() - 1;
    }
    it->second.push_back(v.cpu());  // Move to CPU for saving GPU memory
  };

  EvalStepGraph step(config.cuda_graphs);
  std::vector<std::string> metric_keys;
  std::vector<torch::Tensor> metric_values(sets.size());  // per set, [metrics] float64 on the device
  const int64_t total_batches = sampler.test_batches_per_pass();
  if (control.progress) control.progress(0, total_batches);
  const bool between_segments = control.abandon && eval_stops_between_segments(state.device);
  data::Batch db;
  for (int64_t batches = 0; sampler.next(db); ++batches) {
    if (batches > 0 && control.abandon && control.abandon()) return std::nullopt;
    const Batch batch = to_device(db, state.device);
    Carry carry = state.model->initial_carry(batch);
    LossHeadOutput out;
    // Forward until every row halted. In evaluation that is exactly halt_max_steps segments (only
    // training halts by Q), so the segments run without reading all_halted after each (a device sync
    // each, where the reference checks); it is checked once, after the last.
    for (int k = 0; k < config.arch.halt_max_steps; ++k) {
      if (k > 0 && between_segments && control.abandon()) return std::nullopt;
      out = step.forward(state.model, carry, batch);
      carry = out.new_carry;
    }
    HRM_CHECK(out.all_halted.item<bool>(), "evaluation: rows still running after halt_max_steps = ",
              config.arch.halt_max_steps, " segments");
    for (const char* k : {"inputs", "labels", "puzzle_identifiers"})
      if (want(k)) keep(k, k == std::string("inputs") ? batch.inputs : k == std::string("labels") ? batch.labels : batch.puzzle_identifiers);
    for (const auto& k : wanted) {
      if (k == "logits") keep(k, out.outputs.logits);
      if (k == "q_halt_logits") keep(k, out.outputs.q_halt_logits);
      if (k == "q_continue_logits") keep(k, out.outputs.q_continue_logits);
    }
    // Aggregate
    const size_t set_id = static_cast<size_t>(std::find(sets.begin(), sets.end(), db.set_name) - sets.begin());
    HRM_CHECK(set_id < sets.size(), "test batch of unknown set '", db.set_name, "'");
    const Metrics sorted = sorted_metrics(out.metrics);
    std::vector<torch::Tensor> values;
    if (metric_keys.empty())
      for (const auto& kv : sorted) metric_keys.push_back(kv.first);
    for (const auto& kv : sorted) values.push_back(kv.second.to(torch::kFloat64));
    torch::Tensor v = torch::stack(values);
    metric_values[set_id] = metric_values[set_id].defined() ? metric_values[set_id] + v : v;
    if (control.progress) control.progress(batches + 1, total_batches);
  }

  if (!all_preds.empty() && save_dir) {
    io::StateDict preds;
    for (auto& [k, v] : all_preds) preds.emplace_back(k, torch::cat(v, 0));
    fs::create_directories(*save_dir);
    const std::string stem = (fs::path(*save_dir) / ("step_" + std::to_string(state.step) + "_all_preds.")).string();
    const int rank = state.comm ? state.comm->rank() : 0, world = state.comm ? state.comm->world_size() : 1;
    io::save_torch_file(stem + std::to_string(rank), preds);
    // Readers take .0 with every .1, .2, ... beside it (answer/saved_outputs.h): files of an earlier
    // evaluation of this step by more ranks would join this one's.
    if (rank == 0)
      for (int r = world; fs::exists(stem + std::to_string(r)); ++r) fs::remove(stem + std::to_string(r));
  }

  // Reduce to rank 0 (every rank sees the same batches, so the same sets are defined everywhere).
  if (state.comm)
    for (auto& v : metric_values)
      if (v.defined()) state.comm->reduce_sum_to_root(v, "reduce of the evaluation metrics");

  // Postprocess: every metric / count, per set (sets without batches are left out).
  EvalMetrics result;
  for (size_t s = 0; s < sets.size(); ++s) {
    if (!metric_values[s].defined()) continue;
    const torch::Tensor host = metric_values[s].cpu();  // note: a device-to-host sync point
    double count = 0;
    for (size_t i = 0; i < metric_keys.size(); ++i)
      if (metric_keys[i] == "count") count = host[static_cast<int64_t>(i)].item<double>();
    MetricValues mv;
    for (size_t i = 0; i < metric_keys.size(); ++i)
      if (metric_keys[i] != "count") mv.emplace_back(metric_keys[i], host[static_cast<int64_t>(i)].item<double>() / count);
    result.emplace_back(sets[s], mv);
  }
  return result;
}

namespace {

// One train/eval iteration must fit the sampler and fill a batch: it drops the last partial batch
// of each iteration (as the reference), so with fewer examples per iteration than
// global_batch_size the run would train no step at all.
void check_iteration_size(const PretrainConfig& config, const data::Dataset& train_data) {
  const data::DatasetMetadata& m = train_data.metadata();
  const double per_iter =
      static_cast<double>(config.epochs_per_iter()) * static_cast<double>(m.total_groups) * m.mean_puzzle_examples;
  // The sampler holds one iteration's group order (epochs_per_iter permutations of the groups) in memory.
  if (static_cast<double>(config.epochs_per_iter()) * static_cast<double>(m.total_groups) > 2e9)
    HRM_THROW(ConfigError, "config key 'eval_interval' (else 'epochs') = ", config.epochs_per_iter(), ": ",
              config.epochs_per_iter(), " epochs of ", m.total_groups, " groups per train/eval iteration is more than ",
              "the sampler's 2e9 group draws; evaluate more often");
  if (per_iter < static_cast<double>(config.global_batch_size))
    HRM_THROW(ConfigError, "config key 'global_batch_size' = ", config.global_batch_size, ": each train/eval iteration (",
              config.epochs_per_iter(), " epoch(s): eval_interval, else epochs) draws about ", per_iter, " examples from ",
              (train_data.split_dir() / "dataset.json").string(), " (", m.total_groups, " groups x ", m.mean_puzzle_examples,
              " examples), too few to fill one batch, so no step would train; lower global_batch_size or raise eval_interval");
}

}  // namespace

TrainState run_pretrain(PretrainConfig config, std::ostream& out_all_ranks, const TrainHooks& hooks) {
  // Dataset, and the state to resume: read before the ranks meet, so that a rank missing them (say,
  // on a machine without the dataset) tells the others why it stops (main.cpp) instead of leaving
  // them in the process group.
  const int64_t train_epochs_per_iter = config.epochs_per_iter();
  const int64_t total_iters = config.epochs / train_epochs_per_iter;
  const data::Dataset train_data = data::Dataset::open(config.data_path, "train");
  const data::Dataset eval_data = data::Dataset::open(config.data_path, "test");
  data::check_splits_agree(train_data, eval_data);
  check_iteration_size(config, train_data);
  if (config.resume && config.checkpoint_path) require_train_state(train_state_path(*config.checkpoint_path));

  // Data parallel when launched so (train/distributed.h; null: one process). Only rank 0 prints, logs and
  // writes files; every rank trains its slice of each global batch.
  const std::unique_ptr<dist::Comm> comm = init_distributed(config);
  const bool root = !comm || comm->is_root();
  std::ostream nowhere(nullptr);
  std::ostream& out = root ? out_all_ranks : nowhere;
  fill_names(config);
  if (comm) sync_config(*comm, config);
  const std::string run_dir = *config.checkpoint_path;
  if (fs::exists(run_dir) && !fs::is_directory(run_dir))
    HRM_THROW(ConfigError, "checkpoint_path '", run_dir, "' is a file; give a folder for the run (created if missing)");
  // A dataset's folder is not a run's: the run's files would mix with the dataset's (and stop its rebuild).
  if (const std::string marker = data::dataset_marker(run_dir); !marker.empty())
    HRM_THROW(ConfigError, "checkpoint_path '", run_dir, "' is a dataset's folder (it holds ", marker,
              "); give the run a folder of its own");
  // One run per folder, for as long as this one runs (rank 0's hold; a second `hrm train` there, say
  // two runs of a sweep started in the same second, is refused instead of mixing their files).
  std::optional<DirLock> run_dir_lock;
  if (root) run_dir_lock.emplace(run_dir, "checkpoint_path");
  // Checkpoints and train_state.pt of a process killed while writing them: their temporaries (only
  // the renamed files are ever read) go before this run adds its own.
  if (root) remove_stale_temporaries(run_dir);
  out << "Config (saved as " << (fs::path(run_dir) / "all_config.yaml").string() << " when training starts):\n" << to_yaml(config) << std::flush;

  data::SamplerConfig sc;
  sc.seed = static_cast<uint64_t>(config.seed);
  sc.global_batch_size = config.global_batch_size;
  sc.test_set_mode = false;
  sc.epochs_per_iter = train_epochs_per_iter;
  if (comm) {
    sc.rank = comm->rank();
    sc.num_replicas = comm->world_size();
  }
  data::PuzzleSampler train_sampler(train_data, sc);

  // Train state
  if (!config.resume && fs::exists(train_state_path(run_dir)))
    HRM_THROW(ConfigError, "checkpoint_path '", run_dir, "' already holds a run (train_state.pt): continue it with resume=",
              run_dir, " or choose another checkpoint_path");
  if (!config.resume)
    if (const std::vector<std::string> steps = checkpoint_names(run_dir); !steps.empty())
      HRM_THROW(ConfigError, "checkpoint_path '", run_dir, "' already holds checkpoints (", steps.front(),
                steps.size() > 1 ? " to " + steps.back() : std::string(), ") but no train_state.pt to resume from (a run stopped while saving ",
                "its first one, or another program's run): a new run there would mix its files with them; evaluate them ",
                "with hrm eval checkpoint=", (fs::path(run_dir) / steps.back()).string(), ", or choose another checkpoint_path");
  TrainState state = init_train_state(config, train_data.metadata(), comm.get());
  if (config.resume) {
    const int64_t expected_total = state.total_steps;
    train_sampler.restore(load_train_state(train_state_path(run_dir), state));
    if (state.total_steps != expected_total)
      out << "note: the saved run planned " << state.total_steps << " steps, this config " << expected_total
          << "; continuing with " << expected_total << "\n";
    state.total_steps = expected_total;
    if (state.carry) {  // saved as the global batch (every rank's rows), whatever the world size was
      const int64_t rows = state.carry->steps.size(0);
      if (rows != config.global_batch_size)
        HRM_THROW(ConfigError, "resume: the saved run's carry has ", rows, " rows but global_batch_size is ",
                  config.global_batch_size, "; resume with the run's global_batch_size");
      if (comm) state.carry = local_carry(*state.carry, comm->rank(), comm->world_size());
    }
    out << "Resuming " << run_dir << " at step " << state.step << " (iteration " << state.iter << " of " << total_iters
        << ")" << (train_sampler.pass_end_pending() ? ", with the evaluation that the stop interrupted" : "") << "\n";
    if (state.iter >= total_iters)
      out << "note: the run is complete (every iteration of epochs=" << config.epochs
          << " done); nothing to train. Raise epochs to train further.\n";
  }
  if (root) save_all_config(config, run_dir);
  if (root) out << "Training on " << state.device << (config.device == "auto" ? " (device=auto)" : "") << "\n";
  if (root) note_slow_cpu_dtype(out, state.device, config.arch.forward_dtype);

  std::optional<MetricsLog> log;
  if (root) log.emplace(run_dir, config.resume ? std::optional<int64_t>(state.step) : std::nullopt);
  if (!config.resume) {
    int64_t num_params = 0;
    for (const auto& p : state.model->parameters()) num_params += p.numel();
    if (log) log->write(0, {{"num_params", static_cast<double>(num_params)}});
  }
  Progress progress(out, state.total_steps, state.step, ::isatty(STDOUT_FILENO) != 0);
  MetricsAccumulator acc;
  std::optional<int64_t> last_checkpoint_step;
  if (config.resume) last_checkpoint_step = state.step;
  auto where_to_resume = [&]() -> std::string {  // for a run that stops early
    return last_checkpoint_step ? "The last saved training state (step " + std::to_string(*last_checkpoint_step) + ") is intact in " +
                                      run_dir + "; `hrm train resume=" + run_dir + "` continues from it"
                                : std::string("No checkpoint was written yet (the first comes with the first evaluation)");
  };
  auto flush_metrics = [&] {
    if (!acc.pending()) return;
    const MetricValues m = acc.take();
    if (log) log->write(state.step, m);
    progress.metrics(state.step, m);
  };

  // save_state_minutes: the state between evaluations too, so that a run killed outright (no signal: an
  // OOM kill, a lost machine) loses at most that much training. Rank 0's clock decides for every rank.
  using Clock = std::chrono::steady_clock;
  const auto save_every = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::ratio<60>>(config.save_state_minutes));
  Clock::time_point last_save = Clock::now();

  // The training state (the model checkpoints step_N come with evaluations). Under data parallel the
  // carry is saved as the global batch (every rank's rows), so that any world size can resume.
  auto save_state = [&](const data::SamplerState& sampler_state) {
    if (comm && state.carry) {
      const Carry local = *state.carry;
      state.carry = gather_carry(*comm, local);
      if (root) save_train_state(run_dir, state, sampler_state);
      state.carry = local;
    } else if (root) {
      save_train_state(run_dir, state, sampler_state);
    }
    last_checkpoint_step = state.step;
    last_save = Clock::now();
  };

  // Ctrl-C or SIGTERM: the step in progress finishes, the training state is saved there and the run
  // stops saying what resumes, instead of dying mid-step and losing the steps since the last
  // evaluation; an evaluation is abandoned after its segment or batch in progress (eval_stop_unit),
  // the state saved as before it.
  const std::string stop_notice = std::string("\nstopping after this step or evaluation ") + eval_stop_unit(state.device) +
                                  ", saving the training state (again to stop now)\n";
  const StopSignals stop(stop_notice.c_str());
  // After a step (`in_iteration`) or an evaluation: stop or save as any rank asks.
  auto stop_or_save_if_requested = [&](bool in_iteration) {
    StepRequests r;
    r.stop = stop.requested();
    r.save = in_iteration && root && config.save_state_minutes > 0 && Clock::now() - last_save >= save_every;
    if (comm) r = any_rank_requests(*comm, r);
    if (r.save && !r.stop) {
      flush_metrics();  // a run resumed from this state keeps the log up to here, all of it
      save_state(train_sampler.state());
      std::ostringstream m;
      m << "saved the training state at step " << state.step << " (save_state_minutes=" << config.save_state_minutes << ")";
      progress.message(m.str());
    }
    if (!r.stop) return;
    flush_metrics();
    progress.finish();
    if (state.step > 0 && last_checkpoint_step != state.step) {
      save_state(train_sampler.state());
      // No rank exits before rank 0 has written the state: a launcher stops the others when one ends.
      if (comm) comm->barrier("barrier after saving the stopped run's state");
      HRM_THROW(Interrupted, "stopped at step ", state.step, " (", StopSignals::received(), "); saved the training state in ",
                train_state_path(run_dir), ": `hrm train resume=", run_dir, "` continues from step ", state.step, ".");
    }
    HRM_THROW(Interrupted, "stopped at step ", state.step, " (", StopSignals::received(), "). ", where_to_resume(), ".");
  };

  // Training Loop
  for (int64_t iter = state.iter; iter < total_iters; ++iter) {
    progress.message("Epoch " + std::to_string(iter * train_epochs_per_iter));

    // Train Iter
    state.model->train();
    data::Batch batch;
    while (train_sampler.next(batch)) {
      if (hooks.before_step) hooks.before_step(state);
      const int64_t skipped_before = state.nonfinite_total;
      std::optional<TrainMetrics> metrics = train_batch(config, state, batch);
      if (state.nonfinite_total > skipped_before) ++acc.skipped;
      if (config.max_nonfinite_steps > 0 && state.nonfinite_in_row >= config.max_nonfinite_steps) {
        flush_metrics();
        progress.finish();
        HRM_THROW(Error, "training stopped at step ", state.step, ": ", state.nonfinite_in_row,
                  " steps in a row had a non-finite loss or gradient (max_nonfinite_steps=", config.max_nonfinite_steps,
                  "); they updated nothing. ", where_to_resume(), last_checkpoint_step ? " (e.g. with a lower lr)." : ".");
      }
      if (metrics) acc.add(*metrics);
      progress.step(state.step);
      if (acc.steps + acc.skipped >= config.log_interval) flush_metrics();
      stop_or_save_if_requested(/*in_iteration=*/true);
    }
    flush_metrics();

    // Evaluation. A stop during it abandons it: an evaluation can take longer (minutes on ARC) than a
    // scheduler waits between its SIGTERM and its SIGKILL, which would lose the iteration's training.
    // The state is saved as before the evaluation, so that resuming runs it.
    state.model->eval();
    EvalControl control;
    control.abandon = [&] {
      if (hooks.at_eval_stop_check) hooks.at_eval_stop_check(state);
      StepRequests r;
      r.stop = stop.requested();
      if (comm) r = any_rank_requests(*comm, r);
      return r.stop;
    };
    control.progress = [&](int64_t done, int64_t total) { progress.evaluation(done, total); };
    const std::optional<EvalMetrics> eval_metrics = evaluate(config, state, eval_data, run_dir, control);
    progress.end_evaluation();
    if (!eval_metrics) {
      progress.finish();
      save_state(train_sampler.state_before_pass_end());
      if (comm) comm->barrier("barrier after saving the stopped run's state");
      HRM_THROW(Interrupted, "stopped at step ", state.step, " during its evaluation (", StopSignals::received(),
                "); saved the training state in ", train_state_path(run_dir), ": `hrm train resume=", run_dir,
                "` evaluates step ", state.step,
                iter < total_iters - 1 ? " and continues." : ", saves its checkpoint and ends the run (this was its last evaluation).");
    }
    MetricValues flat;
    for (const auto& [set, mv] : *eval_metrics) {
      std::string line = "eval " + set + " at step " + std::to_string(state.step) + ":";
      for (const auto& [k, v] : mv) {
        flat.emplace_back(set + "/" + k, v);
        line += " " + k + " " + fmt_value(v);
      }
      progress.message(line);
    }
    if (log) log->write(state.step, flat);

    // Checkpointing: the model as the reference (every eval or the last), the training state always.
    state.iter = iter + 1;
    if (root && (config.checkpoint_every_eval || iter == total_iters - 1)) {
      EmaScope ema_weights(state.ema.get());
      save_model_checkpoint(model_checkpoint_path(run_dir, state.step), state.model);
    }
    save_state(train_sampler.state());
    if (hooks.after_checkpoint) hooks.after_checkpoint(state);
    // A signal during the evaluation's last batch: the state just written is the place to resume;
    // after the last evaluation the run is complete, and ends as such.
    if (iter < total_iters - 1) stop_or_save_if_requested(/*in_iteration=*/false);
  }
  progress.finish();
  if (state.step < state.total_steps)
    out << "done at step " << state.step << " of the " << state.total_steps
        << " estimated (epochs x groups x examples / global_batch_size): each iteration drops its last partial "
           "batch, as the reference's sampler does\n";
  state.comm = nullptr;  // ends with this function
  return state;
}

}  // namespace hrm::train
