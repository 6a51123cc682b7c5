// mini_sudoku.cpp: see mini_sudoku.h.
#include "data/mini_sudoku.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/atomic_file.h"
#include "core/check.h"
#include "data/dataset.h"

namespace hrm::data {
namespace {

constexpr uint64_t kPuzzleStream = 0x6d696e69;  // "mini"

// Candidate digits of each empty cell as bit masks over the row, column and box in use.
struct Masks {
  std::vector<uint32_t> row, col, box;
  explicit Masks(const MiniSudokuShape& s) : row(s.size), col(s.size), box(s.size) {}
};
int box_of(const MiniSudokuShape& s, int cell) {
  const int r = cell / s.size, c = cell % s.size;
  return (r / s.box_rows) * (s.size / s.box_cols) + c / s.box_cols;
}
void place(const MiniSudokuShape& s, Masks& m, int cell, int d, bool on) {
  const uint32_t bit = 1u << d;
  const int r = cell / s.size, c = cell % s.size, b = box_of(s, cell);
  if (on) m.row[r] |= bit, m.col[c] |= bit, m.box[b] |= bit;
  else m.row[r] &= ~bit, m.col[c] &= ~bit, m.box[b] &= ~bit;
}
uint32_t candidates(const MiniSudokuShape& s, const Masks& m, int cell) {
  const uint32_t all = ((1u << s.size) - 1) << 1;  // digits 1..size
  return all & ~(m.row[cell / s.size] | m.col[cell % s.size] | m.box[box_of(s, cell)]);
}

bool init_masks(const MiniSudokuShape& s, const MiniGrid& g, Masks& m) {
  for (int i = 0; i < s.cells(); ++i) {
    if (!g[i]) continue;
    if (!(candidates(s, m, i) & (1u << g[i]))) return false;  // a clue repeats in its row, column or box
    place(s, m, i, g[i], true);
  }
  return true;
}

void search(const MiniSudokuShape& s, MiniGrid& g, Masks& m, int limit, int& found, MiniGrid* first) {
  int best = -1, best_count = 99;
  for (int i = 0; i < s.cells(); ++i) {  // the empty cell with the fewest candidates
    if (g[i]) continue;
    const int n = __builtin_popcount(candidates(s, m, i));
    if (n < best_count) best = i, best_count = n;
  }
  if (best < 0) {
    if (found++ == 0 && first) *first = g;
    return;
  }
  const uint32_t cand = candidates(s, m, best);
  for (int d = 1; d <= s.size && found < limit; ++d) {
    if (!(cand & (1u << d))) continue;
    g[best] = static_cast<uint8_t>(d);
    place(s, m, best, d, true);
    search(s, g, m, limit, found, first);
    place(s, m, best, d, false);
    g[best] = 0;
  }
}

bool fill_random(const MiniSudokuShape& s, MiniGrid& g, Masks& m, int cell, Rng& rng) {
  if (cell == s.cells()) return true;
  std::vector<int> digits(s.size);
  for (int d = 0; d < s.size; ++d) digits[d] = d + 1;
  rng.shuffle(digits);
  const uint32_t cand = candidates(s, m, cell);
  for (int d : digits) {
    if (!(cand & (1u << d))) continue;
    g[cell] = static_cast<uint8_t>(d);
    place(s, m, cell, d, true);
    if (fill_random(s, g, m, cell + 1, rng)) return true;
    place(s, m, cell, d, false);
  }
  g[cell] = 0;
  return false;
}

std::string grid_text(const MiniGrid& g) {
  std::string t;
  for (uint8_t v : g) t += v ? static_cast<char>('0' + v) : '.';
  return t;
}

// A seeded hash of the grid in [0, 1): which split a solution grid belongs to.
double grid_hash01(const MiniGrid& g, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (uint8_t v : g) h = (h ^ v) * 0x100000001b3ULL;
  Rng r(h);
  return r.uniform();
}

}  // namespace

MiniSudokuShape mini_sudoku_shape(int size) {
  if (size == 4) return {4, 2, 2};
  if (size == 6) return {6, 2, 3};
  HRM_THROW(ConfigError, "mini Sudoku --size ", size, ": expected 4 (2x2 boxes) or 6 (2x3 boxes); 9 is `hrm data sudoku` proper");
}

int count_solutions(const MiniSudokuShape& s, MiniGrid puzzle, int limit, MiniGrid* first) {
  HRM_CHECK(static_cast<int>(puzzle.size()) == s.cells(), "mini Sudoku grid of ", puzzle.size(), " cells, expected ", s.cells());
  Masks m(s);
  if (!init_masks(s, puzzle, m)) return 0;
  int found = 0;
  search(s, puzzle, m, limit, found, first);
  return found;
}

MiniGrid random_solution(const MiniSudokuShape& s, Rng& rng) {
  MiniGrid g(static_cast<size_t>(s.cells()), 0);
  Masks m(s);
  HRM_CHECK(fill_random(s, g, m, 0, rng), "no full ", s.size, "x", s.size, " grid found (cannot happen)");
  return g;
}

MiniGrid make_puzzle(const MiniSudokuShape& s, const MiniGrid& solution, int blanks, Rng& rng) {
  MiniGrid p = solution;
  std::vector<int> order(static_cast<size_t>(s.cells()));
  for (int i = 0; i < s.cells(); ++i) order[i] = i;
  rng.shuffle(order);
  int blanked = 0;
  for (int cell : order) {
    if (blanked == blanks) break;
    const uint8_t keep = p[cell];
    p[cell] = 0;
    if (count_solutions(s, p, 2) == 1) ++blanked;
    else p[cell] = keep;  // this clue is needed for uniqueness
  }
  return p;
}

MiniSudokuBuildSummary build_mini_sudoku_dataset(const MiniSudokuBuildConfig& cfg) {
  const MiniSudokuShape shape = mini_sudoku_shape(cfg.size);
  const int blanks = cfg.blanks < 0 ? shape.cells() / 2 + 2 : cfg.blanks;
  if (blanks > shape.cells())
    HRM_THROW(ConfigError, "--blanks ", blanks, ": a ", cfg.size, "x", cfg.size, " grid has ", shape.cells(), " cells");
  if (cfg.train_size < 1 || cfg.test_size < 1)
    HRM_THROW(ConfigError, "--train-size and --test-size must be >= 1 (got ", cfg.train_size, " and ", cfg.test_size, ")");
  if (!(cfg.test_grid_fraction > 0 && cfg.test_grid_fraction < 1))
    HRM_THROW(ConfigError, "test grid fraction ", cfg.test_grid_fraction, ": expected a value in (0, 1)");
  check_dataset_output(cfg.output_dir, {});

  // Puzzles are drawn one by one from their own seeded stream; a grid's split is fixed by its
  // hash, and a puzzle already drawn is skipped, so neither split repeats and none is shared.
  std::vector<std::pair<MiniGrid, MiniGrid>> splits[2];  // (puzzle, solution)
  std::set<MiniGrid> seen;
  const int64_t max_attempts = 200 * (cfg.train_size + cfg.test_size);
  int64_t attempt = 0, blank_total = 0;
  // New puzzles get rarer as a split fills its share of the distinct ones (4x4 with 10 blanks: a
  // request for 3,000,000 stopped at 721,097 training puzzles); a request above that share would draw
  // for hours before max_attempts. Every window of draws, once fewer than 1 in 10 are new, the draws
  // the rest would need at that rate are compared with those made so far.
  constexpr int64_t kWindow = 1 << 16;
  int64_t accepted_before_window = 0;
  const auto too_few = [&](int64_t draws) {
    HRM_THROW(ConfigError, "mini Sudoku: only ", splits[0].size(), " of ", cfg.train_size, " training and ",
              splits[1].size(), " of ", cfg.test_size, " test puzzles after ", draws, " draws (", cfg.size, "x",
              cfg.size, " with ", blanks, " blanks has too few distinct puzzles): ask for fewer or change --blanks");
  };
  while (static_cast<int64_t>(splits[0].size()) < cfg.train_size || static_cast<int64_t>(splits[1].size()) < cfg.test_size) {
    if (attempt == max_attempts) too_few(attempt);
    if (attempt > 0 && attempt % kWindow == 0) {
      const int64_t accepted = static_cast<int64_t>(splits[0].size() + splits[1].size());
      const int64_t fresh = accepted - accepted_before_window, rest = cfg.train_size + cfg.test_size - accepted;
      if (fresh * 10 < kWindow && static_cast<double>(rest) * kWindow / std::max<int64_t>(fresh, 1) > 2.0 * attempt)
        too_few(attempt);
      accepted_before_window = accepted;
    }
    Rng rng = Rng::derive(cfg.seed, kPuzzleStream, static_cast<uint64_t>(attempt++));
    MiniGrid solution = random_solution(shape, rng);
    const int split = grid_hash01(solution, cfg.seed) < cfg.test_grid_fraction ? 1 : 0;
    const int64_t want = split ? cfg.test_size : cfg.train_size;
    if (static_cast<int64_t>(splits[split].size()) >= want) continue;
    MiniGrid puzzle = make_puzzle(shape, solution, blanks, rng);
    if (!seen.insert(puzzle).second) continue;
    blank_total += std::count(puzzle.begin(), puzzle.end(), 0);
    splits[split].emplace_back(std::move(puzzle), std::move(solution));
  }

  DatasetWriter writer(cfg.output_dir);
  const char* names[2] = {"train", "test"};
  DatasetMetadata meta;  // as the Sudoku builder: PAD 0, ignore 0, one blank identifier
  meta.pad_id = 0;
  meta.ignore_label_id = 0;
  meta.blank_identifier_id = 0;
  meta.num_puzzle_identifiers = 1;
  std::filesystem::create_directories(writer.temp_dir() / "input");
  for (int s = 0; s < 2; ++s) {
    SplitWriter& w = writer.split(names[s], shape.cells(), shape.size + 2);  // PAD, blank, digits
    std::string csv = "source,question,answer,rating\n";
    std::vector<uint8_t> in(static_cast<size_t>(shape.cells())), lab(in.size());
    for (const auto& [puzzle, solution] : splits[s]) {
      for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(puzzle[i] + 1), lab[i] = static_cast<uint8_t>(solution[i] + 1);
      w.begin_group();
      w.begin_puzzle(0);
      w.add_example(in.data(), lab.data());
      csv += "mini-sudoku-seed-" + std::to_string(cfg.seed) + "," + grid_text(puzzle) + "," + grid_text(solution) + ",\n";
    }
    w.finish(meta);
    write_file_atomic((writer.temp_dir() / "input" / (std::string(names[s]) + ".csv")).string(), csv);
  }
  writer.commit({"<blank>"});
  MiniSudokuBuildSummary summary;
  summary.train_puzzles = static_cast<int64_t>(splits[0].size());
  summary.test_puzzles = static_cast<int64_t>(splits[1].size());
  summary.mean_blanks = static_cast<double>(blank_total) / static_cast<double>(summary.train_puzzles + summary.test_puzzles);
  return summary;
}

}  // namespace hrm::data
