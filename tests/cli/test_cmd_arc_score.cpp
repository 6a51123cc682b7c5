// test_cmd_arc_score.cpp: tests of `hrm arc-score` (src/cli/cmd_arc_score.cpp) through the built
// binary: hand-made predictions on the reference-built arc-small test split whose pass@k values are
// known, the outputs of a real (tiny) evaluation with the dataset taken from the run's config, and
// the submission.json written.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/answer_runs.h"
#include "core/atomic_file.h"
#include "data/arc.h"
#include "data/dataset.h"
#include "io/torch_file.h"

namespace hrm::testing {
namespace {

using nlohmann::json;
using train::testing::TempDir;

// Predictions for arc-small's test split (15 rows, padded to 16): every answer its label, except
// that `wrong_votes` augmented copies of 31d5ba1a's first test input answer [[7]] instead (in the
// original colours and orientation, augmented as the model would see them).
io::StateDict predictions(int wrong_votes) {
  const fs::path dir = fixture_dataset("arc-small");
  const data::Dataset ds = data::Dataset::open(dir, "test");
  const data::DatasetSet& set = ds.set("all");
  const auto ids = data::read_identifiers(dir);
  const int64_t rows = 16, L = arc::kSeqLen;
  torch::Tensor preds = torch::zeros({rows, L}, torch::kInt32), pid = torch::zeros({rows}, torch::kInt32);
  torch::Tensor q = torch::zeros({rows}, torch::kFloat32), inputs = torch::zeros({rows, L}, torch::kInt32);
  arc::Grid wrong(1, 1);
  wrong.at(0, 0) = 7;
  for (int64_t p = 0; p < set.puzzles(); ++p) {
    const arc::PuzzleName name = arc::parse_puzzle_name(ids.at(set.puzzle_identifiers[p]));
    for (int64_t e = set.puzzle_indices[p]; e < set.puzzle_indices[p + 1]; ++e) {
      set.label_row(e, preds.data_ptr<int32_t>() + e * L);
      set.input_row(e, inputs.data_ptr<int32_t>() + e * L);
      pid.data_ptr<int32_t>()[e] = set.puzzle_identifiers[p];
      if (name.task_id == "31d5ba1a" && name.augmented && e == set.puzzle_indices[p] && wrong_votes > 0) {
        --wrong_votes;
        std::vector<uint8_t> t(L);
        arc::encode_grid(arc::apply(wrong, name.aug), 0, 0, t.data());
        std::copy(t.begin(), t.end(), preds.data_ptr<int32_t>() + e * L);
      }
    }
  }
  return {{"preds", preds}, {"puzzle_identifiers", pid}, {"q_halt_logits", q}, {"inputs", inputs}};
}

// As one process saves them (row i = test example i), without the inputs.
void write_predictions(const fs::path& path, int wrong_votes) {
  io::StateDict sd = predictions(wrong_votes);
  sd.pop_back();
  io::save_torch_file(path.string(), sd);
}

TEST(CmdArcScore, HandMadePredictionsGiveTheirKnownPassAtK) {
  TempDir dir("arc_score");
  const std::string data = fixture_dataset("arc-small").string();
  write_predictions(dir.path / "right.pt", 0);
  auto r = run_hrm({"arc-score", (dir.path / "right.pt").string(), "--data", data, "--out", (dir.path / "s1.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 tasks, 15 test rows\npass@1 100.00% (2/2)\npass@2 100.00% (2/2)\n"), std::string::npos) << r.output;

  // 4 of 31d5ba1a's 5 votes on its first test input say [[7]]: it is right only from pass@2 on.
  write_predictions(dir.path / "wrong.pt", 4);
  r = run_hrm({"arc-score", (dir.path / "wrong.pt").string(), "--data", data, "--out", (dir.path / "s2.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("pass@1 50.00% (1/2)\npass@2 100.00% (2/2)\npass@10 100.00% (2/2)\npass@100 100.00% (2/2)\n"
                          "pass@1000 100.00% (2/2)\n"),
            std::string::npos)
      << r.output;
  const json s = json::parse(read_file((dir.path / "s2.json").string()));
  ASSERT_EQ(s.size(), 2u);
  ASSERT_EQ(s["31d5ba1a"].size(), 2u);
  EXPECT_EQ(s["31d5ba1a"][0]["attempt_1"], json::parse("[[7]]"));
  const arc::Task task = arc::load_task(std::string(HRM_SHARED_DIR) + "/data/arc/ARC-AGI-1/evaluation/31d5ba1a.json");
  json label = json::array();
  for (int rr = 0; rr < task.test[0].output.rows; ++rr) {
    json row = json::array();
    for (int c = 0; c < task.test[0].output.cols; ++c) row.push_back(int(task.test[0].output.at(rr, c)));
    label.push_back(row);
  }
  EXPECT_EQ(s["31d5ba1a"][0]["attempt_2"], label);
}

TEST(CmdArcScore, FilesOfEveryRankOfADataParallelEvaluationAreScoredTogether) {
  TempDir dir("arc_score_ranks");
  const std::string data = fixture_dataset("arc-small").string();
  write_predictions(dir.path / "one.pt", 4);
  const auto one = run_hrm({"arc-score", (dir.path / "one.pt").string(), "--data", data, "--out", (dir.path / "one.json").string()});
  ASSERT_EQ(one.status, 0) << one.output;
  // Two ranks at a global batch of 8: rank r saved rows [4r, 4r + 4) of each batch (16 rows in 2 batches).
  const io::StateDict all = predictions(4);
  for (int rank = 0; rank < 2; ++rank) {
    io::StateDict mine;
    for (const auto& [k, v] : all) mine.emplace_back(k, torch::cat({v.narrow(0, 4 * rank, 4), v.narrow(0, 8 + 4 * rank, 4)}));
    io::save_torch_file((dir.path / ("step_5_all_preds." + std::to_string(rank))).string(), mine);
  }
  const auto two = run_hrm({"arc-score", (dir.path / "step_5_all_preds.0").string(), "--data", data, "--out",
                            (dir.path / "two.json").string()});
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_NE(two.output.find("outputs of 2 ranks"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("2 tasks, 15 test rows\npass@1 50.00% (1/2)\npass@2 100.00% (2/2)\n"), std::string::npos) << two.output;
  EXPECT_EQ(read_file((dir.path / "two.json").string()), read_file((dir.path / "one.json").string()));

  // Without rank 1's file a test example has no row, and the error says which.
  fs::remove(dir.path / "step_5_all_preds.1");
  const auto half = run_hrm({"arc-score", (dir.path / "step_5_all_preds.0").string(), "--data", data});
  EXPECT_NE(half.status, 0);
  EXPECT_NE(half.output.find("predictions: no row answers test example 4 ("), std::string::npos) << half.output;
}

TEST(CmdArcScore, ScoresARealEvaluationWithTheRunsDataset) {
  const AnswerRun& run = answer_run("arc-small");
  TempDir dir("arc_score_run");
  std::string outputs;
  for (const auto& e : fs::directory_iterator(run.dir))
    if (e.path().filename().string().find("_all_preds.0") != std::string::npos) outputs = e.path().string();
  ASSERT_FALSE(outputs.empty());
  const auto r = run_hrm({"arc-score", outputs, "--out", (dir.path / "submission.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* k : {"pass@1 ", "pass@2 ", "pass@10 ", "pass@100 ", "pass@1000 "})
    EXPECT_NE(r.output.find(k), std::string::npos) << k << "\n" << r.output;
  const json s = json::parse(read_file((dir.path / "submission.json").string()));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s["20818e16"].size(), 1u);
  EXPECT_EQ(s["31d5ba1a"].size(), 2u);
  EXPECT_TRUE(s["31d5ba1a"][0].contains("attempt_1") && s["31d5ba1a"][0].contains("attempt_2"));
}

TEST(CmdArcScore, WithoutDataOrARunConfigItAsksForData) {
  TempDir dir("arc_score_nodata");
  write_predictions(dir.path / "p.pt", 0);
  const auto r = run_hrm({"arc-score", (dir.path / "p.pt").string()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--data DIR is required"), std::string::npos) << r.output;
  const auto missing = run_hrm({"arc-score", (dir.path / "q.pt").string()});  // was "--data DIR is required" too
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.output.find((dir.path / "q.pt").string() + " does not exist"), std::string::npos) << missing.output;
}

TEST(CmdArcScore, ADatasetOfAnotherKindIsNamedAsNotARC) {
  TempDir dir("arc_score_maze");
  write_predictions(dir.path / "p.pt", 0);
  const auto r = run_hrm({"arc-score", (dir.path / "p.pt").string(), "--data", fixture_dataset("maze-small").string()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("vocab_size 6 are not ARC's 900 and 12: not an ARC dataset"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hrm::testing
