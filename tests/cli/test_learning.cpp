// test_learning.cpp: the learning test, end to end through the built binary as a user runs it:
// `hrm data sudoku --size 4` makes 4x4 Sudoku whose test solution grids never occur in training,
// `hrm train` trains a tiny HRM on the CPU, and `hrm eval` of the last checkpoint must solve at
// least 95% of the held-out puzzles exactly; `hrm solve` of held-out puzzles then answers them.
// The config is scripts/demo.sh's with 6 blanks instead of 10 and 60 epochs instead of 150:
// measured 99.0% exact after 937 steps, 1 min 47 s on one thread of a 2-core machine (PERF.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/cli_run.h"
#include "train/tiny_task.h"

namespace hrm::train {
namespace {

namespace fs = std::filesystem;
using hrm::testing::run_hrm;
using testing::TempDir;

// The printed JSON line of `hrm eval`'s metrics.
nlohmann::json eval_metrics(const std::string& output) {
  nlohmann::json m;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("{\"all\"", 0) == 0) m = nlohmann::json::parse(line);
  return m;
}

TEST(Learning, TinyHrmSolvesHeldOut4x4SudokuAfterAFewCpuMinutes) {
  TempDir dir("learning");
  const fs::path data = dir.path / "data", run = dir.path / "run";
  const auto built = run_hrm({"data", "sudoku", data.string(), "--size", "4", "--blanks", "6", "--train-size", "2000",
                              "--test-size", "200", "--seed", "0"});
  ASSERT_EQ(built.status, 0) << built.output;
  std::vector<std::string> args{"train", "data_path=" + data.string(), "checkpoint_path=" + run.string()};
  for (const char* o : {"epochs=60", "eval_interval=60", "global_batch_size=128", "lr=3e-3", "lr_min_ratio=0.1",
                        "lr_warmup_steps=50", "arch.hidden_size=64", "arch.num_heads=4", "arch.H_layers=1",
                        "arch.L_layers=1", "arch.halt_max_steps=4", "arch.puzzle_emb_ndim=0", "arch.pos_encodings=learned",
                        "arch.forward_dtype=float32"})
    args.push_back(o);
  const auto trained = run_hrm(args);
  ASSERT_EQ(trained.status, 0) << trained.output;

  const fs::path last = hrm::testing::last_checkpoint(run);
  ASSERT_FALSE(last.empty()) << trained.output;
  const auto evaluated = run_hrm({"eval", "checkpoint=" + last.string()});
  ASSERT_EQ(evaluated.status, 0) << evaluated.output;
  const nlohmann::json m = eval_metrics(evaluated.output);
  ASSERT_TRUE(m.contains("all")) << evaluated.output;
  const double exact = m["all"]["exact_accuracy"].get<double>();
  std::cout << "[ learning ] held-out exact accuracy " << exact << " at " << last.filename() << "\n";
  EXPECT_GE(exact, 0.95) << evaluated.output;

  // The same model through `hrm solve`: the first 20 held-out questions, as a user would paste them.
  std::ifstream csv(data / "input/test.csv");
  std::string line, puzzles;
  std::getline(csv, line);  // source,question,answer,rating
  for (int i = 0; i < 20 && std::getline(csv, line); ++i) {
    const size_t a = line.find(',') + 1, b = line.find(',', a);
    puzzles += line.substr(a, b - a) + "\n";
  }
  std::ofstream(dir.path / "puzzles.txt") << puzzles;
  const auto solved = run_hrm({"solve", "--checkpoint", last.string(), (dir.path / "puzzles.txt").string()});
  ASSERT_EQ(solved.status, 0) << solved.output;
  int valid = 0;
  for (size_t p = 0; (p = solved.output.find(", a valid solution", p)) != std::string::npos; ++p) ++valid;
  EXPECT_GE(valid, 18) << solved.output;
}

}  // namespace
}  // namespace hrm::train
