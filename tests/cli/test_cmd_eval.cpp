// test_cmd_eval.cpp: tests src/cli/cmd_eval.cpp through the built binary: `hrm eval checkpoint=PATH`
// reads all_config.yaml beside the checkpoint, prints the metrics per set (equal to the training
// run's final evaluation of the same weights) and saves the reference's step_N_all_preds.0.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_run.h"
#include "core/atomic_file.h"
#include "core/remove_tree.h"
#include "io/torch_file.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;
using hrm::testing::run_hrm;
using testing::TempDir;

// The tiny task for 2 epochs (8 steps), evaluated and saved at step_8.
hrm::testing::RunResult train_tiny_run(const fs::path& data, const fs::path& run) {
  std::vector<std::string> args{"train"};
  for (const auto& o : testing::tiny_overrides(data, run)) args.push_back(o);
  args.push_back("epochs=2");
  args.push_back("eval_interval=2");
  return run_hrm(args);
}

TEST(CmdEval, PrintsTheMetricsOfASavedCheckpoint) {
  TempDir dir("cmd_eval");
  testing::write_tiny_dataset(dir.path / "data");
  const fs::path run = dir.path / "run";
  const auto trained = train_tiny_run(dir.path / "data", run);
  ASSERT_EQ(trained.status, 0) << trained.output;

  const auto r = run_hrm({"eval", "checkpoint=" + (run / "step_8").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Starting evaluation\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("all: accuracy "), std::string::npos) << r.output;
  // The JSON line of the metrics, and the final evaluation logged by the training run.
  nlohmann::json printed;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("{\"all\"", 0) == 0) printed = nlohmann::json::parse(line);
  ASSERT_TRUE(printed.is_object()) << r.output;
  nlohmann::json logged;
  std::ifstream log(run / "metrics.jsonl");
  for (std::string line; std::getline(log, line);)
    if (line.find("all/exact_accuracy") != std::string::npos) logged = nlohmann::json::parse(line);
  for (const char* k : {"accuracy", "exact_accuracy", "lm_loss", "q_halt_accuracy", "q_halt_loss", "steps"})
    EXPECT_DOUBLE_EQ(printed["all"][k].get<double>(), logged[std::string("all/") + k].get<double>()) << k;

  const auto preds = io::load_torch_file((run / "step_8_all_preds.0").string());
  std::vector<std::string> keys;
  for (const auto& [k, v] : preds) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"inputs", "labels", "puzzle_identifiers", "logits", "q_halt_logits",
                                            "q_continue_logits"}));
}

