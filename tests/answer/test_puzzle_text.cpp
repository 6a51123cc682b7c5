// test_puzzle_text.cpp: tests of src/answer/puzzle_text.cpp: a raw puzzle becomes exactly the
// tokens the reference's builders wrote for it (the reference-built fixtures of shared/), the kind
// of a dataset from its shape, and maze text parsing with its errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "answer/puzzle_text.h"
#include "core/check.h"
#include "data/build_sudoku.h"
#include "data/dataset.h"
#include "data/maze.h"
#include "test_paths.h"
#include "test_support.h"

namespace hrm::answer {
namespace {

namespace fs = std::filesystem;
using hrm::testing::kDatasetFixtures;

std::vector<int32_t> test_row(const fs::path& dir, int64_t row) {
  const data::Dataset ds = data::Dataset::open(dir, "test");
  std::vector<int32_t> out(static_cast<size_t>(ds.metadata().seq_len));
  ds.set("all").input_row(row, out.data());
  return out;
}

TEST(AnswerPuzzleText, KindsFollowTheBuildersShapes) {
  EXPECT_EQ(kind_of(81, 11), Kind::kSudoku);
  EXPECT_EQ(kind_of(900, 12), Kind::kArc);
  EXPECT_EQ(kind_of(900, 6), Kind::kMaze);
  EXPECT_EQ(kind_of(400, 6), Kind::kMaze);
  EXPECT_EQ(kind_of(8, 6), Kind::kOther);
  EXPECT_EQ(kind_of(81, 12), Kind::kOther);
  EXPECT_EQ(kind_of(16, 6), Kind::kSudoku);  // 4x4 Sudoku (hrm data sudoku --size 4), not a 4x4 maze
  EXPECT_EQ(kind_of(36, 8), Kind::kSudoku);
  EXPECT_STREQ(kind_name(Kind::kMaze), "maze");
}

TEST(AnswerPuzzleText, SudokuTokensAreTheReferenceBuildersTokens) {
  const fs::path dir = kDatasetFixtures / "sudoku-small";
  const auto puzzles = data::read_sudoku_file((dir / "input/test.csv").string());
  for (int64_t i = 0; i < 2; ++i) EXPECT_EQ(sudoku_tokens(puzzles[i].puzzle), test_row(dir, i)) << i;
  const auto tokens = sudoku_tokens(puzzles[0].solution);
  EXPECT_EQ(sudoku_from_tokens(tokens.data()), puzzles[0].solution);
  const std::string r = sudoku_render(puzzles[0].puzzle);
  EXPECT_EQ(std::count(r.begin(), r.end(), '\n'), 11);  // 9 rows and 2 rules
}

TEST(AnswerPuzzleText, MazeTextIsParsedAndEncodedAsTheReferenceBuilderDid) {
  const fs::path dir = kDatasetFixtures / "maze-small";
  const auto records = data::maze::read_maze_csv((dir / "input/test.csv").string());
  const std::string& q = records.at(0).question;
  EXPECT_EQ(maze_tokens(q, "q"), test_row(dir, 0));
  // As lines, with the trailing blanks an editor strips, and with CRLF.
  std::string lines, crlf;
  for (size_t r = 0; r < 30; ++r) {
    std::string line = q.substr(r * 30, 30);
    crlf += line + "\r\n";
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines += line + "\n";
  }
  EXPECT_EQ(parse_maze_text(lines, "m"), q);
  EXPECT_EQ(parse_maze_text(crlf, "m"), q);
  EXPECT_EQ(parse_maze_text(q + "\n", "m"), q);  // the CSV's one-line form
  std::string rendered;
  for (size_t r = 0; r < 30; ++r) rendered += q.substr(r * 30, 30) + "\n";
  EXPECT_EQ(maze_render(q), rendered);
  const auto tokens = maze_tokens(records[0].answer, "a");
  EXPECT_EQ(maze_from_tokens(tokens.data(), 900), records[0].answer);
}

TEST(AnswerPuzzleText, BadMazeTextNamesTheFileAndLine) {
  try {
    parse_maze_text("# #\n#  S#\nG  \n", "maze.txt");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("maze.txt:2: 5 characters"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_maze_text("#x#\n# #\nS G\n", "maze.txt"), FormatError);
  EXPECT_THROW(parse_maze_text("# S G", "maze.txt"), FormatError);  // 5 characters: not square
  auto error = [](const std::string& text) {
    try {
      parse_maze_text(text, "maze.txt");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("# #\n# #\nS  \n").find("exactly one goal 'G', found 0"), std::string::npos) << error("# #\n# #\nS  \n");
  EXPECT_NE(error("S #\n# #\nS G\n").find("exactly one start 'S', found 2 (rows 1 and 3)"), std::string::npos);
  EXPECT_NE(error("Soo\n# o\n# G\n").find("a path cell 'o' at row 1, column 2"), std::string::npos) << error("Soo\n# o\n# G\n");
}

TEST(AnswerPuzzleText, ArcTokensAreTheReferenceBuildersTestTokens) {
  // 31d5ba1a (ARC-AGI-1 evaluation) is puzzle identifier 1 of arc-small; its test pairs are the
  // first examples of the puzzle with that identifier, untranslated.
  const fs::path dir = kDatasetFixtures / "arc-small";
  const arc::Task task = arc::load_task(std::string(HRM_SHARED_DIR) + "/data/arc/ARC-AGI-1/evaluation/31d5ba1a.json");
  const data::Dataset ds = data::Dataset::open(dir, "test");
  const data::DatasetSet& set = ds.set("all");
  const auto ids = data::read_identifiers(dir);
  int64_t first = -1;
  for (int64_t p = 0; p < set.puzzles(); ++p)
    if (ids.at(set.puzzle_identifiers[p]) == "31d5ba1a") first = set.puzzle_indices[p];
  ASSERT_GE(first, 0);
  ASSERT_EQ(task.test.size(), 2u);
  for (size_t j = 0; j < task.test.size(); ++j) EXPECT_EQ(arc_tokens(task.test[j].input), test_row(dir, first + static_cast<int64_t>(j))) << j;
  EXPECT_EQ(arc_render(task.test[0].input).size(), static_cast<size_t>(task.test[0].input.rows * (task.test[0].input.cols + 1)));
}

}  // namespace
}  // namespace hrm::answer
