// test_cmd_solve.cpp: tests of `hrm solve` (src/cli/cmd_solve.cpp, src/answer/solve.cpp) through
// the built binary with tiny checkpoints trained on the fixtures: a Sudoku string and file, a maze
// text file, ARC tasks known and unknown to the dataset, rows of token ids of a task of one's own,
// both halting rules, the JSON output, and the errors for a checkpoint of another puzzle kind or one
// whose dataset is gone.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include "cli/answer_runs.h"
#include "core/atomic_file.h"
#include "data/build_sudoku.h"
#include "data/maze.h"

namespace hrm::testing {
namespace {

using nlohmann::json;
using train::testing::TempDir;

json read_json(const fs::path& p) { return json::parse(read_file(p.string())); }

std::string first_sudoku(int i = 0) {
  const auto puzzles = data::read_sudoku_file((fixture_dataset("sudoku-small") / "input/test.csv").string());
  return sudoku::to_string(puzzles.at(static_cast<size_t>(i)).puzzle, '.');
}

TEST(CmdSolve, SudokuStringGivesTheGridStepsAndConfidence) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_sudoku");
  const std::string puzzle = first_sudoku();
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), puzzle, "--json", (dir.path / "a.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("puzzle 1: 2 steps of 2, confidence "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("------+-------+------"), std::string::npos) << r.output;
  const json j = read_json(dir.path / "a.json");
  EXPECT_EQ(j["kind"], "sudoku");
  EXPECT_EQ(j["halting"], "max");
  EXPECT_EQ(j["halt_max_steps"], 2);
  ASSERT_EQ(j["puzzles"].size(), 1u);
  const json& p = j["puzzles"][0];
  EXPECT_EQ(p["puzzle"], puzzle);
  EXPECT_EQ(p["answer"].get<std::string>().size(), 81u);
  EXPECT_EQ(p["steps"], 2);
  const double c = p["confidence"].get<double>();
  EXPECT_GT(c, 0.0);
  EXPECT_LT(c, 1.0);
  EXPECT_NEAR(c, 1 / (1 + std::exp(-p["q_halt_logit"].get<double>())), 1e-9);
  EXPECT_TRUE(p["valid"].is_boolean());
}

// cuda_graphs=true replays the segments from a CUDA graph (train/eval_graph.h): the same answer as the
// eager loop on a GPU; on the CPU a clear error naming the key.
TEST(CmdSolve, CudaGraphsGiveTheEagerAnswerOrNeedCuda) {
  const AnswerRun& run = answer_run("sudoku-small");
  const std::string puzzle = first_sudoku();
  const auto cpu = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), puzzle, "--set", "cuda_graphs=true"});
  EXPECT_NE(cpu.status, 0);
  EXPECT_NE(cpu.output.find("cuda_graphs' = true needs a GPU"), std::string::npos) << cpu.output;
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<std::string> args{"solve", "--checkpoint", run.checkpoint.string(), puzzle, "--halt", "q", "--device", "cuda",
                                "--json", "-"};
  const auto eager = run_hrm(args);
  args.insert(args.end(), {"--set", "cuda_graphs=true"});
  const auto graphed = run_hrm(args);
  ASSERT_EQ(eager.status, 0) << eager.output;
  ASSERT_EQ(graphed.status, 0) << graphed.output;
  const json a = json::parse(eager.output.substr(eager.output.rfind("\n{") + 1));
  const json b = json::parse(graphed.output.substr(graphed.output.rfind("\n{") + 1));
  EXPECT_EQ(a["puzzles"][0]["answer"], b["puzzles"][0]["answer"]);
  EXPECT_EQ(a["puzzles"][0]["steps"], b["puzzles"][0]["steps"]);
  EXPECT_NEAR(a["puzzles"][0]["q_halt_logit"].get<double>(), b["puzzles"][0]["q_halt_logit"].get<double>(), 1e-4);
}

