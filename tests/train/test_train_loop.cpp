// test_train_loop.cpp: tests src/train/train_loop.cpp on a tiny task (tiny_task.h), CPU: the lr
// schedule reaches the optimizers step by step, training lowers the loss, metrics are normalised as
// the reference's train_batch does, a non-finite step updates nothing and is counted, too many in a
// row stop the run with the last checkpoint intact, evaluation covers the test split with EMA
// weights when enabled and leaves the trained weights in place, and is abandoned between segments on
// the CPU.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <sstream>

#include "core/check.h"
#include "core/dir_lock.h"
#include "io/state_dict.h"
#include "io/torch_file.h"
#include "model/layers.h"
#include "optim/lr_schedule.h"
#include "train/checkpoint.h"
#include "train/tiny_task.h"
#include "train/train_loop.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::tiny_config;

// The pieces run_pretrain wires together, driven step by step.
struct Manual {
  PretrainConfig config;
  std::unique_ptr<data::Dataset> train;
  std::unique_ptr<data::PuzzleSampler> sampler;
  TrainState state;

  explicit Manual(PretrainConfig c) : config(std::move(c)) {
    train = std::make_unique<data::Dataset>(data::Dataset::open(config.data_path, "train"));
    data::SamplerConfig sc;
    sc.seed = static_cast<uint64_t>(config.seed);
    sc.global_batch_size = config.global_batch_size;
    sc.epochs_per_iter = config.epochs_per_iter();
    sampler = std::make_unique<data::PuzzleSampler>(*train, sc);
    state = init_train_state(config, train->metadata());
    state.model->train();
  }
  data::Batch next() {
    data::Batch b;
    if (!sampler->next(b)) EXPECT_TRUE(sampler->next(b));
    return b;
  }
  std::optional<TrainMetrics> step() { return train_batch(config, state, next()); }
};

double value(const TrainMetrics& m, const std::string& name) {
  for (size_t i = 0; i < m.names.size(); ++i)
    if (m.names[i] == name) return m.values[static_cast<int64_t>(i)].item<double>();
  ADD_FAILURE() << "no metric " << name;
  return 0;
}

std::vector<torch::Tensor> snapshot(const ACTLossHead& model) {
  std::vector<torch::Tensor> out;
  for (const auto& [k, v] : io::state_dict(*model)) out.push_back(v.clone());
  return out;
}

class TrainLoop : public testing::TinyTaskSuite {};

TEST_F(TrainLoop, TotalStepsAndLrScheduleReachEveryStep) {
  TempDir run("lr");
  Manual m(tiny_config(data(), run.path, {"lr_warmup_steps=4", "lr_min_ratio=0.1", "epochs=4", "eval_interval=4"}));
  // epochs * total_groups * mean_puzzle_examples / global_batch_size = 4 * 32 * 2 / 16
  EXPECT_EQ(m.state.total_steps, 16);
  for (int s = 1; s <= 16; ++s) {
    auto metrics = m.step();
    ASSERT_TRUE(metrics);
    EXPECT_EQ(m.state.step, s);
    EXPECT_DOUBLE_EQ(metrics->lr, optim::cosine_schedule_with_warmup_lr(s, 1e-3, 4, 16, 0.1)) << "step " << s;
  }
  EXPECT_EQ(m.state.adam->step_count(), 16);
  // As the reference: beyond total_steps the step counter advances but nothing trains.
  const auto before = snapshot(m.state.model);
  EXPECT_FALSE(m.step());
  EXPECT_EQ(m.state.step, 17);
  EXPECT_EQ(m.state.adam->step_count(), 16);
  const auto after = snapshot(m.state.model);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i]));
}

TEST_F(TrainLoop, MetricsAreNormalisedAsTheReference) {
  TempDir run("norm");
  Manual m(tiny_config(data(), run.path));
  // Recompute one step by hand from the same state: losses / global batch, the others / count.
  m.state.step = 0;
  auto batch = m.next();
  Batch b = to_device(batch, torch::kCPU);
  m.state.carry = m.state.model->initial_carry(b);
  Carry carry = *m.state.carry;
  // Run the forward on a copy of the model state to see the raw metrics.
  auto raw = [&] {
    torch::NoGradGuard no_grad;
    at::Generator gen = m.state.model->model->exploration_gen.clone();
    auto out = m.state.model->forward(carry, b);
    m.state.model->model->exploration_gen = gen;  // the same exploration draws for the real step
    return out.metrics;
  }();
  auto metrics = train_batch(m.config, m.state, batch);
  ASSERT_TRUE(metrics);
  const double count = std::max(1.0, metric(raw, "count").item<double>());
  EXPECT_DOUBLE_EQ(value(*metrics, "train/lm_loss"), metric(raw, "lm_loss").item<double>() / 16);
  EXPECT_DOUBLE_EQ(value(*metrics, "train/q_halt_loss"), metric(raw, "q_halt_loss").item<double>() / 16);
  EXPECT_DOUBLE_EQ(value(*metrics, "train/accuracy"), metric(raw, "accuracy").item<double>() / count);
  EXPECT_DOUBLE_EQ(value(*metrics, "train/steps"), metric(raw, "steps").item<double>() / count);
  EXPECT_TRUE(std::is_sorted(metrics->names.begin(), metrics->names.end()));
  EXPECT_EQ(metrics->names.front(), "train/accuracy");
}

