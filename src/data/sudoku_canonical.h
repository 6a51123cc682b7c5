// sudoku_canonical.h: a canonical form of Sudoku puzzles under the reference's shuffles, so that
// "no test puzzle in training" can mean "not even a shuffled copy of one".
// No counterpart in sapientinc/HRM@42410da: its data set card states that Sudoku-Extreme's train
// and test sets are "mathematically inequivalent"; this is the check that makes our recipe so.
#pragma once

#include "data/sudoku.h"

namespace hrm::sudoku {

// The minimal-lexicographic ("minlex") member of the puzzle's class under the group that
// draw_shuffle samples: transpose, band and in-band row permutations, stack and in-stack column
// permutations, and relabelling of the digits; blanks compare below digits. Two puzzles are
// shuffles of each other exactly when their canonical forms are equal. Exact search, row by row,
// keeping every partial transform that ties for the smallest rows so far (typically < 1 ms).
Grid canonical_form(const Grid& g);

// A hash of counts that no shuffle changes: for each clue, the clue counts of its row, column, box,
// band and stack and how often its digit occurs, as one sorted list (of the grid or of its transpose,
// whichever is smaller: a transpose swaps rows with columns). Equal for shuffles of one puzzle, rarely
// equal otherwise, and ~1000x cheaper than canonical_form (~2 us): it picks the few puzzles worth
// canonicalising when only the matches between two sets are wanted.
uint64_t shuffle_signature(const Grid& g);

}  // namespace hrm::sudoku
