// Tests for src/data/sudoku.cpp: parser, exact solver (counts, uniqueness), rating, the
// reference's shuffle and the generator. Puzzles come from shared/data/sudoku/tdoku.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/sudoku.h"
#include "test_paths.h"
#include "test_support.h"

namespace sd = hrm::sudoku;

namespace {

const std::string kTdoku = std::string(HRM_SHARED_DIR) + "/data/sudoku/tdoku/";

std::vector<std::string> puzzle_lines(const std::string& file, size_t max_lines) {
  std::ifstream in(kTdoku + file);
  EXPECT_TRUE(in.good()) << kTdoku + file;
  std::vector<std::string> out;
  for (std::string line; out.size() < max_lines && std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// A digit relabelling only (no move of cells): the rating must not change under it.
sd::Shuffle digits_only(hrm::Rng& rng) {
  sd::Shuffle s;
  const auto p = rng.permutation(9);
  for (int i = 0; i < 9; ++i) s.digit_map[i + 1] = static_cast<uint8_t>(p[i] + 1);
  for (int i = 0; i < sd::kCells; ++i) s.mapping[i] = static_cast<uint8_t>(i);
  return s;
}

using hrm::testing::error_of;

}  // namespace

// tdoku's own solver test data: `puzzle:count[:solution]`; counts 0, 1 and up to 847.
TEST(SudokuSolver, CountsSolutionsOfTdokuTestPuzzlesExactly) {
  const auto lines = puzzle_lines("test_puzzles", 100);
  ASSERT_EQ(lines.size(), 43u);
  int unique = 0, none = 0, several = 0;
  for (const auto& line : lines) {
    std::vector<std::string> parts;
    std::stringstream ss(line);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    const sd::Grid puzzle = sd::parse_grid(parts.at(0), line);
    const int64_t count = std::stoll(parts.at(1));
    const sd::SolveResult r = sd::solve(puzzle, count + 1);  // a limit above the count: must find exactly count
    EXPECT_EQ(r.solutions, count) << line;
    if (count == 1) {
      EXPECT_EQ(sd::to_string(r.solution), parts.at(2)) << line;
      EXPECT_EQ(sd::solve(puzzle, 2).solutions, 1);
      ++unique;
    } else if (count == 0) {
      ++none;
    } else {
      EXPECT_EQ(sd::solve(puzzle, 2).solutions, 2) << "limit 2 must stop at 2: " << line;
      ++several;
    }
  }
  EXPECT_EQ(unique, 18);
  EXPECT_EQ(none, 10);
  EXPECT_EQ(several, 15);
}

TEST(SudokuSolver, SolvesHardestForumPuzzlesUniquely) {
  for (const std::string file : {"puzzles6_forum_hardest_1106", "puzzles5_forum_hardest_1905_11+", "puzzles2_17_clue"}) {
    for (const auto& line : puzzle_lines(file, 15)) {
      const sd::Grid p = sd::parse_grid(line, file);
      const sd::SolveResult r = sd::solve(p, 2);
      ASSERT_EQ(r.solutions, 1) << file << ": " << line;
      EXPECT_TRUE(sd::is_solution(r.solution)) << line;
      EXPECT_TRUE(sd::agrees(p, r.solution)) << line;
      EXPECT_GE(r.guesses, 0);
    }
  }
}

TEST(SudokuSolver, DetectsAPuzzleWithTwoSolutions) {
  // A unique puzzle's solution with an "a b / b a" rectangle inside two boxes of one band blanked
  // out: the digits of the rectangle can be swapped, so the puzzle has exactly two solutions.
  const auto line = puzzle_lines("puzzles6_forum_hardest_1106", 1).at(0);
  const sd::Grid sol = sd::solve(sd::parse_grid(line, "hardest"), 2).solution;
  bool found = false;
  for (int r1 = 0; r1 < 9 && !found; ++r1)
    for (int r2 = r1 + 1; r2 < r1 / 3 * 3 + 3 && !found; ++r2)
      for (int c1 = 0; c1 < 9 && !found; ++c1)
        for (int c2 = c1 / 3 * 3 + 3; c2 < 9 && !found; ++c2) {
          const int a = r1 * 9 + c1, b = r1 * 9 + c2, c = r2 * 9 + c1, d = r2 * 9 + c2;
          if (sol[a] != sol[d] || sol[b] != sol[c]) continue;
          sd::Grid p = sol;
          p[a] = p[b] = p[c] = p[d] = 0;
          const sd::SolveResult res = sd::solve(p, 10);
          EXPECT_EQ(res.solutions, 2);
          found = true;
        }
  ASSERT_TRUE(found) << "no swappable rectangle in " << sd::to_string(sol);
  EXPECT_EQ(sd::solve(sd::Grid{}, 2).solutions, 2) << "the empty grid";
}

TEST(SudokuSolver, ClashingCluesHaveNoSolution) {
  sd::Grid p{};
  p[0] = p[8] = 5;  // two 5s in row 1
  EXPECT_FALSE(sd::is_consistent(p));
  EXPECT_EQ(sd::solve(p, 2).solutions, 0);
}

TEST(SudokuRating, ZeroForSinglesOnlyAndUnchangedByRelabellingDigits) {
  const auto line = puzzle_lines("test_puzzles", 1).at(0);  // an easy puzzle
  EXPECT_EQ(sd::rating(sd::parse_grid(line.substr(0, 81), "easy")), 0);
  hrm::Rng rng(7);
  int64_t total = 0;
  for (const auto& l : puzzle_lines("puzzles6_forum_hardest_1106", 8)) {
    const sd::Grid p = sd::parse_grid(l, "hardest");
    const int64_t r = sd::rating(p);
    total += r;
    for (int k = 0; k < 3; ++k) EXPECT_EQ(sd::rating(sd::apply_shuffle(digits_only(rng), p)), r) << l;
  }
  EXPECT_GT(total, 8) << "the hardest puzzles need guesses";
}

TEST(SudokuShuffle, KeepsValidityUniquenessAndClueCount) {
  hrm::Rng rng(1);
  for (const auto& line : puzzle_lines("puzzles3_magictour_top1465", 5)) {
    const sd::Grid p = sd::parse_grid(line, "magictour");
    const sd::Grid sol = sd::solve(p, 2).solution;
    for (int k = 0; k < 20; ++k) {
      const sd::Shuffle s = sd::draw_shuffle(rng);
      const sd::Grid p2 = sd::apply_shuffle(s, p), sol2 = sd::apply_shuffle(s, sol);
      ASSERT_TRUE(sd::is_solution(sol2)) << sd::to_string(sol2);
      ASSERT_TRUE(sd::agrees(p2, sol2));
      ASSERT_EQ(sd::clue_count(p2), sd::clue_count(p));
      const sd::SolveResult r = sd::solve(p2, 2);
      ASSERT_EQ(r.solutions, 1);
      ASSERT_EQ(r.solution, sol2);
    }
  }
}

TEST(SudokuShuffle, DrawsTheReferencesStructure) {
  hrm::Rng a(3), b(3);
  bool transposed = false, kept = false;
  for (int k = 0; k < 64; ++k) {
    const sd::Shuffle s = sd::draw_shuffle(a), t = sd::draw_shuffle(b);
    EXPECT_EQ(s.mapping, t.mapping) << "same seed, same shuffle";
    EXPECT_EQ(s.digit_map[0], 0) << "blank stays blank";
    std::array<int, 10> seen{};
    for (int d = 1; d <= 9; ++d) ++seen[s.digit_map[d]];
    for (int d = 1; d <= 9; ++d) EXPECT_EQ(seen[d], 1) << "digit map is a permutation of 1..9";
    // mapping = row_perm x col_perm: row i/9 of the new grid is one old row, kept within bands.
    for (int i = 0; i < 81; ++i) {
      EXPECT_EQ(s.mapping[i] / 9, s.mapping[i / 9 * 9] / 9);
      EXPECT_EQ(s.mapping[i] % 9, s.mapping[i % 9] % 9);
      if (i % 27 >= 9) EXPECT_EQ(s.mapping[i] / 27, s.mapping[i - 9] / 27) << "rows of a band stay together";
    }
    (s.transpose ? transposed : kept) = true;
  }
  EXPECT_TRUE(transposed && kept);
  sd::Shuffle transpose_only = digits_only(a);
  for (int d = 0; d < 10; ++d) transpose_only.digit_map[d] = static_cast<uint8_t>(d);
  transpose_only.transpose = true;
  sd::Grid g{};
  g[1] = 4;  // row 0, column 1 -> row 1, column 0
  EXPECT_EQ(sd::apply_shuffle(transpose_only, g)[9], 4);
}

TEST(SudokuParse, ErrorsNameThePlaceAndWhatWasExpected) {
  EXPECT_EQ(sd::to_string(sd::parse_grid(std::string(81, '0'), "x")), std::string(81, '.'));
  EXPECT_NE(error_of<hrm::FormatError>([] { sd::parse_grid(std::string(80, '.'), "a.txt:3"); }).find("a.txt:3: expected 81 cells, got 80"),
            std::string::npos);
  std::string bad(81, '.');
  bad[4] = 'x';
  const std::string e = error_of<hrm::FormatError>([&] { sd::parse_grid(bad, "a.txt:7"); });
  EXPECT_NE(e.find("a.txt:7: column 5: unexpected 'x'"), std::string::npos) << e;
  bad[4] = '\xff';  // shown in hex (was "\x255": the decimal value behind a hex escape)
  const std::string e3 = error_of<hrm::FormatError>([&] { sd::parse_grid(bad, "a.txt:7"); });
  EXPECT_NE(e3.find("column 5: unexpected '\\xff'"), std::string::npos) << e3;
  const std::string e2 = error_of<hrm::FormatError>([] { sd::parse_grid(std::string(81, '.'), "answer", false); });
  EXPECT_NE(e2.find("expected a digit 1-9"), std::string::npos) << e2;
}

TEST(SudokuGenerator, MakesUniquePuzzlesAboveTheRatingDeterministically) {
  hrm::Rng a(11), b(11);
  for (int k = 0; k < 3; ++k) {
    const sd::Generated g = sd::generate(a, 3);
    EXPECT_GE(g.rating, 3);
    EXPECT_EQ(g.rating, sd::rating(g.puzzle));
    const sd::SolveResult r = sd::solve(g.puzzle, 2);
    ASSERT_EQ(r.solutions, 1);
    EXPECT_EQ(r.solution, g.solution);
    EXPECT_EQ(sd::generate(b, 3).puzzle, g.puzzle) << "same seed, same puzzles";
  }
  hrm::Rng c(1);
  EXPECT_THROW(sd::generate(c, 1000000, 2), hrm::Error);
}
