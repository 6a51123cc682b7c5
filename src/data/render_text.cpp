// render_text.cpp: see render_text.h.
#include "data/render_text.h"

#include <algorithm>

#include "data/maze.h"

namespace hrm::data {
namespace {

int64_t square_side(int64_t n) {
  int64_t side = 1;
  while ((side + 1) * (side + 1) <= n) ++side;
  return side * side == n ? side : 0;
}

}  // namespace

TaskKind task_kind(const DatasetMetadata& m) {
  const int64_t side = square_side(m.seq_len);
  if ((side == 4 || side == 6 || side == 9) && m.vocab_size == side + 2) return TaskKind::kSudoku;
  if (m.vocab_size == maze::kVocabSize && side > 0) return TaskKind::kMaze;
  if (m.vocab_size == 12 && m.seq_len == 900) return TaskKind::kArc;  // 30x30 canvas, PAD, EOS, 10 colours
  return TaskKind::kOther;
}

std::string token_cell(const DatasetMetadata& m, int32_t t) {
  switch (task_kind(m)) {
    case TaskKind::kSudoku:  // token = digit + 1: PAD 0, blank 1
      return std::string(1, t == 0 ? '?' : t == 1 ? '.' : static_cast<char>('0' + t - 1));
    case TaskKind::kMaze:
      return std::string(1, t >= 1 && t <= 5 ? maze::kCharset[t - 1] : '?');
    case TaskKind::kArc:  // PAD 0, EOS 1, colour + 2
      return std::string(1, t == 0 ? '.' : t == 1 ? '|' : static_cast<char>('0' + t - 2));
    case TaskKind::kOther:
      break;
  }
  const std::string s = std::to_string(t);
  const size_t w = std::to_string(std::max<int64_t>(m.vocab_size - 1, 0)).size() + 1;
  return std::string(w > s.size() ? w - s.size() : 0, ' ') + s;
}

std::string legend(const DatasetMetadata& m) {
  switch (task_kind(m)) {
    case TaskKind::kSudoku: return "(digits; '.' blank, '?' PAD)";
    case TaskKind::kMaze: return "('#' wall, ' ' open, S start, G goal, o path, '?' PAD)";
    case TaskKind::kArc: return "(colours 0-9; '.' PAD, '|' EOS)";
    case TaskKind::kOther: break;
  }
  return "";
}

std::string render_side_by_side(const DatasetMetadata& m, const std::vector<TextGrid>& grids) {
  const int64_t side = square_side(m.seq_len);
  const int64_t width = side ? side : m.seq_len;
  const size_t cell_w = token_cell(m, 0).size();
  const size_t col_w = std::max<size_t>(static_cast<size_t>(width) * cell_w, 1);
  std::string out;
  for (size_t g = 0; g < grids.size(); ++g) {
    const std::string& t = grids[g].title;
    out += t + (g + 1 < grids.size() ? std::string(col_w + 3 > t.size() ? col_w + 3 - t.size() : 1, ' ') : "");
  }
  out += "\n";
  for (int64_t r = 0; r * width < m.seq_len; ++r) {
    for (size_t g = 0; g < grids.size(); ++g) {
      const TextGrid& grid = grids[g];
      for (int64_t c = 0; c < width; ++c) {
        const size_t i = static_cast<size_t>(r * width + c);
        const bool mark = i < grid.marked.size() && grid.marked[i];
        const int32_t tok = i < grid.tokens.size() ? grid.tokens[i] : 0;
        out += mark ? std::string(cell_w - 1, ' ') + "x" : token_cell(m, tok);
      }
      if (g + 1 < grids.size()) out += "   ";
    }
    out += "\n";
  }
  return out;
}

}  // namespace hrm::data
