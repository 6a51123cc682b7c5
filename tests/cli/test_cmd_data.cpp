// test_cmd_data.cpp: `hrm data ...` through the built binary, which links libtorch (where
// std::filesystem::remove_all crashes, so the dataset writer must not use it): a rebuild replaces
// a dataset in place, a bad input names its file and line and leaves the old dataset and no
// temporary, and a killed build's temporary is cleared by the next build.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/answer_runs.h"
#include "core/atomic_file.h"
#include "train/tiny_task.h"

namespace hrm::testing {
namespace {

namespace fs = std::filesystem;
using train::testing::TempDir;

// Names in `dir` that start with `prefix` (the writer's temporaries are ".<name>.tmp-<pid>-<n>").
int count_prefixed(const fs::path& dir, const std::string& prefix) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(prefix, 0) == 0;
  return n;
}

std::vector<std::string> small_sudoku(const fs::path& out, const std::string& seed) {
  return {"data", "sudoku", out.string(), "--size", "4", "--train-size", "20", "--test-size", "5", "--seed", seed};
}

TEST(CmdData, RebuildReplacesTheDatasetAndLeavesNoTemporary) {
  TempDir dir("cmd_data_rebuild");
  const fs::path out = dir.path / "s4";
  const auto first = run_hrm(small_sudoku(out, "0"));
  ASSERT_EQ(first.status, 0) << first.output;
  const std::string before = read_file((out / "input" / "train.csv").string());
  const auto second = run_hrm(small_sudoku(out, "1"));
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(read_file((out / "input" / "train.csv").string()), before);  // the new build is in place
  EXPECT_TRUE(fs::exists(out / "train" / "dataset.json"));
  EXPECT_EQ(count_prefixed(dir.path, ".s4.tmp-"), 0);
}

TEST(CmdData, BadMazeCsvNamesFileAndLineAndKeepsTheOldDataset) {
  TempDir dir("cmd_data_badmaze");
  const fs::path out = dir.path / "maze";
  const auto good = run_hrm({"data", "maze", out.string(), "--input", fixture_dataset("maze-small").string() + "/input"});
  ASSERT_EQ(good.status, 0) << good.output;
  const std::string before = read_file((out / "train" / "dataset.json").string());

  // The fixture's CSVs with one character cut from the second row's question.
  const fs::path in = dir.path / "bad";
  fs::create_directories(in);
  std::string train = read_file((fixture_dataset("maze-small") / "input" / "train.csv").string());
  const size_t row2 = train.find('\n', train.find('\n') + 1) + 1;
  train.erase(train.find(',', row2) + 1, 1);
  write_file_atomic((in / "train.csv").string(), train);
  write_file_atomic((in / "test.csv").string(), read_file((fixture_dataset("maze-small") / "input" / "test.csv").string()));
  const auto bad = run_hrm({"data", "maze", out.string(), "--input", in.string()});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.status, -1) << "killed by a signal:\n" << bad.output;
  EXPECT_NE(bad.output.find((in / "train.csv").string() + ":3"), std::string::npos) << bad.output;
  EXPECT_EQ(read_file((out / "train" / "dataset.json").string()), before);
  EXPECT_EQ(count_prefixed(dir.path, ".maze.tmp-"), 0);
}

TEST(CmdData, TemporaryOfAKilledBuildIsClearedByTheNextBuild) {
  TempDir dir("cmd_data_stale");
  const fs::path out = dir.path / "s4";
  // A temporary as a build killed with SIGKILL leaves it; pid 2^22+1 is above pid_max's default, so no such process.
  const fs::path stale = dir.path / ".s4.tmp-4194305-0";
  fs::create_directories(stale / "train");
  std::ofstream(stale / "train" / "all__inputs.npy") << "partial";
  const auto r = run_hrm(small_sudoku(out, "0"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_EQ(count_prefixed(dir.path, ".s4.tmp-"), 0);
}

}  // namespace
}  // namespace hrm::testing