class TrainLoopDtype : public TrainLoop, public ::testing::WithParamInterface<std::string> {};

// In float32 and in bfloat16 (the demo's dtype: bfloat16 forward, float32 master weights and optimizer).
TEST_P(TrainLoopDtype, TrainingLowersTheLoss) {
  TempDir run("learn_" + GetParam());
  Manual m(tiny_config(data(), run.path, {"epochs=20", "eval_interval=20", "lr=3e-3", "arch.forward_dtype=" + GetParam()}));
  auto mean_loss = [&](int steps) {
    double sum = 0;
    for (int i = 0; i < steps; ++i) {
      auto metrics = m.step();
      EXPECT_TRUE(metrics);
      if (metrics) sum += value(*metrics, "train/lm_loss");
    }
    return sum / steps;
  };
  const double first = mean_loss(8);
  mean_loss(60);
  const double last = mean_loss(8);
  EXPECT_LT(last, 0.7 * first) << "lm_loss (per row) " << first << " -> " << last;
  for (const auto& p : m.state.model->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);  // master weights
}
INSTANTIATE_TEST_SUITE_P(Dtypes, TrainLoopDtype, ::testing::Values("float32", "bfloat16"));

// The CPU weight-cast cache (model/layers.h CastCache) and the fused CPU ops are invisible: bfloat16
// training steps (no-grad cycles, the target-Q forward, optimizer steps between them), then an
// evaluation (with EMA weights swapped in and out, or without EMA: then the next step's no-grad
// cycles reuse the evaluation's casts), give bit-identical weights, metrics and outputs with them and
// without them (`hrm --unfused`). A cast kept past an in-place update would not.
class TrainLoopEma : public TrainLoop, public ::testing::WithParamInterface<bool> {};

TEST_P(TrainLoopEma, Bfloat16TrainingAndEvaluationAreBitIdenticalWithoutTheCastCacheAndFusedOps) {
  struct Result {
    std::vector<torch::Tensor> weights;
    std::vector<double> losses;
    EvalMetrics eval;
    io::StateDict preds;
  };
  struct FusedKernels {  // process-wide: restored whatever happens
    explicit FusedKernels(bool on) { set_fused_kernels(on); }
    ~FusedKernels() { set_fused_kernels(true); }
  };
  auto run_once = [&](bool fused, const std::string& name) {
    const FusedKernels setting(fused);
    TempDir run(name + (GetParam() ? "_ema" : ""));
    Manual m(tiny_config(data(), run.path, {"arch.forward_dtype=bfloat16", "arch.H_cycles=2", "arch.L_cycles=2",
                                            GetParam() ? "ema=True" : "ema=False", "ema_rate=0.5",
                                            "eval_save_outputs=[logits, q_halt_logits]"}));
    Result r;
    for (int i = 0; i < 6; ++i) {
      const auto metrics = m.step();
      EXPECT_TRUE(metrics);
      if (metrics) r.losses.push_back(value(*metrics, "train/lm_loss"));
    }
    const data::Dataset test = data::Dataset::open(m.config.data_path, "test");
    m.state.step = 6;
    m.state.model->eval();
    r.eval = *evaluate(m.config, m.state, test, run.path.string());
    r.preds = io::load_torch_file((run.path / "step_6_all_preds.0").string());
    m.state.model->train();
    EXPECT_TRUE(m.step());  // after the evaluation put the trained weights back
    r.weights = snapshot(m.state.model);
    return r;
  };
  const Result with = run_once(true, "cast_cache_on"), without = run_once(false, "cast_cache_off");
  EXPECT_EQ(with.losses, without.losses);
  ASSERT_EQ(with.weights.size(), without.weights.size());
  for (size_t i = 0; i < with.weights.size(); ++i) EXPECT_TRUE(torch::equal(with.weights[i], without.weights[i])) << i;
  ASSERT_EQ(with.eval.size(), 1u);
  ASSERT_EQ(without.eval.size(), 1u);
  EXPECT_EQ(with.eval[0].second, without.eval[0].second);
  ASSERT_EQ(with.preds.size(), without.preds.size());
  for (size_t i = 0; i < with.preds.size(); ++i) EXPECT_TRUE(torch::equal(with.preds[i].second, without.preds[i].second));
}
INSTANTIATE_TEST_SUITE_P(WithAndWithoutEma, TrainLoopEma, ::testing::Bool());

