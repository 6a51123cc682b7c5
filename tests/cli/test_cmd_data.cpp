// test_cmd_data.cpp: `hrm data ...` through the built binary, which links libtorch (where
// std::filesystem::remove_all crashes, so the dataset writer must not use it): a rebuild replaces
// a dataset in place, a bad input names its file and line and leaves the old dataset and no
// temporary, inputs inside the output and files no build writes stop a rebuild (nothing of the
// user's is replaced), and a killed build's temporary is cleared by the next build.
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

TEST(CmdData, InputsInsideTheOutputAreRefusedBeforeAnythingIsReplaced) {
  TempDir dir("cmd_data_inside");
  const fs::path out = dir.path / "maze";
  ASSERT_EQ(run_hrm({"data", "maze", out.string(), "--input", fixture_dataset("maze-small").string() + "/input"}).status, 0);
  // The source CSVs kept in the dataset, as the reference's builders leave them.
  fs::create_directories(out / "input");
  for (const char* f : {"train.csv", "test.csv"})
    write_file_atomic((out / "input" / f).string(), read_file((fixture_dataset("maze-small") / "input" / f).string()));
  const std::string csv = read_file((out / "input" / "train.csv").string());
  // Rebuilding from the CSVs the dataset holds would replace them with the directory.
  const auto maze = run_hrm({"data", "maze", out.string(), "--input", (out / "input").string()});
  EXPECT_NE(maze.status, 0);
  EXPECT_NE(maze.output.find("lies inside the output directory"), std::string::npos) << maze.output;
  const auto sudoku = run_hrm({"data", "sudoku", out.string(), "--train", (out / "input" / "train.csv").string(), "--test",
                               (out / "input" / "test.csv").string()});
  EXPECT_NE(sudoku.status, 0);
  EXPECT_NE(sudoku.output.find("lies inside the output directory"), std::string::npos) << sudoku.output;
  EXPECT_EQ(read_file((out / "input" / "train.csv").string()), csv);
}

