// answer_runs.h: tiny models trained once per test process by `hrm train` on the reference-built
// fixtures of shared/ (sudoku-small, maze-small, arc-small), for the tests of `hrm solve`,
// `hrm arc-score` and `hrm report`. The tests check mechanics (shapes, steps, JSON fields,
// errors), not accuracy. Each run saves its evaluation outputs.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "cli/cli_run.h"
#include "test_paths.h"
#include "train/tiny_task.h"

namespace hrm::testing {

namespace fs = std::filesystem;

inline fs::path fixture_dataset(const std::string& name) { return fs::path(HRM_SHARED_DIR) / "fixtures/datasets" / name; }

struct AnswerRun {
  fs::path dir, checkpoint;
};

// The run trained on fixture `dataset` (trained on first use; its directory lives until exit).
inline const AnswerRun& answer_run(const std::string& dataset) {
  static train::testing::TempDir root("answer_runs");
  static std::map<std::string, AnswerRun> runs;
  auto it = runs.find(dataset);
  if (it != runs.end()) return it->second;
  AnswerRun r;
  r.dir = root.path / dataset;
  std::vector<std::string> args{"train"};
  for (const auto& o : train::testing::tiny_overrides(fixture_dataset(dataset), r.dir)) args.push_back(o);
  // One train/eval iteration of 2 epochs: maze-small (6 mazes) fills one batch of 8.
  for (const char* o : {"global_batch_size=8", "epochs=2", "eval_interval=2",
                        "eval_save_outputs=[inputs,labels,puzzle_identifiers,logits,q_halt_logits,q_continue_logits]"})
    args.push_back(o);
  const RunResult trained = run_hrm(args);
  EXPECT_EQ(trained.status, 0) << trained.output;
  r.checkpoint = last_checkpoint(r.dir);
  EXPECT_FALSE(r.checkpoint.empty()) << "no step_N in " << r.dir << "\n" << trained.output;
  return runs.emplace(dataset, r).first->second;
}

}  // namespace hrm::testing
