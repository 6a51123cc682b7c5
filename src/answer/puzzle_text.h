// puzzle_text.h: a puzzle's text form <-> the token rows a model reads, for `hrm solve` and
// `hrm report`. Encodings are exactly the dataset builders' (build_sudoku.cpp, build_maze.cpp,
// build_arc.cpp), so a model trained on a built dataset reads a raw puzzle as it read its training
// data: Sudoku token = digit + 1 (blank 1, PAD 0, vocab 11, 81 tokens); maze token = index in
// "# SGo" + 1 (vocab 6, side*side tokens); ARC token = colour + 2 on a 30x30 PAD canvas with an EOS
// border (vocab 12, 900 tokens).
// No torch: the kinds are also what the report shows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/arc.h"
#include "data/sudoku.h"

namespace hrm::answer {

enum class Kind { kSudoku, kMaze, kArc, kOther };

// The kind of puzzle a dataset (or a checkpoint trained on it) holds, from its shape alone, by
// data::task_kind: Sudoku of side 4, 6 or 9 (vocab side + 2), maze (vocab 6), ARC (vocab 12).
Kind kind_of(int64_t seq_len, int64_t vocab_size);
const char* kind_name(Kind k);  // "sudoku", "maze", "arc", "other"

// ---- Sudoku ----
std::vector<int32_t> sudoku_tokens(const sudoku::Grid& g);
// Tokens back to cells (token - 1; PAD and anything outside 1..10 read as blank 0).
sudoku::Grid sudoku_from_tokens(const int32_t* tokens);
// 9 lines of "5 3 . | . 7 . | . . ." with a rule between bands.
std::string sudoku_render(const sudoku::Grid& g);

// ---- mazes ----
// A maze as text: `side` lines of `side` characters over "# SGo" ('\r' dropped, shorter lines
// padded with spaces, as editors strip trailing blanks), or one line of side*side characters.
// Returns the row-major string. FormatError naming `where` and the line.
std::string parse_maze_text(const std::string& text, const std::string& where);
std::vector<int32_t> maze_tokens(const std::string& grid, const std::string& where);
std::string maze_from_tokens(const int32_t* tokens, int64_t n);  // '?' for tokens outside 1..5
std::string maze_render(const std::string& grid);                // side lines

// ---- ARC ----
// The builders' test encoding: the grid at the top-left, untranslated.
std::vector<int32_t> arc_tokens(const arc::Grid& g);
std::string arc_render(const arc::Grid& g);  // rows of digits; "(empty)" for a 0x0 crop

}  // namespace hrm::answer
