// test_cmd_train.cpp: tests src/cli/cmd_train.cpp through the built binary: a run killed with
// SIGKILL partway and resumed with `hrm train resume=DIR` ends with exactly the weights of an
// uninterrupted run; configuration errors exit non-zero naming the key; --help lists the keys.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "cli/cli_run.h"
#include "core/atomic_file.h"
#include "io/torch_file.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;
using hrm::testing::run_hrm;
using hrm::testing::spawn_hrm;
using testing::TempDir;

using testing::load_tensors;

TEST(CmdTrain, RunKilledWithSigkillAndResumedEndsWithTheUninterruptedWeights) {
  TempDir dir("cmd_train_kill");
  testing::write_tiny_dataset(dir.path / "data", /*train_groups=*/128);
  auto args = [&](const fs::path& run) {
    std::vector<std::string> a{"train"};
    for (const auto& o : testing::tiny_overrides(dir.path / "data", run)) a.push_back(o);
    // 8 epochs of 16 steps, evaluated and checkpointed every 2 epochs: 4 iterations of 32 steps.
    for (const char* o : {"epochs=8", "eval_interval=2", "log_interval=16"}) a.push_back(o);
    return a;
  };
  const fs::path full = dir.path / "full", killed = dir.path / "killed";

  const auto r = run_hrm(args(full));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(fs::exists(full / "step_128")) << r.output;

  // Start the same run, wait for its first checkpoint, then kill it partway through the next iteration.
  const pid_t pid = spawn_hrm(args(killed), (dir.path / "killed.log").string());
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(killed / "train_state.pt") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the run ended before it was killed";
  ASSERT_FALSE(fs::exists(killed / "step_128")) << "the run finished before it was killed";
  ASSERT_TRUE(fs::exists(killed / "train_state.pt"));

  const auto resumed = run_hrm({"train", "resume=" + killed.string()});
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("Resuming"), std::string::npos) << resumed.output;
  ASSERT_TRUE(fs::exists(killed / "step_128")) << resumed.output;

  const auto want = load_tensors(full / "step_128"), got = load_tensors(killed / "step_128");
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [k, v] : want) EXPECT_TRUE(torch::equal(v, got.at(k))) << k;
  const auto want_state = load_tensors(full / "train_state.pt"), got_state = load_tensors(killed / "train_state.pt");
  for (const auto& [k, v] : want_state) EXPECT_TRUE(torch::equal(v, got_state.at(k))) << k;
}

// Ctrl-C: the step in progress finishes, the run says what resumes and exits 130; resuming then ends
// with the uninterrupted run's step count, and a finished run resumed says it has nothing to train.
TEST(CmdTrain, SigintStopsAfterTheStepNamingWhatResumes) {
  TempDir dir("cmd_train_sigint");
  testing::write_tiny_dataset(dir.path / "data", /*train_groups=*/128);
  const fs::path run = dir.path / "run";
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", run)) args.push_back(o);
  for (const char* o : {"epochs=8", "eval_interval=2", "log_interval=16"}) args.push_back(o);
  const std::string log = (dir.path / "run.log").string();
  const pid_t pid = spawn_hrm(args, log);
  ASSERT_GT(pid, 0);
  const auto stopped = hrm::testing::signal_when(pid, log, SIGINT, [&] { return fs::exists(run / "train_state.pt"); });
  const std::string& out = stopped.output;
  if (fs::exists(run / "step_128")) GTEST_SKIP() << "the run finished before the signal arrived";
  EXPECT_EQ(stopped.status, 130) << out;
  EXPECT_NE(out.find("stopped at step"), std::string::npos) << out;
  EXPECT_NE(out.find("hrm train resume=" + run.string()), std::string::npos) << out;

  const auto resumed = run_hrm({"train", "resume=" + run.string()});
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(run / "step_128")) << resumed.output;
  const auto again = run_hrm({"train", "resume=" + run.string()});
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("the run is complete"), std::string::npos) << again.output;
}