TEST(CmdSolve, SudokuFileWithQHaltingReportsTheStepsUsed) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_sudoku_file");
  // The second line carries a comment after its cells, as collections write counts and ratings.
  write_file_atomic((dir.path / "p.txt").string(), "# two puzzles\n" + first_sudoku(0) + "\n\n" + first_sudoku(1) + ":1 rated\n");
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), (dir.path / "p.txt").string(), "--halt", "q",
                          "--json", "-"});
  ASSERT_EQ(r.status, 0) << r.output;
  const json j = json::parse(r.output.substr(r.output.rfind("\n{") + 1));
  EXPECT_EQ(j["halting"], "q");
  ASSERT_EQ(j["puzzles"].size(), 2u);
  EXPECT_EQ(j["puzzles"][1]["puzzle"], first_sudoku(1));
  for (const json& p : j["puzzles"]) {
    const int steps = p["steps"].get<int>();
    EXPECT_GE(steps, 1);
    EXPECT_LE(steps, 2);
    // Halting on Q: it stopped at step 1 exactly when q_halt > q_continue there (else it ran to 2).
    if (steps == 1) EXPECT_GT(p["q_halt_logit"].get<double>(), p["q_continue_logit"].get<double>());
  }
}

TEST(CmdSolve, MazeTextGivesTheMazeWithThePathDrawn) {
  const AnswerRun& run = answer_run("maze-small");
  TempDir dir("solve_maze");
  const auto rec = data::maze::read_maze_csv((fixture_dataset("maze-small") / "input/test.csv").string()).at(0);
  std::string text;
  for (size_t r = 0; r < 30; ++r) text += rec.question.substr(r * 30, 30) + "\n";
  write_file_atomic((dir.path / "maze.txt").string(), text);
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), (dir.path / "maze.txt").string(), "--json",
                          (dir.path / "a.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 steps of 2, confidence "), std::string::npos) << r.output;
  const json j = read_json(dir.path / "a.json");
  EXPECT_EQ(j["kind"], "maze");
  const json& p = j["puzzles"][0];
  EXPECT_EQ(p["maze"], rec.question);
  const std::string answer = p["answer"];
  ASSERT_EQ(answer.size(), 900u);
  // The drawing printed is the answer, 30 lines of 30.
  std::string drawn;
  for (size_t i = 0; i < 30; ++i) drawn += answer.substr(i * 30, 30) + "\n";
  EXPECT_NE(r.output.find(drawn), std::string::npos) << r.output;
  EXPECT_EQ(p["valid"].get<bool>(), p["problem"].get<std::string>().empty());
}

// A maze file whose rows all start with '#' (a wall column) is a maze, not a Sudoku file of comments.
TEST(CmdSolve, MazeWhoseRowsStartWithAWallIsDetectedAsAMaze) {
  const AnswerRun& run = answer_run("maze-small");
  TempDir dir("solve_maze_wall");
  auto rec = data::maze::read_maze_csv((fixture_dataset("maze-small") / "input/test.csv").string()).at(0);
  std::string text;
  for (size_t r = 0; r < 30; ++r) {
    std::string row = rec.question.substr(r * 30, 30);
    if (row[0] != 'S' && row[0] != 'G') row[0] = '#';
    text += row + "\n";
  }
  write_file_atomic((dir.path / "maze.txt").string(), text);
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), (dir.path / "maze.txt").string(), "--json", "-"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json::parse(r.output.substr(r.output.rfind("\n{") + 1))["kind"], "maze");
}

TEST(CmdSolve, SudokuWithSpacesAroundItIsReadAndABadCharacterIsNamed) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_sudoku_spaces");
  write_file_atomic((dir.path / "p.txt").string(), "  # an indented comment\n  " + first_sudoku(0) + " \t\n");
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), (dir.path / "p.txt").string()});
  EXPECT_EQ(r.status, 0) << r.output;
  std::string bad = first_sudoku(0);
  bad[40] = 'x';
  const auto b = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), bad});
  EXPECT_NE(b.status, 0);
  EXPECT_NE(b.output.find("a 9x9 Sudoku of 81 characters, but character 41 is 'x'"), std::string::npos) << b.output;
}

