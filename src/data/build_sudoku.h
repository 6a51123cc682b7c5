// build_sudoku.h: `hrm data sudoku`, the Sudoku dataset builder.
// Mirrors dataset/build_sudoku_dataset.py (convert_subset / preprocess_data) of sapientinc/HRM@42410da:
// token = digit + 1 (blank 1, PAD 0), vocab 11, seq_len 81, one example per puzzle, identifier 0,
// a group per source puzzle (in train: the puzzle unchanged, then num_aug shuffled copies; test is
// not augmented), min_difficulty filters on the rating, subsample_size draws training puzzles,
// metadata pad 0 / ignore 0 / blank 0 / one identifier, identifiers.json ["<blank>"].
// Differs: reads local files (the reference downloads from a model hub): the reference's CSV or
// plain puzzle lists, which it solves itself (sudoku.h), or puzzles it generates; checks every
// answer; every draw comes from hrm::Rng streams of (seed, purpose, index), so the output is
// byte-identical for a seed whatever the thread count; tokens are uint8 in both splits (the
// reference's train arrays come out int64 by accident of numpy promotion); output is streamed
// and atomic (data::DatasetWriter).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/sudoku.h"

namespace hrm::data {

// What to do with a puzzle that has no solution or more than one.
enum class OnInvalid { kSkip, kError };

struct SudokuBuildConfig {
  std::string output_dir;
  // Inputs, one of three ways: a file per split (as the reference); or `inputs` pooled, cleared of
  // repeats up to the reference's shuffles (sudoku::canonical_form) and split by train_size and
  // test_size; or `generate` new puzzles, split the same way. A file is the reference's CSV when
  // its first line holds a comma, otherwise a puzzle list.
  std::string train_input, test_input;
  std::vector<std::string> inputs;
  int64_t generate = 0;
  int64_t min_rating = 0;  // generator: minimum rating (sudoku::rating) of each new puzzle
  std::optional<int64_t> train_size, test_size;  // pooled and generated inputs; test: the rest
  std::optional<int64_t> subsample_size;         // training puzzles kept (reference option)
  std::optional<int64_t> min_difficulty;         // keep puzzles rated >= this (reference option)
  int64_t num_aug = 1000;                        // shuffled copies per training puzzle
  uint64_t seed = 0;
  OnInvalid on_invalid = OnInvalid::kError;
  bool save_csv = true;  // the puzzles of each split as <output>/input/{train,test}.csv
  int threads = 1;
};

struct SudokuPuzzle {
  sudoku::Grid puzzle{};
  sudoku::Grid solution{};
  bool solved = false;  // solution and rating known (CSV rows, generated, or solved lists)
  int64_t rating = -1;  // the CSV's rating column, else sudoku::rating(); -1: unknown
  std::string source;   // CSV source column, the list file's name, or the generator's seed
  std::string where;    // "file:line", for messages
};

struct SudokuBuildSummary {
  int64_t read = 0;                           // puzzles read or generated
  int64_t duplicates = 0;                     // pooled inputs: repeats, or shuffles of an earlier puzzle, dropped
  int64_t unsolvable = 0, multiple = 0;       // skipped (OnInvalid::kSkip)
  int64_t below_min_difficulty = 0;           // dropped by min_difficulty
  int64_t test_in_train = 0;                  // --train/--test: test puzzles that are training puzzles or shuffles of them
  int64_t train_puzzles = 0, test_puzzles = 0, train_examples = 0, test_examples = 0;
  double mean_train_rating = 0, mean_test_rating = 0;
};

// Parses a CSV `source,question,answer,rating` with a header row (question: '.' or '0' blanks;
// the answer must be a valid solved grid agreeing with the question; rating an integer or empty)
// or a puzzle list (81 cells a line, '.' or '0' blanks, then optionally a comment: sudoku::split_list_line;
// '#' comment lines, blank lines, CRLF).
// FormatError naming `name`, the line and what was expected.
std::vector<SudokuPuzzle> parse_sudoku_text(const std::string& text, const std::string& name);
std::vector<SudokuPuzzle> read_sudoku_file(const std::string& path);

// Solves the unsolved puzzles (limit 2) on `threads` threads, filling solution and rating. A puzzle
// with no or several solutions is dropped and counted, or is an error naming its place.
void solve_puzzles(std::vector<SudokuPuzzle>& puzzles, OnInvalid on_invalid, int threads, SudokuBuildSummary& summary);

// Appends one split: a group per puzzle holding the puzzle, then `num_aug` shuffles drawn from
// Rng::derive(seed, kAugStream, group index); tokens are cells + 1.
void write_sudoku_split(SplitWriter& split, const std::vector<SudokuPuzzle>& puzzles, int64_t num_aug, uint64_t seed,
                        int threads);

// The reference's CSV for a split's puzzles (header row, LF line ends, '.' blanks).
std::string format_sudoku_csv(const std::vector<SudokuPuzzle>& puzzles);

SudokuBuildSummary build_sudoku_dataset(const SudokuBuildConfig& config);

}  // namespace hrm::data
