// mini_sudoku.h: small Sudoku (4x4 with 2x2 boxes, 6x6 with 2 rows x 3 columns boxes) generated
// offline, for the main job's demo and the learning test: a task a tiny HRM learns on a CPU in
// minutes, in the same format as the reference's Sudoku (token = digit + 1, blank 1, PAD 0).
// No reference counterpart (the reference has only 9x9 Sudoku-Extreme from a model hub).
// Held out for real: the test set's solution grids never occur in training (a grid goes to one
// split by a seeded hash), so test accuracy measures solving, not recall of seen grids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace hrm::data {

struct MiniSudokuShape {
  int size = 4;               // digits 1..size, size x size cells
  int box_rows = 2, box_cols = 2;
  int cells() const { return size * size; }
};
// 4 -> 2x2 boxes, 6 -> 2x3 boxes; ConfigError for other sizes.
MiniSudokuShape mini_sudoku_shape(int size);

using MiniGrid = std::vector<uint8_t>;  // row-major, 0 blank, 1..size digits

// Solutions of `puzzle`, counted up to `limit` (2 proves uniqueness); the first one in `first`.
int count_solutions(const MiniSudokuShape& s, MiniGrid puzzle, int limit, MiniGrid* first = nullptr);
// A uniformly shuffled search for a full valid grid.
MiniGrid random_solution(const MiniSudokuShape& s, Rng& rng);
// Blanks cells of `solution` in random order while the puzzle keeps a unique solution, until
// `blanks` cells are blank or no further cell can go (then fewer).
MiniGrid make_puzzle(const MiniSudokuShape& s, const MiniGrid& solution, int blanks, Rng& rng);

struct MiniSudokuBuildConfig {
  std::string output_dir;
  int size = 4;
  int64_t train_size = 2000, test_size = 200;
  int blanks = -1;          // blank cells per puzzle; -1: size*size/2 + 2 (4x4: 10, 6x6: 20)
  double test_grid_fraction = 0.2;  // share of solution grids reserved for the test split
  uint64_t seed = 0;
};

struct MiniSudokuBuildSummary {
  int64_t train_puzzles = 0, test_puzzles = 0;
  double mean_blanks = 0;
};

// Writes the dataset (atomic): train and test splits, set "all", a group per puzzle, identifier 0,
// and input/{train,test}.csv (source,question,answer,rating; '.' blanks), as the 9x9 builder writes.
MiniSudokuBuildSummary build_mini_sudoku_dataset(const MiniSudokuBuildConfig& config);

}  // namespace hrm::data