// A Sudoku file whose first puzzle line is mistyped is still read as Sudoku (it was taken for a
// maze, whose parser then spoke of a "2-line maze"): the Sudoku parser names the line.
TEST(CmdSolve, SudokuFileWithAMistypedFirstLineNamesThatLine) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_sudoku_first_line");
  const fs::path file = dir.path / "p.txt";
  write_file_atomic(file.string(), first_sudoku(0).substr(1) + "\n" + first_sudoku(1) + "\n");
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), file.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find(file.string() + ":1: expected 81 cells, got 80 characters"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("maze"), std::string::npos) << r.output;
}

// JSON is UTF-8: a checkpoint path that is not (a Latin-1 folder name) is written with U+FFFD in its
// place, instead of failing after the solve with nothing written.
TEST(CmdSolve, JsonIsWrittenForACheckpointPathThatIsNotUtf8) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_latin1");
  const fs::path folder = dir.path / "run\xe9";
  fs::create_directory_symlink(run.checkpoint.parent_path(), folder);
  const auto r = run_hrm({"solve", "--checkpoint", (folder / run.checkpoint.filename()).string(), first_sudoku(0), "--json",
                          (dir.path / "a.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const json j = read_json(dir.path / "a.json");
  EXPECT_NE(j["checkpoint"].get<std::string>().find("run\xef\xbf\xbd"), std::string::npos) << j["checkpoint"];
}

// --json never replaces a file that is not a JSON of answers (a mistyped path could name the checkpoint).
TEST(CmdSolve, JsonOutputRefusesToReplaceAnotherKindOfFile) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_json_clobber");
  const fs::path ckpt = dir.path / "step_copy";
  fs::copy_file(run.checkpoint, ckpt);
  fs::copy_file(run.dir / "all_config.yaml", dir.path / "all_config.yaml");
  const std::string before = read_file(ckpt.string());
  const auto r = run_hrm({"solve", "--checkpoint", ckpt.string(), first_sudoku(), "--json", ckpt.string()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("exists and is not a JSON file of hrm solve's answers"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(ckpt.string()), before);
  // A run's metrics.jsonl and another program's JSON object are JSON too, and not answers.
  for (const std::string other : {std::string("{\"train/lr\": 0.001, \"step\": 1}\n{\"train/lr\": 0.001, \"step\": 2}\n"),
                                  std::string("{\"a\": 1}\n")}) {
    const std::string path = (dir.path / "metrics.jsonl").string();
    write_file_atomic(path, other);
    const auto again = run_hrm({"solve", "--checkpoint", ckpt.string(), first_sudoku(), "--json", path});
    EXPECT_NE(again.status, 0) << again.output;
    EXPECT_EQ(read_file(path), other);
  }
  // An earlier answers file is replaced.
  const std::string out = (dir.path / "a.json").string();
  ASSERT_EQ(run_hrm({"solve", "--checkpoint", ckpt.string(), first_sudoku(), "--json", out}).status, 0);
  EXPECT_EQ(run_hrm({"solve", "--checkpoint", ckpt.string(), first_sudoku(1), "--json", out}).status, 0);
}

// A copy of the sudoku-small run's checkpoint in `dir`, its all_config.yaml with `key: value` instead.
fs::path run_copy_with(const TempDir& dir, const std::string& key, const std::string& value) {
  const AnswerRun& run = answer_run("sudoku-small");
  const fs::path ckpt = dir.path / "step_copy";
  fs::copy_file(run.checkpoint, ckpt);
  std::string cfg = read_file((run.dir / "all_config.yaml").string());
  const size_t at = cfg.find("\n" + key + ": ");
  EXPECT_NE(at, std::string::npos) << cfg;
  if (at != std::string::npos) cfg.replace(at + 1, cfg.find('\n', at + 1) - at - 1, key + ": " + value);
  write_file_atomic((dir.path / "all_config.yaml").string(), cfg);
  return ckpt;
}

// solve runs 64 rows at a time: the memory check before it builds the model counts those, not the
// training run's global_batch_size (a run trained at a batch this machine cannot hold still solves here).
TEST(CmdSolve, ModelIsSizedForItsOwnRowsNotTheTrainingBatch) {
  TempDir dir("solve_batch");
  const fs::path ckpt = run_copy_with(dir, "global_batch_size", "600000000");
  const auto r = run_hrm({"solve", "--checkpoint", ckpt.string(), first_sudoku(), "--json", "-"});
  EXPECT_EQ(r.status, 0) << r.output;
}

// A run trained with cuda_graphs=true on a GPU still solves on the CPU, solve's default device.
TEST(CmdSolve, TheRunsCudaGraphsSettingDoesNotFollowItToTheCpu) {
  TempDir dir("solve_graphs");
  const fs::path ckpt = run_copy_with(dir, "cuda_graphs", "true");
  const auto r = run_hrm({"solve", "--checkpoint", ckpt.string(), first_sudoku(), "--json", "-"});
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(CmdSolve, ArcTaskOfTheDatasetIsVotedOverItsTrainedAugmentations) {
  const AnswerRun& run = answer_run("arc-small");
  TempDir dir("solve_arc");
  const std::string task = std::string(HRM_SHARED_DIR) + "/data/arc/ARC-AGI-1/evaluation/31d5ba1a.json";
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), task, "--json", (dir.path / "a.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const json j = read_json(dir.path / "a.json");
  EXPECT_EQ(j["kind"], "arc");
  EXPECT_EQ(j["task_id"], "31d5ba1a");
  EXPECT_TRUE(j["known_task"].get<bool>());
  EXPECT_EQ(j["runs"], 5);  // the original and its 4 augmentations in arc-small
  ASSERT_EQ(j["tests"].size(), 2u);
  for (const json& t : j["tests"]) {
    EXPECT_TRUE(t["attempt_1"].is_array());
    EXPECT_TRUE(t["attempt_2"].is_array());
    EXPECT_TRUE(t["correct"].is_boolean());  // the task file has the test outputs
    int64_t votes = 0;
    for (const json& c : t["candidates"]) votes += c["votes"].get<int64_t>();
    EXPECT_LE(votes, 5);
  }
  ASSERT_EQ(j["submission"]["31d5ba1a"].size(), 2u);
  // The submission entry holds the same answers, an empty crop ([] in "tests") as [[0]], as arc-score writes it.
  for (size_t t = 0; t < 2; ++t)
    for (const char* a : {"attempt_1", "attempt_2"}) {
      const json& answer = j["tests"][t][a];
      EXPECT_EQ(j["submission"]["31d5ba1a"][t][a], answer.empty() ? json::parse("[[0]]") : answer) << t << " " << a;
    }
  EXPECT_NE(r.output.find("attempt_2"), std::string::npos);
}

TEST(CmdSolve, UnknownArcTaskUsesTheBlankIdentifierAndDrawnAugmentations) {
  const AnswerRun& run = answer_run("arc-small");
  TempDir dir("solve_arc_new");
  write_file_atomic((dir.path / "mine.json").string(),
                    R"({"train": [{"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}],
                        "test": [{"input": [[5, 6, 7]]}]})");
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), (dir.path / "mine.json").string(), "--num-aug",
                          "3", "--json", (dir.path / "a.json").string()});
  ASSERT_EQ(r.status, 0) << r.output;
  const json j = read_json(dir.path / "a.json");
  EXPECT_FALSE(j["known_task"].get<bool>());
  EXPECT_EQ(j["runs"], 4);
  ASSERT_EQ(j["tests"].size(), 1u);
  EXPECT_FALSE(j["tests"][0].contains("correct"));  // no test output given
  EXPECT_NE(r.output.find("unknown task: the blank identifier"), std::string::npos) << r.output;
}

