// build_maze.h: `hrm data maze`, the maze dataset builder.
// Mirrors dataset/build_maze_dataset.py (convert_subset / preprocess_data): tokens "# SGo" -> 1..5,
// one example per puzzle, identifier 0, a group per maze (with --aug: the maze and its 8 dihedral
// transforms, train split only), metadata with num_puzzle_identifiers 1, identifiers ["<blank>"].
// Differs: reads the CSVs from a local directory (no model-hub download) and checks every answer,
// or generates the mazes itself (maze.h); --subsample-size draws from a seeded Rng instead of
// numpy's global generator; tokens are uint8 as in the reference; output is atomic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/maze.h"

namespace hrm::data {

struct MazeBuildConfig {
  std::string output_dir;
  std::string input_dir;  // holds train.csv and test.csv; empty: generate the mazes
  std::optional<int64_t> subsample_size;  // train split only, as the reference
  bool aug = false;                       // 8 dihedral transforms of each training maze
  bool check = true;                      // check every CSV answer (maze::check_maze)
  uint64_t seed = 0;
  // Generation (input_dir empty):
  maze::GeneratorConfig generator;
  int64_t train_size = 1000, test_size = 1000;
  bool save_csv = true;  // write the generated mazes to <output>/input/{train,test}.csv
  int threads = 1;
};

struct MazeBuildSummary {
  int64_t train_examples = 0, test_examples = 0;
  uint64_t attempts = 0;  // generator attempts (0 when importing)
};

// Appends one split's mazes to `split`: a group per maze, a puzzle (and example) per transform.
// `name` is the CSV file for messages; records are checked when `check`.
void write_maze_split(SplitWriter& split, const std::vector<maze::MazeRecord>& records, int64_t side, bool aug,
                      bool check, const std::string& name);

MazeBuildSummary build_maze_dataset(const MazeBuildConfig& config);

}  // namespace hrm::data