TEST_F(TrainLoop, NonFiniteStepUpdatesNothingAndIsCounted) {
  TempDir run("nan");
  Manual m(tiny_config(data(), run.path));
  ASSERT_TRUE(m.step());
  ASSERT_TRUE(m.step());
  auto lm_head = m.state.model->model->inner->lm_head->weight;
  const torch::Tensor good = lm_head.detach().clone();
  {
    torch::NoGradGuard no_grad;
    lm_head.index_put_({0, 0}, std::numeric_limits<float>::quiet_NaN());
  }
  const auto before = snapshot(m.state.model);
  const int64_t adam_steps = m.state.adam->step_count();
  EXPECT_FALSE(m.step());
  EXPECT_EQ(m.state.nonfinite_in_row, 1);
  EXPECT_EQ(m.state.nonfinite_total, 1);
  EXPECT_EQ(m.state.adam->step_count(), adam_steps);
  const auto after = snapshot(m.state.model);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i].nan_to_num(), after[i].nan_to_num()));
  EXPECT_TRUE(m.state.carry->halted.all().item<bool>()) << "every row restarts after a non-finite step";
  {
    torch::NoGradGuard no_grad;
    lm_head.copy_(good);
  }
  EXPECT_TRUE(m.step());
  EXPECT_EQ(m.state.nonfinite_in_row, 0);
  EXPECT_EQ(m.state.nonfinite_total, 1);
}

TEST_F(TrainLoop, NonFiniteGradientWithAFiniteLossIsSkippedToo) {
  TempDir run("nan_grad");
  Manual m(tiny_config(data(), run.path));
  ASSERT_TRUE(m.step());
  // The forward and the loss stay finite; only the gradient of one weight turns NaN in the backward.
  auto q_head = m.state.model->model->inner->q_head->weight;
  auto hook = q_head.register_hook([](const torch::Tensor& g) { return g * std::numeric_limits<float>::quiet_NaN(); });
  const auto before = snapshot(m.state.model);
  const int64_t adam_steps = m.state.adam->step_count();
  EXPECT_FALSE(m.step());
  EXPECT_EQ(m.state.nonfinite_in_row, 1);
  EXPECT_EQ(m.state.adam->step_count(), adam_steps);
  const auto after = snapshot(m.state.model);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i])) << "parameter " << i;
  q_head.remove_hook(hook);
  EXPECT_TRUE(m.step());
  EXPECT_EQ(m.state.nonfinite_in_row, 0);
  EXPECT_EQ(m.state.nonfinite_total, 1);
}

// max_nonfinite_steps=0: no finiteness check (no host sync per step), as the reference: the step
// updates the weights whatever the gradient holds, and training does not stop.
TEST_F(TrainLoop, ZeroMaxNonFiniteStepsUpdatesUncheckedAsTheReference) {
  TempDir run("nan_unchecked");
  Manual m(tiny_config(data(), run.path, {"max_nonfinite_steps=0"}));
  ASSERT_TRUE(m.step());
  auto q_head = m.state.model->model->inner->q_head->weight;
  auto hook = q_head.register_hook([](const torch::Tensor& g) { return g * std::numeric_limits<float>::quiet_NaN(); });
  const int64_t adam_steps = m.state.adam->step_count();
  EXPECT_TRUE(m.step());
  EXPECT_EQ(m.state.adam->step_count(), adam_steps + 1);
  EXPECT_EQ(m.state.nonfinite_total, 0);
  EXPECT_TRUE(torch::isnan(q_head).any().item<bool>()) << "the unchecked step wrote the NaN gradient's update";
  q_head.remove_hook(hook);
}