TEST(CmdData, RebuildKeepsADatasetHoldingFilesNoBuildWrites) {
  TempDir dir("cmd_data_foreign");
  const fs::path out = dir.path / "s4";
  ASSERT_EQ(run_hrm(small_sudoku(out, "0")).status, 0);
  write_file_atomic((out / "NOTES.txt").string(), "mine");
  const auto r = run_hrm(small_sudoku(out, "1"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("holds NOTES.txt, which a build does not write"), std::string::npos) << r.output;
  EXPECT_EQ(read_file((out / "NOTES.txt").string()), "mine");
  // Without NOTES.txt, by a build that writes no input/ (mazes from CSVs): the old input/ would go,
  // and input/ may be the user's sources.
  fs::remove(out / "NOTES.txt");
  const auto r2 = run_hrm({"data", "maze", out.string(), "--input", fixture_dataset("maze-small").string() + "/input"});
  EXPECT_NE(r2.status, 0);
  EXPECT_NE(r2.output.find("holds input, which this build does not write"), std::string::npos) << r2.output;
  EXPECT_TRUE(fs::exists(out / "input" / "train.csv"));
  EXPECT_EQ(count_prefixed(dir.path, ".s4.tmp-"), 0);
}

TEST(CmdData, NegativeCountsAreRefusedNamingTheOption) {
  TempDir dir("cmd_data_negative");
  for (const char* opt : {"--train-size", "--threads"}) {
    const auto r = run_hrm({"data", "sudoku", (dir.path / "s4").string(), "--size", "4", opt, "-1"});
    EXPECT_NE(r.status, 0) << opt;
    EXPECT_NE(r.output.find(opt), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir.path / "s4"));
  // A 4x4 maze would have a 4x4 Sudoku's shape, from which hrm tells a dataset's kind.
  const auto side4 = run_hrm({"data", "maze", (dir.path / "m4").string(), "--side", "4", "--min-path-length", "1"});
  EXPECT_EQ(side4.status, 2);
  EXPECT_NE(side4.output.find("--side 4: a 4x4 maze has the shape of a 4x4 Sudoku"), std::string::npos) << side4.output;
  EXPECT_FALSE(fs::exists(dir.path / "m4"));
}

TEST(CmdData, InfoNamesATokenOutsideTheVocabularyInsteadOfDrawingIt) {
  TempDir dir("cmd_data_info_token");
  const fs::path out = dir.path / "s4";
  ASSERT_EQ(run_hrm(small_sudoku(out, "0")).status, 0);
  // The first token of example 0 (the .npy header ends at its first newline; the tokens are uint8).
  const std::string npy = (out / "train" / "all__inputs.npy").string();
  std::string bytes = read_file(npy);
  bytes[bytes.find('\n') + 1] = static_cast<char>(200);
  write_file_atomic(npy, bytes);
  const auto r = run_hrm({"data", "info", out.string(), "--split", "train"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("all__inputs.npy: example 0, position 0: token 200 outside the vocabulary 0..5"), std::string::npos)
      << r.output;
}

// --example N of a dataset whose test split is smaller than its training split (usual): drawn where
// there is one, a note where not; an error only when no split has it, or for the split named.
TEST(CmdData, InfoDrawsTheExampleInTheSplitsThatHaveIt) {
  TempDir dir("cmd_data_info_example");
  const fs::path out = dir.path / "s4";
  ASSERT_EQ(run_hrm(small_sudoku(out, "0")).status, 0);  // 20 training and 5 test puzzles
  const auto both = run_hrm({"data", "info", out.string(), "--example", "10"});
  EXPECT_EQ(both.status, 0) << both.output;
  EXPECT_NE(both.output.find("example 10 of set 'all'"), std::string::npos) << both.output;
  EXPECT_NE(both.output.find("(no example 10 to draw: set 'all' has 5)"), std::string::npos) << both.output;
  const auto named = run_hrm({"data", "info", out.string(), "--split", "test", "--example", "10"});
  EXPECT_EQ(named.status, 2);
  EXPECT_NE(named.output.find("--example 10 outside [0, 5) of test/all"), std::string::npos) << named.output;
  const auto none = run_hrm({"data", "info", out.string(), "--example", "20"});
  EXPECT_EQ(none.status, 2);
  EXPECT_NE(none.output.find("--example 20 is beyond the first set of every split"), std::string::npos) << none.output;
}

// --check reads every example: a bad token deep in a split (not the drawn example) is named, and a
// clean dataset says what was checked.
TEST(CmdData, InfoCheckReadsEveryExampleAndNamesTheFirstBadLabel) {
  TempDir dir("cmd_data_info_check");
  const fs::path out = dir.path / "s4";
  ASSERT_EQ(run_hrm(small_sudoku(out, "0")).status, 0);
  const auto ok = run_hrm({"data", "info", out.string(), "--check"});
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("checked: the inputs and labels of all "), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find(" examples are within the vocabulary 0..5 (labels: or ignore_label_id 0, or -100)"), std::string::npos)
      << ok.output;
  // The last label of the test split's last example (uint8 tokens: the file's last byte).
  const std::string npy = (out / "test" / "all__labels.npy").string();
  std::string bytes = read_file(npy);
  const size_t header = bytes.find('\n') + 1, seq_len = 16, last = bytes.size() - 1;
  const int64_t examples = static_cast<int64_t>((bytes.size() - header) / seq_len);
  bytes[last] = static_cast<char>(9);
  write_file_atomic(npy, bytes);
  EXPECT_EQ(run_hrm({"data", "info", out.string()}).status, 0) << "without --check only the drawn example is read";
  const auto bad = run_hrm({"data", "info", out.string(), "--check"});
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("test/all__labels.npy: example " + std::to_string(examples - 1) +
                            ", position 15: label 9 outside the vocabulary 0..5 (vocab_size of dataset.json) and not "
                            "ignore_label_id 0 or -100 (ignored)"),
            std::string::npos)
      << bad.output;
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