TEST(CmdEval, MissingCheckpointIsAnError) {
  const auto r = run_hrm({"eval", "save_outputs=[]"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("checkpoint=PATH is required"), std::string::npos) << r.output;
}

TEST(CmdEval, AMisspeltKeyListsEvalsOwnKeysToo) {
  TempDir dir("cmd_eval_key");
  testing::write_tiny_dataset(dir.path / "data");
  ASSERT_EQ(train_tiny_run(dir.path / "data", dir.path / "run").status, 0);
  const auto r = run_hrm({"eval", "checkpoint=" + (dir.path / "run" / "step_8").string(), "shwo=2"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown config key 'shwo'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("hrm eval's own keys: checkpoint, save_outputs, save_dir, show"), std::string::npos) << r.output;
  // Keys of a training run that an evaluation would ignore are refused, not dropped.
  for (const std::string key : {"checkpoint_path=" + (dir.path / "elsewhere").string(), std::string("resume=x"), std::string("ema=True")}) {
    const auto k = run_hrm({"eval", "checkpoint=" + (dir.path / "run" / "step_8").string(), key});
    EXPECT_EQ(k.status, 2) << k.output;
    EXPECT_NE(k.output.find("hrm eval: " + key + " does not apply: "), std::string::npos) << k.output;
  }
  EXPECT_FALSE(fs::exists(dir.path / "elsewhere"));
  // show=N needs the logits themselves: q_halt_logits does not count (a substring match took it, and
  // the evaluation ran and wrote outputs without logits before failing).
  const auto show = run_hrm({"eval", "checkpoint=" + (dir.path / "run" / "step_8").string(), "show=1",
                             "save_outputs=[inputs,labels,q_halt_logits]"});
  EXPECT_EQ(show.status, 2) << show.output;
  EXPECT_NE(show.output.find("show=N needs 'logits' in save_outputs"), std::string::npos) << show.output;
  EXPECT_FALSE(fs::exists(dir.path / "run" / "step_8_all_preds.0")) << show.output;
}

// The run's folder keeps the answers on the run's own dataset (report and arc-score read them with it):
// another dataset's outputs need save_dir=, a checkpoint that is not there names the ones that are,
// and a split folder given as data_path names the dataset's folder.
TEST(CmdEval, AnotherDatasetsOutputsGoToSaveDirAndPathSlipsAreNamed) {
  TempDir dir("cmd_eval_other");
  testing::write_tiny_dataset(dir.path / "data");
  testing::write_tiny_dataset(dir.path / "other");
  const fs::path run = dir.path / "run";
  ASSERT_EQ(train_tiny_run(dir.path / "data", run).status, 0);
  const std::string ckpt = "checkpoint=" + (run / "step_8").string();
  ASSERT_EQ(run_hrm({"eval", ckpt}).status, 0);
  const std::string own = hrm::read_file((run / "step_8_all_preds.0").string());

  const auto refused = run_hrm({"eval", ckpt, "data_path=" + (dir.path / "other").string()});
  EXPECT_EQ(refused.status, 2) << refused.output;
  EXPECT_NE(refused.output.find("is not the run's dataset"), std::string::npos) << refused.output;
  EXPECT_EQ(hrm::read_file((run / "step_8_all_preds.0").string()), own);
  const fs::path elsewhere = dir.path / "other_outputs";
  const auto saved = run_hrm({"eval", ckpt, "data_path=" + (dir.path / "other").string(), "save_dir=" + elsewhere.string()});
  EXPECT_EQ(saved.status, 0) << saved.output;
  EXPECT_TRUE(fs::exists(elsewhere / "step_8_all_preds.0")) << saved.output;
  EXPECT_EQ(hrm::read_file((run / "step_8_all_preds.0").string()), own);

  const auto missing = run_hrm({"eval", "checkpoint=" + (run / "step_9").string()});
  EXPECT_NE(missing.output.find("does not exist; " + run.string() + " holds step_8"), std::string::npos) << missing.output;
  const auto folder = run_hrm({"eval", "checkpoint=" + run.string()});
  EXPECT_NE(folder.output.find("is a folder, not a checkpoint file"), std::string::npos) << folder.output;
  const auto state = run_hrm({"eval", "checkpoint=" + (run / "train_state.pt").string()});  // was "84 problems"
  EXPECT_NE(state.output.find("is the run's training state (for resume=), not a model checkpoint; " + run.string() +
                              " holds step_8"),
            std::string::npos)
      << state.output;
  const auto split = run_hrm({"eval", ckpt, "data_path=" + (dir.path / "data" / "train").string(), "save_outputs=[]"});
  EXPECT_NE(split.output.find("give the dataset's folder, " + (dir.path / "data").string()), std::string::npos)
      << split.output;
  // An empty test split printed {} and named an output file it never wrote.
  testing::write_tiny_dataset(dir.path / "no_test", 32, 0);
  const auto empty = run_hrm({"eval", ckpt, "data_path=" + (dir.path / "no_test").string(),
                              "save_dir=" + (dir.path / "no_test_outputs").string()});
  EXPECT_EQ(empty.status, 2) << empty.output;
  EXPECT_NE(empty.output.find("has no examples; nothing to evaluate"), std::string::npos) << empty.output;
  EXPECT_EQ(empty.output.find("outputs:"), std::string::npos) << empty.output;
}

TEST(CmdEval, PuzzleEmbeddingOfAnotherRowCountIsNamedAndResizedOnRequest) {
  TempDir dir("cmd_eval_resize");
  testing::write_tiny_dataset(dir.path / "data");  // 32 training groups: 33 puzzle identifiers
  const fs::path run = dir.path / "run";
  ASSERT_EQ(train_tiny_run(dir.path / "data", run).status, 0);
  testing::write_tiny_dataset(dir.path / "more", 40);  // 41 identifiers, as a rebuilt dataset may have

  const std::string ckpt = "checkpoint=" + (run / "step_8").string(), data = "data_path=" + (dir.path / "more").string();
  const auto refused = run_hrm({"eval", ckpt, data});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("has 33 rows (puzzle identifiers) in the file but 41 in the model"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("resize_puzzle_emb=True"), std::string::npos) << refused.output;
  const auto misspelt = run_hrm({"eval", ckpt, data, "resize_puzzle_emb=Ture"});
  EXPECT_NE(misspelt.status, 0);
  EXPECT_NE(misspelt.output.find("'resize_puzzle_emb' (hrm eval argument): expected a boolean (True or False), got 'Ture'"),
            std::string::npos)
      << misspelt.output;
  const auto resized = run_hrm({"eval", ckpt, data, "resize_puzzle_emb=True", "save_outputs=[]"});
  EXPECT_EQ(resized.status, 0) << resized.output;
  EXPECT_NE(resized.output.find("all: accuracy "), std::string::npos) << resized.output;
}

TEST(CmdEval, DatasetThatIsNotThereIsNamedWithWhereItsPathCameFrom) {
  TempDir dir("cmd_eval_moved");
  testing::write_tiny_dataset(dir.path / "data");
  const fs::path run = dir.path / "run";
  ASSERT_EQ(train_tiny_run(dir.path / "data", run).status, 0);
  const auto r = run_hrm({"eval", "checkpoint=" + (run / "step_8").string(), "data_path=moved/data"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("data_path 'moved/data' does not exist"), std::string::npos) << r.output;
  // Without the override, the run's data_path is named with where it came from.
  remove_tree((dir.path / "data").string());  // not fs::remove_all: libtorch's copy crashes (core/remove_tree.h)
  const auto moved = run_hrm({"eval", "checkpoint=" + (run / "step_8").string()});
  EXPECT_NE(moved.status, 0);
  EXPECT_NE(moved.output.find("(from " + (run / "all_config.yaml").string() + ") does not exist here"), std::string::npos)
      << moved.output;
}

TEST(CmdEval, CheckpointNamedFromInsideItsRunDirectory) {
  TempDir dir("cmd_eval_cwd");
  testing::write_tiny_dataset(dir.path / "data");
  const fs::path run = dir.path / "run";
  ASSERT_EQ(train_tiny_run(dir.path / "data", run).status, 0);
  const std::string cmd = "cd " + hrm::testing::shell_quote(run.string()) + " && " +
                          hrm::testing::shell_quote(HRM_BINARY) + " --threads 1 eval checkpoint=step_8 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_TRUE(fs::exists(run / "step_8_all_preds.0"));
}

// Ctrl-C during a long evaluation: abandoned after the segment in progress (on the CPU), exit 130
// naming how far it got, and nothing written (no outputs file that arc-score or report would take
// for the whole test split).
TEST(CmdEval, SigintStopsAfterTheSegmentInProgressAndWritesNothing) {
  TempDir dir("cmd_eval_sigint");
  testing::write_tiny_dataset(dir.path / "data");
  // The same training split (drawn first from the same seed) with 8000 test examples: 500 batches.
  testing::write_tiny_dataset(dir.path / "long", 32, 8000);
  const fs::path run = dir.path / "run";
  ASSERT_EQ(train_tiny_run(dir.path / "data", run).status, 0);
  const fs::path out_dir = dir.path / "eval_out";
  fs::create_directories(out_dir);
  const std::string log = (dir.path / "eval.log").string();
  const pid_t pid = hrm::testing::spawn_hrm({"eval", "checkpoint=" + (run / "step_8").string(),
                                             "data_path=" + (dir.path / "long").string(), "save_dir=" + out_dir.string()},
                                            log);
  ASSERT_GT(pid, 0);
  const auto stopped = hrm::testing::signal_when(pid, log, SIGINT, [&] {
    return hrm::testing::log_so_far(log).find("Starting evaluation") != std::string::npos;
  });
  const std::string& out = stopped.output;
  if (fs::exists(out_dir / "step_8_all_preds.0")) GTEST_SKIP() << "the evaluation finished before the signal arrived\n" << out;
  EXPECT_EQ(stopped.status, 130) << out;
  EXPECT_NE(out.find("stopping the evaluation after this segment; it writes nothing"), std::string::npos) << out;
  EXPECT_NE(out.find(" of 500 test batches (SIGINT); an evaluation writes its metrics and outputs only when complete"),
            std::string::npos) << out;
  EXPECT_EQ(out.find("all: accuracy"), std::string::npos) << out;
  EXPECT_TRUE(fs::is_empty(out_dir)) << out;  // no outputs, no temporaries
}

}  // namespace
}  // namespace hrm::train