// A dataset's folder, or a file, as checkpoint_path is refused before anything is written there.
TEST(CmdTrain, CheckpointPathThatIsADatasetOrAFileIsRefused) {
  TempDir dir("cmd_train_ckpt_dataset");
  testing::write_tiny_dataset(dir.path / "data");
  for (const fs::path& target : {dir.path / "data", dir.path / "data" / "train"}) {
    std::vector<std::string> args{"train"};
    for (const auto& o : testing::tiny_overrides(dir.path / "data", target)) args.push_back(o);
    const auto r = run_hrm(args);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("is a dataset's folder"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(target / "all_config.yaml")) << r.output;
  }
  hrm::write_file_atomic((dir.path / "afile").string(), "x");
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "afile")) args.push_back(o);
  const auto r = run_hrm(args);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("is a file; give a folder"), std::string::npos) << r.output;
}

TEST(CmdTrain, CheckpointPathThatCannotBeCreatedIsAnErrorNotACrash) {
  TempDir dir("cmd_train_badpath");
  testing::write_tiny_dataset(dir.path / "data");
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", "/proc/hrm-cannot-exist/run")) args.push_back(o);
  const auto r = run_hrm(args);
  EXPECT_EQ(r.status, 2) << r.output;  // an error message and exit 2, not SIGABRT from an uncaught exception
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/proc/hrm-cannot-exist"), std::string::npos) << r.output;
}

// A run folder with checkpoints but no train_state.pt (a run killed while saving its first one):
// a new run there would mix its step_N files and metrics with the old ones.
TEST(CmdTrain, FolderWithCheckpointsButNoTrainStateIsRefusedNamingThem) {
  TempDir dir("cmd_train_leftover");
  testing::write_tiny_dataset(dir.path / "data");
  const fs::path run = dir.path / "run";
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", run)) args.push_back(o);
  // A temporary of a process killed while writing (pid 2^22 + 1: none) is cleared by the next run there.
  fs::create_directories(run);
  std::ofstream(run / "train_state.pt.tmp-4194305") << "half";
  ASSERT_EQ(run_hrm(args).status, 0);
  EXPECT_FALSE(fs::exists(run / "train_state.pt.tmp-4194305"));
  fs::remove(run / "train_state.pt");
  const std::string metrics = hrm::read_file((run / "metrics.jsonl").string());
  const auto again = run_hrm(args);
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.output.find("already holds checkpoints (step_8 to step_16) but no train_state.pt"), std::string::npos)
      << again.output;
  EXPECT_EQ(hrm::read_file((run / "metrics.jsonl").string()), metrics);
  const auto resumed = run_hrm({"train", "resume=" + run.string()});
  EXPECT_NE(resumed.status, 0);
  EXPECT_NE(resumed.output.find("the run's checkpoint step_16 has the weights only"), std::string::npos) << resumed.output;
}

// The model is sized by the training split: a test split of another vocabulary stops the run
// before it trains (instead of an index error at the first evaluation, with the steps lost).
TEST(CmdTrain, TestSplitOfAnotherTaskIsAnErrorBeforeTraining) {
  TempDir dir("cmd_train_splits");
  testing::write_tiny_dataset(dir.path / "data");
  const fs::path test_json = dir.path / "data" / "test" / "dataset.json";
  std::string meta = hrm::read_file(test_json.string());
  const size_t at = meta.find("\"vocab_size\": ");
  ASSERT_NE(at, std::string::npos) << meta;
  meta.replace(at, meta.find(',', at) - at, "\"vocab_size\": 12");
  fs::remove(test_json);
  std::ofstream(test_json) << meta;
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  const auto r = run_hrm(args);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(test_json.string() + ": vocab_size is 12 but"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "run" / "metrics.jsonl")) << r.output;
}

TEST(CmdTrain, BatchLargerThanAnIterationsExamplesIsAnErrorNotARunWithoutSteps) {
  TempDir dir("cmd_train_nobatch");
  testing::write_tiny_dataset(dir.path / "data");  // 32 training groups of two examples
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  args.push_back("global_batch_size=160");  // 2 epochs per iteration: about 128 examples
  const auto r = run_hrm(args);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("'global_batch_size' = 160: each train/eval iteration (2 epoch(s)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path / "run")) << r.output;
}

TEST(CmdTrain, UnknownKeyExitsNonZeroNamingTheNearestKey) {
  const auto r = run_hrm({"train", "lrr=1e-4"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("error: unknown config key 'lrr'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'lr'"), std::string::npos) << r.output;
}

TEST(CmdTrain, HelpListsTheKeysWithDefaults) {
  const auto r = run_hrm({"train", "--help"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("global_batch_size: 768"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  hidden_size: 512"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hrm::train
