// test_checkpoint.cpp: tests src/train/checkpoint.cpp: step_N holds the reference's state-dict keys
// with the `_orig_mod.` prefix and loads back; the reference's own checkpoints load; a run stopped
// after an evaluation, or by SIGTERM mid-iteration or during an evaluation, and resumed from train_state.pt ends
// bit-identical to an uninterrupted run (weights, puzzle embeddings, optimizer moments, EMA); a
// damaged train state names the missing key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <csignal>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/check.h"
#include "io/state_dict.h"
#include "io/torch_file.h"
#include "test_paths.h"
#include "train/checkpoint.h"
#include "train/tiny_task.h"
#include "train/train_loop.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::tiny_config;
using testing::write_tiny_dataset;

struct Crash {};  // thrown by a hook to stop a run the way a kill would, right after a checkpoint

class Checkpoint : public testing::TinyTaskSuite {};

std::map<std::string, torch::Tensor> as_map(const io::StateDict& sd) { return {sd.begin(), sd.end()}; }

TEST_F(Checkpoint, ModelFileHasTheReferenceKeysWithTheCompiledPrefixAndLoadsBack) {
  TempDir run("ckpt_model");
  const PretrainConfig config = tiny_config(data(), run.path);
  const auto meta = data::Dataset::open(config.data_path, "train").metadata();
  TrainState a = init_train_state(config, meta);
  const std::string path = model_checkpoint_path(run.path.string(), 42);
  EXPECT_EQ(fs::path(path).filename(), "step_42");
  save_model_checkpoint(path, a.model);
  const io::StateDict file = io::load_torch_file(path);
  const io::StateDict ours = io::state_dict(*a.model);
  ASSERT_EQ(file.size(), ours.size());
  for (size_t i = 0; i < file.size(); ++i) {
    EXPECT_EQ(file[i].first, "_orig_mod." + ours[i].first);
    EXPECT_TRUE(torch::equal(file[i].second, ours[i].second)) << ours[i].first;
  }
  PretrainConfig other_seed = config;
  other_seed.seed = 7;
  TrainState b = init_train_state(other_seed, meta);
  load_model_checkpoint(path, b.model);
  const auto loaded = as_map(io::state_dict(*b.model));
  for (const auto& [k, v] : ours) EXPECT_TRUE(torch::equal(v, loaded.at(k))) << k;
}

TEST_F(Checkpoint, LoadsTheReferencesCompiledCheckpoint) {
  // The hrm-tiny fixture's weights saved by the reference (PyTorch 1.13, torch.compile'd model).
  const std::string dir = std::string(HRM_SHARED_DIR) + "/fixtures";
  const auto cfg = nlohmann::json::parse(read_file(dir + "/hrm-tiny/config.json"));
  HRMConfig model_cfg = HRMConfig::from_json(cfg["model"]);
  ACTLossHead model(HRMACTV1(model_cfg, 0), "stablemax_cross_entropy");
  load_model_checkpoint(dir + "/checkpoints/hrm-tiny/step_compiled_fp32_torch113.pt", model);
  const auto want = as_map(io::load_torch_file(dir + "/hrm-tiny/weights.pt"));
  for (const auto& [k, v] : io::state_dict(*model)) EXPECT_TRUE(torch::equal(v, want.at(k))) << k;
}

// Everything that must continue exactly: weights and buffers, optimizer state, EMA, counters.
void expect_same_training_state(const fs::path& a, const fs::path& b) {
  const auto sa = as_map(io::load_torch_file((a / "train_state.pt").string()));
  const auto sb = as_map(io::load_torch_file((b / "train_state.pt").string()));
  ASSERT_EQ(sa.size(), sb.size());
  int weights = 0;
  for (const auto& [k, v] : sa) {
    ASSERT_TRUE(sb.count(k)) << k;
    EXPECT_TRUE(torch::equal(v, sb.at(k))) << k << " differs between the uninterrupted and the resumed run";
    weights += k.rfind("weights.", 0) == 0;
  }
  EXPECT_GT(weights, 10);
}

// `hrm train resume=RUN` with the tiny task's overrides (on `data`) and `extra`.
PretrainConfig resume_config(const fs::path& data, const fs::path& run, const std::vector<std::string>& extra) {
  auto o = testing::tiny_overrides(data, run);
  o.insert(o.end(), extra.begin(), extra.end());
  o.push_back("resume=" + run.string());
  return load_pretrain_config(std::nullopt, o);
}

// Two runs' model checkpoint `step` (e.g. "step_16"), tensor for tensor.
void expect_same_checkpoint(const fs::path& a, const fs::path& b, const std::string& step) {
  ASSERT_TRUE(fs::exists(b / step)) << step;
  const auto fa = as_map(io::load_torch_file((a / step).string()));
  const auto fb = as_map(io::load_torch_file((b / step).string()));
  ASSERT_EQ(fa.size(), fb.size()) << step;
  for (const auto& [k, v] : fa) EXPECT_TRUE(torch::equal(v, fb.at(k))) << step << " " << k;
}