TEST_F(TrainLoop, TooManyNonFiniteStepsStopWithTheLastCheckpointIntact) {
  TempDir run("nan_stop");
  PretrainConfig config = tiny_config(data(), run.path, {"max_nonfinite_steps=3"});
  TrainHooks hooks;
  hooks.before_step = [](TrainState& s) {
    if (s.step == 8) {  // iteration 1 ended at step 8 with a checkpoint; poison the weights now
      torch::NoGradGuard no_grad;
      s.model->model->inner->lm_head->weight.fill_(std::numeric_limits<float>::infinity());
    }
  };
  std::ostringstream out;
  try {
    run_pretrain(config, out, hooks);
    FAIL() << "training did not stop";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("3 steps in a row"), std::string::npos) << msg;
    EXPECT_NE(msg.find("max_nonfinite_steps=3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("last saved training state (step 8)"), std::string::npos) << msg;
  }
  ASSERT_TRUE(fs::exists(run.path / "step_8"));
  for (const auto& [k, v] : io::load_torch_file((run.path / "step_8").string()))
    if (v.is_floating_point()) EXPECT_TRUE(torch::isfinite(v).all().item<bool>()) << k;
  const io::StateDict st = io::load_torch_file((run.path / "train_state.pt").string());
  for (const auto& [k, v] : st)
    if (k == "step") EXPECT_EQ(v.item<int64_t>(), 8);
  EXPECT_FALSE(fs::exists(run.path / "step_16"));
}

TEST_F(TrainLoop, EvaluateCoversTheTestSplitAndSavesOutputs) {
  TempDir run("eval");
  Manual m(tiny_config(data(), run.path, {"eval_save_outputs=[inputs, labels, puzzle_identifiers, logits, q_halt_logits, q_continue_logits]",
                                          "global_batch_size=12"}));
  const data::Dataset test = data::Dataset::open(m.config.data_path, "test");
  m.state.step = 5;
  m.state.model->eval();
  std::vector<std::pair<int64_t, int64_t>> told;
  EvalControl control;
  control.progress = [&](int64_t done, int64_t total) { told.emplace_back(done, total); };
  const EvalMetrics metrics = *evaluate(m.config, m.state, test, run.path.string(), control);
  EXPECT_EQ(told, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {1, 2}, {2, 2}}));
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].first, "all");
  std::vector<std::string> names;
  for (const auto& [k, v] : metrics[0].second) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"accuracy", "exact_accuracy", "lm_loss", "q_halt_accuracy",
                                             "q_halt_loss", "steps"}));
  for (const auto& [k, v] : metrics[0].second)
    if (k == "steps") EXPECT_DOUBLE_EQ(v, 2.0);  // every row runs halt_max_steps segments
  // 16 examples in batches of 12: the second batch is padded (pad inputs, ignored labels).
  const io::StateDict preds = io::load_torch_file((run.path / "step_5_all_preds.0").string());
  std::vector<std::string> keys;
  for (const auto& [k, v] : preds) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"inputs", "labels", "puzzle_identifiers", "logits", "q_halt_logits",
                                            "q_continue_logits"}));
  for (const auto& [k, v] : preds) {
    EXPECT_EQ(v.size(0), 24) << k;
    if (k == "logits") EXPECT_EQ(v.sizes(), (std::vector<int64_t>{24, 8, 6}));
    if (k == "labels") EXPECT_TRUE((v.narrow(0, 16, 8) == -100).all().item<bool>());
  }
}

// On the CPU a batch of a large model runs for minutes: a stop is asked for between its segments
// too, and abandoning there returns nothing and writes nothing.
TEST_F(TrainLoop, EvaluationOnTheCpuIsAbandonedBetweenSegmentsAndWritesNothing) {
  TempDir run("eval_abandon");
  Manual m(tiny_config(data(), run.path, {"eval_save_outputs=[logits]", "global_batch_size=12"}));
  ASSERT_TRUE(eval_stops_between_segments(m.state.device));
  EXPECT_STREQ(eval_stop_unit(m.state.device), "segment");
  const data::Dataset test = data::Dataset::open(m.config.data_path, "test");
  m.state.model->eval();
  int64_t done = 0;
  std::vector<int64_t> asked_after;  // batches done when asked
  EvalControl control;
  control.progress = [&](int64_t d, int64_t) { done = d; };
  control.abandon = [&] {
    asked_after.push_back(done);
    return false;
  };
  ASSERT_TRUE(evaluate(m.config, m.state, test, run.path.string(), control));
  // 2 batches of halt_max_steps = 2 segments: between the first batch's segments, before the
  // second batch, between its segments.
  EXPECT_EQ(asked_after, (std::vector<int64_t>{0, 1, 1}));
  fs::remove(run.path / "step_0_all_preds.0");

  asked_after.clear();
  control.abandon = [&] {
    asked_after.push_back(done);
    return true;
  };
  EXPECT_FALSE(evaluate(m.config, m.state, test, run.path.string(), control));
  EXPECT_EQ(asked_after, (std::vector<int64_t>{0}));  // after the first segment of the first batch
  EXPECT_FALSE(fs::exists(run.path / "step_0_all_preds.0"));
}

