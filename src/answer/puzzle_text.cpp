// puzzle_text.cpp: see puzzle_text.h.
#include "answer/puzzle_text.h"

#include <cmath>

#include "core/check.h"
#include "data/maze.h"
#include "data/render_text.h"

namespace hrm::answer {

Kind kind_of(int64_t seq_len, int64_t vocab_size) {
  data::DatasetMetadata m;  // one rule for every command: data::task_kind (Sudoku 4x4, 6x6, 9x9 included)
  m.seq_len = seq_len;
  m.vocab_size = vocab_size;
  switch (data::task_kind(m)) {
    case data::TaskKind::kSudoku: return Kind::kSudoku;
    case data::TaskKind::kMaze: return Kind::kMaze;
    case data::TaskKind::kArc: return Kind::kArc;
    case data::TaskKind::kOther: break;
  }
  return Kind::kOther;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kSudoku: return "sudoku";
    case Kind::kMaze: return "maze";
    case Kind::kArc: return "arc";
    case Kind::kOther: break;
  }
  return "other";
}

std::vector<int32_t> sudoku_tokens(const sudoku::Grid& g) {
  std::vector<int32_t> t(sudoku::kCells);
  for (int i = 0; i < sudoku::kCells; ++i) t[i] = g[i] + 1;
  return t;
}

sudoku::Grid sudoku_from_tokens(const int32_t* tokens) {
  sudoku::Grid g{};
  for (int i = 0; i < sudoku::kCells; ++i) g[i] = tokens[i] >= 1 && tokens[i] <= 10 ? static_cast<uint8_t>(tokens[i] - 1) : 0;
  return g;
}

std::string sudoku_render(const sudoku::Grid& g) {
  std::string out;
  for (int r = 0; r < 9; ++r) {
    if (r == 3 || r == 6) out += "------+-------+------\n";
    for (int c = 0; c < 9; ++c) {
      if (c == 3 || c == 6) out += "| ";
      out += g[r * 9 + c] ? static_cast<char>('0' + g[r * 9 + c]) : '.';
      out += c == 8 ? "\n" : " ";
    }
  }
  return out;
}

namespace {

// A maze to solve: one start, one goal, and no path drawn yet (the model draws it).
void check_maze_question(const std::string& grid, size_t side, const std::string& where) {
  std::vector<size_t> starts, goals;
  for (size_t i = 0; i < grid.size(); ++i) {
    if (grid[i] == 'S') starts.push_back(i);
    if (grid[i] == 'G') goals.push_back(i);
    if (grid[i] == 'o')
      HRM_THROW(FormatError, where, ": a path cell 'o' at row ", i / side + 1, ", column ", i % side + 1,
                "; give the maze without its path (\"# SG\")");
  }
  for (const auto& [cells, name] : {std::pair<const std::vector<size_t>&, const char*>{starts, "start 'S'"}, {goals, "goal 'G'"}})
    if (cells.size() != 1)
      HRM_THROW(FormatError, where, ": a maze needs exactly one ", name, ", found ", cells.size(),
                cells.size() > 1 ? " (rows " + std::to_string(cells[0] / side + 1) + " and " + std::to_string(cells[1] / side + 1) + ")"
                                 : std::string());
}

}  // namespace

std::string parse_maze_text(const std::string& text, const std::string& where) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    pos = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) HRM_THROW(FormatError, where, ": no maze (expected lines over \"# SGo\")");
  if (lines.size() == 1) {  // the CSV form: side*side characters on one line
    const auto side = static_cast<size_t>(std::llround(std::sqrt(static_cast<double>(lines[0].size()))));
    if (side * side != lines[0].size() || side < 2)
      HRM_THROW(FormatError, where, ": a one-line maze needs a square number of characters, found ", lines[0].size());
    maze_tokens(lines[0], where);  // checks the alphabet
    check_maze_question(lines[0], side, where);
    return lines[0];
  }
  const size_t side = lines.size();
  std::string grid;
  for (size_t i = 0; i < side; ++i) {
    if (lines[i].size() > side)
      HRM_THROW(FormatError, where, ":", i + 1, ": ", lines[i].size(), " characters on a line of a ", side,
                "-line maze (a maze is square: as many characters per line as lines)");
    grid += lines[i] + std::string(side - lines[i].size(), ' ');
  }
  maze_tokens(grid, where);
  check_maze_question(grid, side, where);
  return grid;
}

std::vector<int32_t> maze_tokens(const std::string& grid, const std::string& where) {
  const std::vector<uint8_t> t = data::maze::encode(grid, where);
  return std::vector<int32_t>(t.begin(), t.end());
}

std::string maze_from_tokens(const int32_t* tokens, int64_t n) {
  std::string s(static_cast<size_t>(n), '?');
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] >= 1 && tokens[i] <= 5) s[static_cast<size_t>(i)] = data::maze::kCharset[tokens[i] - 1];
  return s;
}

std::string maze_render(const std::string& grid) {
  const auto side = static_cast<size_t>(std::llround(std::sqrt(static_cast<double>(grid.size()))));
  std::string out;
  for (size_t r = 0; r < side; ++r) out += grid.substr(r * side, side) + "\n";
  return out;
}

std::vector<int32_t> arc_tokens(const arc::Grid& g) {
  std::vector<uint8_t> t(arc::kSeqLen);
  arc::encode_grid(g, 0, 0, t.data());
  return std::vector<int32_t>(t.begin(), t.end());
}

std::string arc_render(const arc::Grid& g) {
  if (g.rows * g.cols == 0) return "(empty)\n";
  std::string out;
  for (int r = 0; r < g.rows; ++r) {
    for (int c = 0; c < g.cols; ++c) out += static_cast<char>('0' + g.at(r, c));
    out += "\n";
  }
  return out;
}

}  // namespace hrm::answer