TEST(CmdSolve, JsonToStdoutLeavesStdoutPureJson) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_json_stdout");
  const std::string cmd = shell_quote(HRM_BINARY) + " --threads 1 solve --checkpoint " + shell_quote(run.checkpoint.string()) +
                          " " + first_sudoku() + " --json - >" + shell_quote((dir.path / "out.json").string()) + " 2>" +
                          shell_quote((dir.path / "err.txt").string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file((dir.path / "err.txt").string());
  const json j = read_json(dir.path / "out.json");  // the whole of stdout parses
  EXPECT_EQ(j["puzzles"].size(), 1u);
  EXPECT_NE(read_file((dir.path / "err.txt").string()).find("puzzle 1: "), std::string::npos);  // the readable answer
}

TEST(CmdSolve, CheckpointOfAnotherPuzzleKindIsAClearError) {
  const AnswerRun& run = answer_run("maze-small");
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), first_sudoku()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("was trained on seq_len 900 and vocab 6 (maze); this Sudoku needs seq_len 81 and vocab 11"),
            std::string::npos)
      << r.output;
}

TEST(CmdSolve, SmallSudokuOnANineByNineCheckpointIsAClearError) {
  const AnswerRun& run = answer_run("sudoku-small");
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), "1.3.3.1...4.2..."});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("was trained on seq_len 81 and vocab 11 (sudoku); this 4x4 Sudoku needs seq_len 16 and vocab 6"),
            std::string::npos)
      << r.output;
  // Mixed sizes in one file: the line is named.
  TempDir dir("solve_mixed");
  write_file_atomic((dir.path / "p.txt").string(), "1.3.3.1...4.2...\n" + first_sudoku() + "\n");
  const auto m = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), (dir.path / "p.txt").string()});
  EXPECT_NE(m.status, 0);
  EXPECT_NE(m.output.find("p.txt:2: expected a 4x4 Sudoku like the first one"), std::string::npos) << m.output;
}

