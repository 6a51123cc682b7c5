// maze.h: mazes in the reference's text form, their CSV files, checking and generation.
// Mirrors the input side of dataset/build_maze_dataset.py: a CSV `source,question,answer,rating`
// with 30x30 row-major strings over "# SGo" (wall, open, start, goal, shortest path).
// Differs: the reference downloads Maze-Hard and trusts it; here every answer is checked (one S,
// one G, path cells exactly a shortest 4-neighbour path) and a seeded generator makes new mazes
// after the published recipe (random walls, random start and goal, BFS, keep long paths).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hrm::data::maze {

inline constexpr char kCharset[] = "# SGo";  // token = index + 1, PAD 0 (build_maze_dataset.py CHARSET)
inline constexpr int64_t kVocabSize = 6;

struct MazeRecord {
  std::string source, question, answer, rating;
  int64_t line = 0;  // 1-based line of the record in its CSV (for messages)
};

// Parses CSV text as Python's csv.reader does for this file (quotes, "" escapes, LF or CRLF);
// the first record is the header and is skipped. Every record must have 4 fields.
// FormatError naming `name`, the line and what was expected.
std::vector<MazeRecord> parse_maze_csv(const std::string& text, const std::string& name);
std::vector<MazeRecord> read_maze_csv(const std::string& path);
// CSV text with the header line, LF line ends (as the fixture's input files).
std::string format_maze_csv(const std::vector<MazeRecord>& records);

// Grid side of a question (int(sqrt(len)), as the reference takes it from the first row).
int64_t grid_side(const std::string& question);

// Checks one record against the side: lengths, alphabet, exactly one S and one G in the question,
// the answer equal to the question except open cells marked 'o', and those marks exactly a
// shortest path from S to G. Returns the path length in moves. FormatError naming `name:line`.
int64_t check_maze(const MazeRecord& r, int64_t side, const std::string& name);

// BFS distances (moves, -1 unreachable) from cell `from` over non-wall cells of a side x side grid.
std::vector<int32_t> bfs_distances(const std::string& grid, int64_t side, int64_t from);

// The question with S and G opened: the wall layout (no layout may be shared by train and test).
std::string wall_layout(const std::string& question);

// Tokens of a maze string: kCharset index + 1. FormatError for other characters.
std::vector<uint8_t> encode(const std::string& grid, const std::string& where);

struct GeneratorConfig {
  int64_t side = 30;
  double wall_min = 0.3, wall_max = 0.5;  // fraction of cells that are walls, drawn per maze
  int64_t min_path_length = 110;          // keep mazes whose shortest path is LONGER than this (moves)
  uint64_t seed = 0;
};

struct GeneratedMaze {
  std::string question, answer;
  int64_t path_length = 0;
  uint64_t attempt = 0;  // attempt index within the seed's stream
};

// One attempt, a pure function of (config, attempt): walls, start, BFS, goal. The wall count is
// uniform in [wall_min, wall_max] * cells, their cells uniform; S uniform over open cells; G uniform
// over the cells farther than min_path_length from S (drawing G uniformly and redrawing until it is
// far enough, for these walls and S); nullopt when there is none. The path marked is the BFS
// shortest path with neighbours in the order up, down, left, right.
std::optional<GeneratedMaze> try_generate(const GeneratorConfig& config, uint64_t attempt);

// train_size + test_size distinct mazes: attempts in index order, accepted ones to train until full,
// then to test (skipping mazes whose wall layout is in train). Threads only evaluate attempts;
// the result depends on the seed alone.
struct GeneratedSplits {
  std::vector<GeneratedMaze> train, test;
  uint64_t attempts = 0;
};
GeneratedSplits generate(const GeneratorConfig& config, int64_t train_size, int64_t test_size, int threads);

}  // namespace hrm::data::maze
