// render_text.h: puzzles as text for terminals: the tasks the builders make (Sudoku of any size,
// mazes, ARC) drawn one character a cell, others as numbers; several grids side by side.
// Used by `hrm data info` (an example) and `hrm eval show=N` (solved and failed test puzzles).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace hrm::data {

enum class TaskKind { kSudoku, kMaze, kArc, kOther };
// From the vocabulary and sequence length the builders use: Sudoku (side*side cells for side 4,
// 6 or 9, vocab side + 2), maze (a square seq_len, vocab 6), ARC (900 tokens, vocab 12).
TaskKind task_kind(const DatasetMetadata& m);

// One token drawn as a cell: one character for the known tasks, a right-aligned number otherwise.
std::string token_cell(const DatasetMetadata& m, int32_t token);
// A line explaining the characters ("" for numbers).
std::string legend(const DatasetMetadata& m);

struct TextGrid {
  std::string title;
  std::vector<int32_t> tokens;  // seq_len tokens
  std::vector<bool> marked;     // optional, seq_len: cells drawn as 'x' (e.g. wrong answers)
};
// The grids side by side, `seq_len` tokens each, in rows of the grid's side when seq_len is a
// square (one row otherwise), titles above, three spaces between.
std::string render_side_by_side(const DatasetMetadata& m, const std::vector<TextGrid>& grids);

}  // namespace hrm::data
