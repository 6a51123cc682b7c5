// Tests for src/data/mini_sudoku.cpp: generated 4x4 and 6x6 puzzles are valid and unique, the
// builder is deterministic for a seed, no test solution grid (hence no test puzzle) is in training,
// and bad sizes are errors. Also render_text's drawing of such a dataset.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/mini_sudoku.h"
#include "data/render_text.h"

namespace fs = std::filesystem;
using namespace hrm::data;

namespace {

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("hrm-mini-sudoku-" + std::to_string(::getpid()) + "-" + tag);
  fs::remove_all(p);
  return p;
}

bool valid_solution(const MiniSudokuShape& s, const MiniGrid& g) {
  auto unit_ok = [&](auto cell_of) {
    std::set<int> d;
    for (int k = 0; k < s.size; ++k) d.insert(g[cell_of(k)]);
    return d.size() == static_cast<size_t>(s.size) && !d.count(0);
  };
  for (int u = 0; u < s.size; ++u) {
    const int br = (u / (s.size / s.box_cols)) * s.box_rows, bc = (u % (s.size / s.box_cols)) * s.box_cols;
    if (!unit_ok([&](int k) { return u * s.size + k; })) return false;                                      // row
    if (!unit_ok([&](int k) { return k * s.size + u; })) return false;                                      // column
    if (!unit_ok([&](int k) { return (br + k / s.box_cols) * s.size + bc + k % s.box_cols; })) return false;  // box
  }
  return true;
}

TEST(MiniSudoku, GeneratedPuzzlesHaveOneSolutionWhichIsTheGrid) {
  for (int size : {4, 6}) {
    const MiniSudokuShape s = mini_sudoku_shape(size);
    hrm::Rng rng(7);
    for (int i = 0; i < 50; ++i) {
      const MiniGrid sol = random_solution(s, rng);
      ASSERT_TRUE(valid_solution(s, sol)) << size;
      const MiniGrid p = make_puzzle(s, sol, s.cells(), rng);  // as many blanks as uniqueness allows
      MiniGrid found;
      ASSERT_EQ(count_solutions(s, p, 2, &found), 1);
      EXPECT_EQ(found, sol);
      for (int c = 0; c < s.cells(); ++c) EXPECT_TRUE(p[c] == 0 || p[c] == sol[c]);
    }
  }
}

TEST(MiniSudoku, CountsSeveralSolutionsAndNone) {
  const MiniSudokuShape s = mini_sudoku_shape(4);
  EXPECT_EQ(count_solutions(s, MiniGrid(16, 0), 1000), 288);  // every 4x4 Sudoku grid
  MiniGrid bad(16, 0);
  bad[0] = bad[1] = 1;  // a digit twice in a row
  EXPECT_EQ(count_solutions(s, bad, 2), 0);
}

TEST(MiniSudoku, BuildIsDeterministicAndKeepsTestGridsOutOfTraining) {
  MiniSudokuBuildConfig cfg;
  cfg.size = 4;
  cfg.train_size = 300;
  cfg.test_size = 60;
  cfg.seed = 3;
  const fs::path a = temp_dir("a"), b = temp_dir("b");
  cfg.output_dir = a.string();
  const MiniSudokuBuildSummary s = build_mini_sudoku_dataset(cfg);
  EXPECT_EQ(s.train_puzzles, 300);
  EXPECT_EQ(s.test_puzzles, 60);
  cfg.output_dir = b.string();
  build_mini_sudoku_dataset(cfg);
  for (const char* split : {"train", "test"})
    for (const char* f : {"all__inputs.npy", "all__labels.npy", "all__puzzle_indices.npy", "dataset.json"}) {
      std::ifstream fa(a / split / f, std::ios::binary), fb(b / split / f, std::ios::binary);
      std::string ca((std::istreambuf_iterator<char>(fa)), {}), cb((std::istreambuf_iterator<char>(fb)), {});
      EXPECT_FALSE(ca.empty());
      EXPECT_EQ(ca, cb) << split << "/" << f;
    }

  const Dataset train = Dataset::open(a, "train"), test = Dataset::open(a, "test");
  EXPECT_EQ(train.metadata().vocab_size, 6);
  EXPECT_EQ(train.metadata().seq_len, 16);
  auto labels = [](const Dataset& d) {
    std::set<std::vector<int32_t>> out;
    const DatasetSet& set = d.set("all");
    for (int64_t i = 0; i < set.examples(); ++i) {
      std::vector<int32_t> row(16);
      set.label_row(i, row.data());
      out.insert(row);
    }
    return out;
  };
  const auto train_grids = labels(train), test_grids = labels(test);
  for (const auto& g : test_grids) EXPECT_FALSE(train_grids.count(g)) << "a test solution grid is in training";
  EXPECT_GT(test_grids.size(), 10u);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(MiniSudoku, UnsupportedSizeOrTooManyBlanksAreErrors) {
  EXPECT_THROW(mini_sudoku_shape(5), hrm::ConfigError);
  MiniSudokuBuildConfig cfg;
  cfg.output_dir = temp_dir("bad").string();
  cfg.blanks = 17;
  EXPECT_THROW(build_mini_sudoku_dataset(cfg), hrm::ConfigError);
  EXPECT_FALSE(fs::exists(cfg.output_dir));
}

// 4x4 grids with one blank make ~3,800 distinct training puzzles: asking for 10,000 once drew for
// 200 x 10,000 draws (and 3,000,000 default puzzles for hours); the rate of new ones stops it early.
TEST(MiniSudoku, MorePuzzlesThanTheSplitHoldsIsAnErrorNotAHang) {
  MiniSudokuBuildConfig cfg;
  cfg.output_dir = temp_dir("few").string();
  cfg.blanks = 1;
  cfg.train_size = 10000;
  cfg.test_size = 10;
  try {
    build_mini_sudoku_dataset(cfg);
    FAIL() << "expected an error";
  } catch (const hrm::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("of 10000 training"), std::string::npos) << what;
    EXPECT_NE(what.find("after 131072 draws"), std::string::npos) << what;  // two windows, not 2,000,000
  }
  EXPECT_FALSE(fs::exists(cfg.output_dir));
}

TEST(RenderText, DrawsSudokuSideBySideWithMarkedCells) {
  DatasetMetadata m;
  m.vocab_size = 6;
  m.seq_len = 16;
  EXPECT_EQ(task_kind(m), TaskKind::kSudoku);
  std::vector<int32_t> in(16, 1), ans(16, 2);
  std::vector<bool> marks(16, false);
  marks[5] = true;
  const std::string text = render_side_by_side(m, {{"input", in, {}}, {"wrong", ans, marks}});
  EXPECT_EQ(text,
            "input  wrong\n"
            "....   1111\n"
            "....   1x11\n"
            "....   1111\n"
            "....   1111\n");
  m.vocab_size = 30;  // no known task: numbers
  m.seq_len = 3;
  EXPECT_EQ(task_kind(m), TaskKind::kOther);
  EXPECT_EQ(render_side_by_side(m, {{"t", {1, 22, 3}, {}}}), "t\n  1 22  3\n");
}

}  // namespace
