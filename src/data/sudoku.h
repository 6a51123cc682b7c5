// sudoku.h: Sudoku grids: parsing, an exact solver with a uniqueness check, a difficulty rating,
// a generator of new unique puzzles, and the reference's validity-preserving shuffle.
// Mirrors dataset/build_sudoku_dataset.py (sapientinc/HRM@42410da): parsing of its CSV cells and
// `shuffle_sudoku`. What differs: the reference has no solver, rating or generator (its data
// comes pre-solved and pre-rated from a model hub), and its shuffle draws from numpy's global RNG;
// here every draw takes an explicit hrm::Rng.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/rng.h"

namespace hrm::sudoku {

constexpr int kCells = 81;
// Row-major cells: 0 = blank, 1..9 = digit (the reference's `q.replace('.', '0')` values).
using Grid = std::array<uint8_t, kCells>;

// Parses 81 cells: '1'..'9' digits and, when blanks are allowed, '.' or '0' for a blank.
// Throws hrm::FormatError "<where>: ..." naming the length or the first bad character's column
// (1-based) and what was expected.
Grid parse_grid(std::string_view text, const std::string& where, bool allow_blanks = true);
std::string to_string(const Grid& g, char blank = '.');

// One line of a puzzle list, split into its puzzle and the rest: leading blanks skipped, the puzzle
// runs to the first blank or ':', ';', '|', '#', and the rest is ignored. Collections write ratings,
// counts and solutions there (tdoku's `puzzle:count:solution`, rated lists' `puzzle  11.7/1.2/1.2`).
struct ListLine {
  std::string_view cells, rest;  // rest: from the separator on ("" when the line is only the puzzle)
};
ListLine split_list_line(std::string_view line);

int clue_count(const Grid& g);
// No digit twice in a row, column or box (blanks ignored).
bool is_consistent(const Grid& g);
// Every cell filled and consistent: a valid solved grid.
bool is_solution(const Grid& g);
// Every clue of `puzzle` has the same digit in `solution`.
bool agrees(const Grid& puzzle, const Grid& solution);

struct SolveResult {
  int64_t solutions = 0;  // found, at most the limit
  Grid solution{};        // the first solution found (valid when solutions >= 1)
  int64_t guesses = 0;    // branch points the search visited (see solve())
};

// Exact depth-first search, stopping once `limit` solutions are found (limit 2 proves uniqueness).
// The search is deterministic and documented so that `guesses` is a rating:
//   propagate naked singles (a cell with one candidate) and hidden singles (a digit with one
//   place in a row, column or box) to a fixpoint, then locked candidates (a digit confined to one
//   box-line intersection of a box or of a line leaves the rest of the line or box) and singles
//   again, until nothing changes; if that fills the grid it is a solution, if a cell or a unit
//   has no candidate left it is a dead end; otherwise count one guess and branch on the empty
//   cell with the fewest candidates (ties: lowest cell index), trying its digits in ascending
//   order.
SolveResult solve(const Grid& puzzle, int64_t limit = 2);

// The difficulty rating: the guesses of solve(puzzle, 2). For a unique puzzle this is the size
// (in branch points) of the whole search tree, which does not depend on the order digits are
// tried in, so relabelling the digits leaves it unchanged. 0 = solved by singles alone. This is
// not tdoku's count (the Sudoku-Extreme "rating" column): tdoku branches on band configurations.
int64_t rating(const Grid& puzzle);

// The reference's `shuffle_sudoku`: a permutation of the digits 1..9 (blank stays 0), an optional
// transpose, a permutation of the bands and of the rows within each band, and of the stacks and of
// the columns within each stack. Every such map sends valid grids to valid grids.
struct Shuffle {
  std::array<uint8_t, 10> digit_map{};  // digit_map[0] == 0
  bool transpose = false;
  std::array<uint8_t, kCells> mapping{};  // new cell i takes (transposed) old cell mapping[i]
};
// Draws in the reference's order: digits, transpose (uniform() < 0.5), bands, rows per band,
// stacks, columns per stack.
Shuffle draw_shuffle(Rng& rng);
Grid apply_shuffle(const Shuffle& s, const Grid& g);

struct Generated {
  Grid puzzle{};
  Grid solution{};
  int64_t rating = 0;
};
// A new puzzle with a unique solution and rating >= min_rating. Draws a random solved grid,
// removes clues in random order while the solution stays unique (a minimal puzzle), then climbs:
// puts a few random clues back and removes again, keeping the variant when its rating is not
// lower. Throws hrm::Error after max_rounds climbing rounds without reaching min_rating.
Generated generate(Rng& rng, int64_t min_rating, int64_t max_rounds = 2000);

}  // namespace hrm::sudoku