TEST(CmdSolve, RotaryCheckpointWithoutItsDatasetAsksForIt) {
  const AnswerRun& run = answer_run("sudoku-small");
  TempDir dir("solve_nodata");
  const auto r = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), first_sudoku(), "--data", (dir.path / "gone").string()});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("pass --data DIR"), std::string::npos) << r.output;
  const auto bad = run_hrm({"solve", "--checkpoint", run.checkpoint.string(), "123"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("neither a file nor a Sudoku of 81, 36 or 16 characters"), std::string::npos) << bad.output;
}

// A task of one's own (docs/DATASETS.md; here the tests' tiny task, seq_len 8, vocab 6): rows of token
// ids in, the model's tokens out; after '|', an expected answer (-100: not compared) is scored.
TEST(CmdSolve, TokenRowsOfATaskOfOnesOwnAreAnsweredAndScoredAgainstTheExpectedAnswer) {
  TempDir dir("solve_tokens");
  train::testing::write_tiny_dataset(dir.path / "data");
  std::vector<std::string> args{"train"};
  for (const auto& o : train::testing::tiny_overrides(dir.path / "data", dir.path / "run")) args.push_back(o);
  const auto trained = run_hrm(args);
  ASSERT_EQ(trained.status, 0) << trained.output;
  const std::string ckpt = last_checkpoint(dir.path / "run").string();

  const auto one = run_hrm({"solve", "--checkpoint", ckpt, "2 3 4 5 2 3 4 5", "--json", (dir.path / "a.json").string()});
  ASSERT_EQ(one.status, 0) << one.output;
  EXPECT_NE(one.output.find("row 1: "), std::string::npos) << one.output;
  EXPECT_NE(one.output.find("  input:  2 3 4 5 2 3 4 5\n  answer: "), std::string::npos) << one.output;
  const json j = read_json(dir.path / "a.json");
  EXPECT_EQ(j["kind"], "tokens");
  ASSERT_EQ(j["puzzles"].size(), 1u);
  EXPECT_EQ(j["puzzles"][0]["input"], json({2, 3, 4, 5, 2, 3, 4, 5}));
  ASSERT_EQ(j["puzzles"][0]["answer"].size(), 8u);
  for (int t : j["puzzles"][0]["answer"].get<std::vector<int>>()) EXPECT_TRUE(t >= 0 && t < 6) << t;
  EXPECT_FALSE(j["puzzles"][0].contains("right"));

  // A file of two rows; then the same rows with the answers just given as expected (one position not
  // compared), the second one token off. Both runs batch the two rows alike, so they answer alike.
  write_file_atomic((dir.path / "plain.txt").string(), "2 3 4 5 2 3 4 5\n2,3,4,5,2,3,4,5\n");
  const auto plain = run_hrm({"solve", "--checkpoint", ckpt, (dir.path / "plain.txt").string(), "--json", (dir.path / "p.json").string()});
  ASSERT_EQ(plain.status, 0) << plain.output;
  const json p = read_json(dir.path / "p.json");
  ASSERT_EQ(p["puzzles"].size(), 2u);
  const std::vector<int> a0 = p["puzzles"][0]["answer"].get<std::vector<int>>(), a1 = p["puzzles"][1]["answer"].get<std::vector<int>>();
  std::string same, off;
  for (size_t k = 0; k < a0.size(); ++k) {
    same += (k ? " " : "") + (k == 3 ? std::string("-100") : std::to_string(a0[k]));
    off += (k ? "," : "") + std::to_string(k == 0 ? (a1[k] + 1) % 6 : a1[k]);
  }
  write_file_atomic((dir.path / "rows.txt").string(),
                    "# rows of my task\n2 3 4 5 2 3 4 5 | " + same + "\n\n2,3,4,5,2,3,4,5|" + off + "\n");
  const auto two = run_hrm({"solve", "--checkpoint", ckpt, (dir.path / "rows.txt").string(), "--json", (dir.path / "b.json").string()});
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_NE(two.output.find(", right\n"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find(", WRONG (1 of 8 tokens differ)"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("1 of 2 rows right"), std::string::npos) << two.output;
  const json b = read_json(dir.path / "b.json");
  ASSERT_EQ(b["puzzles"].size(), 2u);
  EXPECT_EQ(b["puzzles"][0]["right"], true);
  EXPECT_EQ(b["puzzles"][1]["right"], false);
  EXPECT_EQ(b["puzzles"][0]["expected"][3], -100);

  // Bad rows name the place, the token and what was expected.
  const auto shorter = run_hrm({"solve", "--checkpoint", ckpt, "2 3 4"});
  EXPECT_EQ(shorter.status, 2);
  EXPECT_NE(shorter.output.find("puzzle: the row has 3 tokens; the checkpoint reads rows of seq_len 8"), std::string::npos)
      << shorter.output;
  const auto outside = run_hrm({"solve", "--checkpoint", ckpt, "2 3 4 5 2 3 4 9"});
  EXPECT_EQ(outside.status, 2);
  EXPECT_NE(outside.output.find("puzzle: token 8 of the row is 9, outside the vocabulary 0..5"), std::string::npos)
      << outside.output;
  write_file_atomic((dir.path / "bad.txt").string(), "2 3 4 5 2 3 4 5\n2 3 4 5 2 3 4 5 | 2 x\n");
  const auto word = run_hrm({"solve", "--checkpoint", ckpt, (dir.path / "bad.txt").string()});
  EXPECT_EQ(word.status, 2);
  EXPECT_NE(word.output.find("bad.txt:2: token 2 of the expected answer is 'x', expected an integer token id 0..5"),
            std::string::npos)
      << word.output;
  const auto typo = run_hrm({"solve", "--checkpoint", ckpt, (dir.path / "rows.tx").string()});
  EXPECT_EQ(typo.status, 2);
  EXPECT_NE(typo.output.find("rows.tx': no such file, and not a row of token ids"), std::string::npos) << typo.output;
}

}  // namespace
}  // namespace hrm::testing