TEST_F(TrainLoop, EmaWeightsAreEvaluatedAndSavedWhileTrainingKeepsItsOwn) {
  TempDir run("ema");
  PretrainConfig config = tiny_config(data(), run.path, {"ema=True", "ema_rate=0.9", "epochs=2", "eval_interval=2"});
  std::ostringstream out;
  TrainState state = run_pretrain(config, out);
  ASSERT_TRUE(state.ema);
  const auto saved = io::load_torch_file((run.path / "step_8").string());
  std::map<std::string, torch::Tensor> shadow;
  for (const auto& [k, v] : state.ema->state()) shadow[k.substr(4)] = v;
  int compared = 0;
  for (const auto& [k, v] : saved) {
    const std::string name = k.substr(std::string("_orig_mod.").size());
    if (!shadow.count(name)) continue;
    ++compared;
    EXPECT_TRUE(torch::equal(v, shadow[name])) << name;
    EXPECT_FALSE(torch::equal(v, state.model->named_parameters()[name])) << name << " equals the trained weights";
  }
  EXPECT_EQ(compared, static_cast<int>(state.model->parameters().size()));
}

// Two runs in one folder would mix their metrics, checkpoints and state: the second is refused while
// the first holds the folder (here: a hold taken by hand), and nothing of it is written there.
TEST_F(TrainLoop, ARunFolderInUseByAnotherRunIsRefused) {
  TempDir run("in_use");
  const DirLock held(run.path.string(), "checkpoint_path");
  std::ostringstream out;
  try {
    run_pretrain(tiny_config(data(), run.path, {}), out);
    ADD_FAILURE() << "the second run was let in";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("' is in use by another process (pid "), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(run.path / "all_config.yaml"));
  EXPECT_FALSE(fs::exists(run.path / "metrics.jsonl"));
}

TEST_F(TrainLoop, RunWritesConfigMetricsAndCheckpoints) {
  TempDir run("run");
  std::ostringstream out;
  run_pretrain(tiny_config(data(), run.path, {"device=auto"}), out);
  EXPECT_TRUE(fs::exists(run.path / "all_config.yaml"));
  EXPECT_TRUE(fs::exists(run.path / "step_8"));
  EXPECT_TRUE(fs::exists(run.path / "step_16"));
  EXPECT_TRUE(fs::exists(run.path / "train_state.pt"));
  const std::string text = out.str();
  EXPECT_NE(text.find("Epoch 0"), std::string::npos) << text;
  EXPECT_NE(text.find("Epoch 2"), std::string::npos) << text;
  EXPECT_NE(text.find("eval all at step 16:"), std::string::npos) << text;
  const std::string where = torch::cuda::is_available() ? "cuda" : "cpu";
  EXPECT_NE(text.find("Training on " + where + " (device=auto)\n"), std::string::npos) << text;
  std::ifstream log(run.path / "metrics.jsonl");
  std::string line;
  int lines = 0;
  bool has_train = false, has_eval = false;
  while (std::getline(log, line)) {
    ++lines;
    has_train = has_train || line.find("\"train/lm_loss\"") != std::string::npos;
    has_eval = has_eval || line.find("\"all/exact_accuracy\"") != std::string::npos;
  }
  EXPECT_TRUE(has_train && has_eval);
  EXPECT_EQ(lines, 1 + 16 + 2);  // num_params, one per step (log_interval=1), one per evaluation
  // The run directory is not overwritten by a new run.
  try {
    run_pretrain(tiny_config(data(), run.path), out);
    FAIL() << "a second run overwrote the first";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("resume="), std::string::npos) << e.what();
  }
}

TEST(TrainDevice, AutoIsTheGpuWhereThereIsOneElseTheCpu) {
  EXPECT_EQ(parse_device("auto").is_cuda(), torch::cuda::is_available());
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  PretrainConfig c;
  c.cuda_graphs = true;  // device=auto passes validation; the machine decides
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(run_device(c).is_cuda());
  } else {
    try {
      run_device(c);
      FAIL() << "cuda_graphs=true ran on the CPU";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("cuda_graphs' = true needs a GPU; device=auto is the CPU here"), std::string::npos)
          << e.what();
    }
    try {
      parse_device("cuda");
      FAIL() << "device=cuda on a machine without CUDA";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("use device=cpu"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace hrm::train
