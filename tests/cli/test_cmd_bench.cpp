// test_cmd_bench.cpp: `hrm bench model`, `train` and `eval` run real steps and print their
// figures (the figures themselves are recorded in docs/PERF.md, never asserted: no timed tests).
#include <gtest/gtest.h>

#include "cli/cli_run.h"
#include "core/atomic_file.h"
#include "train/profiler.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

using hrm::testing::run_hrm;
using testing::TempDir;

TEST(CmdBench, ModelPrintsTokensPerSecondOfForwardAndTrainSegments) {
  const auto r = run_hrm({"bench", "model", "--device", "cpu", "--iters", "2", "--warmup", "1", "batch_size=4", "hidden_size=32",
                          "num_heads=2", "H_layers=1", "L_layers=1", "seq_len=16", "vocab_size=8",
                          "puzzle_emb_ndim=0", "forward_dtype=float32"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("forward (eval segment)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tokens/s"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GFLOP per segment"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MFU "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("float32 matmul rate measured now (1024^3)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("peak RSS "), std::string::npos) << r.output;
}

// bench model --profile: each profiled step is a forward segment and a train segment, named.
TEST(CmdBench, ModelProfileNamesItsTwoSegments) {
  if (!train::profiler_available()) GTEST_SKIP() << "built on libtorch 1.13: no --profile";
  TempDir dir("cmd_bench_model_profile");
  const std::string trace = (dir.path / "model.json").string();
  const auto r = run_hrm({"bench", "model", "--device", "cpu", "--iters", "1", "--warmup", "0", "--profile", trace,
                          "--profile-steps", "2", "batch_size=2", "hidden_size=32", "num_heads=2", "H_layers=1",
                          "L_layers=1", "seq_len=8", "vocab_size=8", "puzzle_emb_ndim=0", "forward_dtype=float32"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 profiled steps"), std::string::npos) << r.output;
  for (const char* segment : {"hrm::forward_segment", "hrm::train_segment"})
    EXPECT_NE(r.output.find(segment), std::string::npos) << segment << ": " << r.output;
  EXPECT_NE(read_file(trace).find("hrm::train_segment"), std::string::npos);
}

// puzzle_emb_ndim follows hidden_size unless given, as in the reference's arch config and hrm train: one
// puzzle token at hidden 32, not ceil(512 / 32) = 16.
TEST(CmdBench, ModelPuzzleEmbeddingFollowsHiddenSizeUnlessGiven) {
  const std::vector<std::string> base{"bench", "model", "--iters", "1", "--warmup", "0", "batch_size=2", "hidden_size=32",
                                      "num_heads=2", "H_layers=1", "L_layers=1", "seq_len=16", "vocab_size=8"};
  const auto r = run_hrm(base);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("seq_len 16 (+1 puzzle), hidden 32"), std::string::npos) << r.output;
  std::vector<std::string> given = base;
  given.push_back("puzzle_emb_ndim=64");
  const auto g = run_hrm(given);
  ASSERT_EQ(g.status, 0) << g.output;
  EXPECT_NE(g.output.find("seq_len 16 (+2 puzzle), hidden 32"), std::string::npos) << g.output;
}

TEST(CmdBench, TrainRunsStepsOnADatasetAndPrintsStepsPerSecond) {
  TempDir dir("cmd_bench");
  testing::write_tiny_dataset(dir.path / "data");
  std::vector<std::string> args{"bench", "train", "--iters", "3", "--warmup", "1"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  const auto r = run_hrm(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("global_batch_size 16, seq_len 8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 steps: median "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" steps/s, "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GFLOP per step"), std::string::npos) << r.output;
  // A benchmark writes no run directory.
  EXPECT_FALSE(std::filesystem::exists(dir.path / "run")) << r.output;
}

TEST(CmdBench, ProfileWritesATraceAndTablesOfTheStepsPhasesAndOps) {
  const auto help = run_hrm({"bench", "train", "--help"});
  if (!train::profiler_available()) {
    EXPECT_EQ(help.output.find("--profile"), std::string::npos) << "not built: not offered";
    GTEST_SKIP() << "built on libtorch 1.13: no --profile";
  }
  EXPECT_NE(help.output.find("--profile"), std::string::npos) << help.output;
  TempDir dir("cmd_bench_profile");
  testing::write_tiny_dataset(dir.path / "data");
  const std::string trace = (dir.path / "train.json").string();
  std::vector<std::string> args{"bench", "train", "--iters", "1", "--warmup", "0", "--profile", trace, "--profile-steps", "2"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  const auto r = run_hrm(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 profiled steps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CPU ops by self time"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("aten::"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("ERROR"), std::string::npos) << "Kineto's noise without a GPU: " << r.output;
  // The training step's phases are named in the trace and in a table of their own.
  const std::string text = read_file(trace);
  for (const char* phase : {"hrm::forward", "hrm::backward", "hrm::optimizers"}) {
    EXPECT_NE(text.find(phase), std::string::npos) << phase;
    EXPECT_NE(r.output.find(phase), std::string::npos) << phase << ": " << r.output;
  }
  EXPECT_NE(r.output.find("phases of the step"), std::string::npos) << r.output;
  // A path that would fail the trace stops the bench before its work; --profile-steps needs --profile.
  args[7] = (dir.path / "data/train/dataset.json").string();
  const auto refused = run_hrm(args);
  EXPECT_NE(refused.status, 0);
  EXPECT_EQ(refused.output.find("steps: median"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("a profiler trace"), std::string::npos) << refused.output;
  args.erase(args.begin() + 6, args.begin() + 8);
  const auto lone = run_hrm(args);
  EXPECT_NE(lone.status, 0);
  EXPECT_NE(lone.output.find("--profile-steps requires --profile"), std::string::npos) << lone.output;
}

// The tiny task's test split has fewer rows than two batches: the bench starts new passes over it.
TEST(CmdBench, EvalTimesHaltMaxStepsActStepsPerTestBatch) {
  TempDir dir("cmd_bench_eval");
  testing::write_tiny_dataset(dir.path / "data");
  std::vector<std::string> args{"bench", "eval", "--iters", "3", "--warmup", "1", "--peak-tflops", "1"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  args.push_back("arch.halt_max_steps=3");
  const auto r = run_hrm(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("halt_max_steps 3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 batches, 9 ACT steps: median "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GFLOP per ACT step"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("given by --peak-tflops: 1.00 TFLOP/s"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path / "run")) << r.output;
}

// Profiled ACT steps start a new batch every halt_max_steps, as the timed ones; its preparation (which
// the timings leave out) is a phase of its own, apart from the ACT steps.
TEST(CmdBench, EvalProfileNamesTheBatchPreparationApartFromTheActSteps) {
  if (!train::profiler_available()) GTEST_SKIP() << "built on libtorch 1.13: no --profile";
  TempDir dir("cmd_bench_eval_profile");
  testing::write_tiny_dataset(dir.path / "data");
  const std::string trace = (dir.path / "eval.json").string();
  std::vector<std::string> args{"bench", "eval", "--iters", "1", "--warmup", "0", "--profile", trace, "--profile-steps", "4"};
  for (const auto& o : testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  args.push_back("arch.halt_max_steps=2");
  const auto r = run_hrm(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("4 profiled steps"), std::string::npos) << r.output;
  // 4 steps: 2 batches of 2 ACT steps each (the table counts calls per step).
  auto line_of = [&](const std::string& phase) {
    const size_t at = r.output.find(phase);
    return at == std::string::npos ? std::string() : r.output.substr(at, r.output.find('\n', at) - at);
  };
  EXPECT_NE(line_of("hrm::act_step").find(" 1.0 calls"), std::string::npos) << r.output;
  EXPECT_NE(line_of("hrm::next_batch").find(" 0.5 calls"), std::string::npos) << r.output;
}

TEST(CmdBench, TrainAndEvalWithoutADatasetNameThePath) {
  for (const char* what : {"train", "eval"}) {
    const auto r = run_hrm({"bench", what, "data_path=/nonexistent/hrm-bench", "--iters", "1"});
    EXPECT_NE(r.status, 0) << what;
    EXPECT_NE(r.output.find("/nonexistent/hrm-bench"), std::string::npos) << what << ": " << r.output;
  }
}

}  // namespace
}  // namespace hrm::train