TEST_F(Checkpoint, ResumedRunEndsBitIdenticalToAnUninterruptedOne) {
  TempDir a("ckpt_full"), b("ckpt_resumed");
  const std::vector<std::string> extra = {"epochs=4", "eval_interval=1", "ema=True"};
  std::ostringstream out;
  run_pretrain(tiny_config(data(), a.path, extra), out);

  TrainHooks crash;
  crash.after_checkpoint = [](TrainState& s) {
    if (s.iter == 2) throw Crash{};
  };
  EXPECT_THROW(run_pretrain(tiny_config(data(), b.path, extra), out, crash), Crash);
  EXPECT_TRUE(fs::exists(b.path / "step_8"));
  EXPECT_FALSE(fs::exists(b.path / "step_16"));

  TrainState end = run_pretrain(resume_config(data(), b.path, extra), out);
  EXPECT_EQ(end.step, 16);
  expect_same_training_state(a.path, b.path);
  expect_same_checkpoint(a.path, b.path, "step_16");
  EXPECT_NE(out.str().find("Resuming"), std::string::npos);
}

// SIGTERM mid-iteration (a scheduler's preemption): the step in progress finishes, the training
// state is saved there (no model checkpoint: those come with evaluations), and resuming from it ends
// bit-identical to the uninterrupted run: the sampler continues inside its pass, the carry holds the
// rows in flight.
TEST_F(Checkpoint, RunStoppedMidIterationSavesItsStateAndResumesBitIdentical) {
  TempDir a("ckpt_full_term"), b("ckpt_term");
  const std::vector<std::string> extra = {"epochs=4", "eval_interval=1", "ema=True"};  // 4 steps per iteration
  std::ostringstream out;
  run_pretrain(tiny_config(data(), a.path, extra), out);

  TrainHooks term;
  term.before_step = [](TrainState& s) {
    if (s.step == 5) ::raise(SIGTERM);  // during step 6, the second of iteration 2
  };
  try {
    run_pretrain(tiny_config(data(), b.path, extra), out, term);
    FAIL() << "the run did not stop";
  } catch (const Interrupted& e) {
    EXPECT_NE(std::string(e.what()).find("stopped at step 6 (SIGTERM); saved the training state in"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("continues from step 6"), std::string::npos) << e.what();
  }
  const auto saved = as_map(io::load_torch_file((b.path / "train_state.pt").string()));
  EXPECT_EQ(saved.at("step").item<int64_t>(), 6);
  EXPECT_TRUE(fs::exists(b.path / "step_4"));
  EXPECT_FALSE(fs::exists(b.path / "step_6"));

  const PretrainConfig resumed = resume_config(data(), b.path, extra);
  TrainState end = run_pretrain(resumed, out);
  EXPECT_EQ(end.step, 16);
  expect_same_training_state(a.path, b.path);
  for (const char* step : {"step_8", "step_16"}) expect_same_checkpoint(a.path, b.path, step);
}

// SIGTERM during an evaluation (which can outlast a scheduler's grace before its SIGKILL): the
// evaluation is abandoned at its next check (on the CPU: after the segment in progress), the state is
// saved as it stood before it (no step_N
// yet), and resuming runs that evaluation first, ending bit-identical to the uninterrupted run.
TEST_F(Checkpoint, RunStoppedDuringAnEvaluationSavesTheStateBeforeItAndResumesWithIt) {
  TempDir d("ckpt_eval_term_data"), a("ckpt_full_eval_term"), b("ckpt_eval_term");
  const fs::path three_batches = d.path / "tiny";
  write_tiny_dataset(three_batches, 32, 40);  // test batches of 16, 16 and 8 examples
  // 4 steps per iteration; with EMA, whose weights the abandoned evaluation must hand back.
  const std::vector<std::string> extra = {"epochs=4", "eval_interval=1", "ema=True"};
  std::ostringstream out;
  run_pretrain(tiny_config(three_batches, a.path, extra), out);

  TrainHooks term;
  int asked_at_step_8 = 0;
  term.at_eval_stop_check = [&](TrainState& s) {
    if (s.step == 8 && ++asked_at_step_8 == 1) ::raise(SIGTERM);  // after the first segment of step 8's evaluation
  };
  try {
    run_pretrain(tiny_config(three_batches, b.path, extra), out, term);
    FAIL() << "the run did not stop";
  } catch (const Interrupted& e) {
    EXPECT_NE(std::string(e.what()).find("stopped at step 8 during its evaluation (SIGTERM); saved the training state in"),
              std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("evaluates step 8 and continues"), std::string::npos) << e.what();
  }
  EXPECT_EQ(asked_at_step_8, 1) << "the evaluation went on after the signal";
  const auto saved = as_map(io::load_torch_file((b.path / "train_state.pt").string()));
  EXPECT_EQ(saved.at("step").item<int64_t>(), 8);
  EXPECT_EQ(saved.at("iter").item<int64_t>(), 1);  // the second iteration's evaluation is still to come
  EXPECT_TRUE(fs::exists(b.path / "step_4"));
  EXPECT_FALSE(fs::exists(b.path / "step_8"));

  const PretrainConfig resumed = resume_config(three_batches, b.path, extra);
  std::ostringstream resumed_out;
  TrainState end = run_pretrain(resumed, resumed_out);
  EXPECT_NE(resumed_out.str().find("at step 8 (iteration 1 of 4), with the evaluation that the stop interrupted"),
            std::string::npos) << resumed_out.str();
  EXPECT_EQ(end.step, 16);
  expect_same_training_state(a.path, b.path);
  for (const char* step : {"step_8", "step_12", "step_16"}) expect_same_checkpoint(a.path, b.path, step);
}

// A stop during the last evaluation: resuming runs it, writes the final checkpoint (the full run's,
// bit for bit) and ends the run; the message says that this was the last evaluation.
TEST_F(Checkpoint, RunStoppedDuringItsLastEvaluationResumesToTheFinalCheckpoint) {
  TempDir d("ckpt_last_eval_data"), a("ckpt_full_last_eval"), b("ckpt_last_eval");
  const fs::path three_batches = d.path / "tiny";
  write_tiny_dataset(three_batches, 32, 40);  // test batches of 16, 16 and 8 examples
  const std::vector<std::string> extra = {"epochs=2", "eval_interval=1"};  // 2 iterations of 4 steps
  std::ostringstream out;
  run_pretrain(tiny_config(three_batches, a.path, extra), out);

  TrainHooks term;
  term.at_eval_stop_check = [](TrainState& s) {
    if (s.step == 8) ::raise(SIGTERM);  // after the first segment of the first of three batches: abandoned there
  };
  try {
    run_pretrain(tiny_config(three_batches, b.path, extra), out, term);
    FAIL() << "the run did not stop";
  } catch (const Interrupted& e) {
    EXPECT_NE(std::string(e.what()).find("evaluates step 8, saves its checkpoint and ends the run (this was its last evaluation)"),
              std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(b.path / "step_8"));
  const PretrainConfig resumed = resume_config(three_batches, b.path, extra);
  std::ostringstream resumed_out;
  EXPECT_EQ(run_pretrain(resumed, resumed_out).step, 8);
  ASSERT_TRUE(fs::exists(b.path / "step_8")) << resumed_out.str();
  expect_same_checkpoint(a.path, b.path, "step_8");
  expect_same_training_state(a.path, b.path);
}

// save_state_minutes: the state is saved between evaluations after the step in progress, so that a
// run killed outright (here: a crash after step 6, mid-iteration, with no signal) resumes from it,
// bit-identical to the uninterrupted run.
TEST_F(Checkpoint, StateSavedEveryFewMinutesResumesAKilledRunMidIteration) {
  TempDir a("ckpt_full_periodic"), b("ckpt_periodic");
  const std::vector<std::string> extra = {"epochs=4", "eval_interval=1"};  // 4 steps per iteration
  std::ostringstream out;
  run_pretrain(tiny_config(data(), a.path, extra), out);

  std::vector<std::string> periodic = extra;
  periodic.push_back("save_state_minutes=1e-9");  // after every step
  TrainHooks crash;
  crash.before_step = [](TrainState& s) {
    if (s.step == 6) throw Crash{};
  };
  std::ostringstream saves;
  EXPECT_THROW(run_pretrain(tiny_config(data(), b.path, periodic), saves, crash), Crash);
  EXPECT_NE(saves.str().find("saved the training state at step 6 (save_state_minutes=1e-09)"), std::string::npos) << saves.str();
  EXPECT_EQ(as_map(io::load_torch_file((b.path / "train_state.pt").string())).at("step").item<int64_t>(), 6);

  const PretrainConfig resumed = resume_config(data(), b.path, extra);
  EXPECT_EQ(run_pretrain(resumed, out).step, 16);
  expect_same_training_state(a.path, b.path);
}

TEST_F(Checkpoint, DamagedTrainStateNamesTheMissingKey) {
  TempDir run("ckpt_damaged");
  const PretrainConfig config = tiny_config(data(), run.path, {"epochs=2", "eval_interval=2"});
  std::ostringstream out;
  run_pretrain(config, out);
  io::StateDict st = io::load_torch_file((run.path / "train_state.pt").string());
  io::StateDict damaged;
  for (const auto& kv : st)
    if (kv.first != "sampler.position") damaged.push_back(kv);
  io::save_torch_file((run.path / "train_state.pt").string(), damaged);
  TrainState state = init_train_state(config, data::Dataset::open(config.data_path, "train").metadata());
  try {
    load_train_state(train_state_path(run.path.string()), state);
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'sampler.position'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_train_state((run.path / "nothing.pt").string(), state), Error);
}

}  // namespace
}  // namespace hrm::train
