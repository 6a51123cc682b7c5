// sudoku.cpp: see sudoku.h. The solver keeps a 9-bit candidate mask per cell; states are small
// (81 masks + 81 values) and copied at each branch, which is simpler than undo logs and fast
// enough for the hardest published puzzles (well under a millisecond each).
#include "data/sudoku.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <vector>

#include "core/check.h"

namespace hrm::sudoku {
namespace {

constexpr uint16_t kAll = 0x1FF;  // candidates 1..9 as bits 0..8

inline uint16_t bit(int d) { return static_cast<uint16_t>(1u << (d - 1)); }
inline int popcount(uint16_t m) { return __builtin_popcount(m); }
inline int lowest_digit(uint16_t m) { return __builtin_ctz(m) + 1; }

// The 27 units (rows, columns, boxes) and the 20 peers of each cell.
struct Tables {
  std::array<std::array<uint8_t, 9>, 27> units{};
  std::array<std::array<uint8_t, 20>, kCells> peers{};
  // For each of the 3 bands and 3 stacks, its 9 mini-lines (3 cells of one line in one box),
  // indexed 3 * line-in-band + box-in-band.
  std::array<std::array<std::array<uint8_t, 3>, 9>, 6> bands{};
  Tables() {
    for (int b = 0; b < 3; ++b)
      for (int l = 0; l < 3; ++l)
        for (int k = 0; k < 3; ++k)
          for (int j = 0; j < 3; ++j) {
            bands[b][3 * l + k][j] = static_cast<uint8_t>((3 * b + l) * 9 + 3 * k + j);      // rows
            bands[3 + b][3 * l + k][j] = static_cast<uint8_t>((3 * k + j) * 9 + 3 * b + l);  // columns
          }
    for (int i = 0; i < 9; ++i)
      for (int j = 0; j < 9; ++j) {
        units[i][j] = static_cast<uint8_t>(i * 9 + j);                                          // row i
        units[9 + i][j] = static_cast<uint8_t>(j * 9 + i);                                      // column i
        units[18 + i][j] = static_cast<uint8_t>((i / 3 * 3 + j / 3) * 9 + i % 3 * 3 + j % 3);  // box i
      }
    for (int c = 0; c < kCells; ++c) {
      int n = 0;
      for (int p = 0; p < kCells; ++p) {
        const bool same_row = p / 9 == c / 9, same_col = p % 9 == c % 9;
        const bool same_box = p / 27 == c / 27 && p % 9 / 3 == c % 9 / 3;
        if (p != c && (same_row || same_col || same_box)) peers[c][n++] = static_cast<uint8_t>(p);
      }
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

struct State {
  std::array<uint16_t, kCells> cand;  // a filled cell holds exactly its digit's bit
  Grid value;                         // 0 = still empty
  int filled = 0;
};

State empty_state() {
  State s;
  s.cand.fill(kAll);
  s.value.fill(0);
  return s;
}

// Places d at c and removes d from its peers; false on a contradiction.
bool assign(State& s, int c, int d) {
  const uint16_t b = bit(d);
  if (!(s.cand[c] & b)) return false;
  s.value[c] = static_cast<uint8_t>(d);
  s.cand[c] = b;
  ++s.filled;
  for (uint8_t p : tables().peers[c]) {
    if (!(s.cand[p] & b)) continue;
    s.cand[p] = static_cast<uint16_t>(s.cand[p] & ~b);
    if (s.cand[p] == 0) return false;  // also catches a filled peer holding d
  }
  return true;
}

// Removes `digits` from the empty cells of mini-line `cells`; true when something changed.
bool eliminate(State& s, const uint8_t* cells, uint16_t digits) {
  bool changed = false;
  for (int i = 0; i < 3; ++i) {
    const uint8_t c = cells[i];
    if (s.cand[c] & digits) {
      s.cand[c] = static_cast<uint16_t>(s.cand[c] & ~digits);
      changed = true;
    }
  }
  return changed;
}

// Locked candidates on the 3x3 mini-lines of one band (rows) or stack (columns): a digit that
// a box holds only in one mini-line leaves the rest of that line, and a digit that a line holds
// only in one box leaves the rest of that box.
bool locked_candidates(State& s, const std::array<std::array<uint8_t, 3>, 9>& mini) {
  bool changed = false;
  std::array<uint16_t, 9> m{};  // mini[3 * line + box]
  for (int i = 0; i < 9; ++i) m[i] = s.cand[mini[i][0]] | s.cand[mini[i][1]] | s.cand[mini[i][2]];
  for (int l = 0; l < 3; ++l)
    for (int b = 0; b < 3; ++b) {
      const int l1 = (l + 1) % 3, l2 = (l + 2) % 3, b1 = (b + 1) % 3, b2 = (b + 2) % 3;
      const uint16_t own = m[3 * l + b];
      const uint16_t pointing = own & ~(m[3 * l1 + b] | m[3 * l2 + b]);  // only here in box b
      const uint16_t claiming = own & ~(m[3 * l + b1] | m[3 * l + b2]);  // only here in line l
      if (pointing) {
        changed |= eliminate(s, mini[3 * l + b1].data(), pointing);
        changed |= eliminate(s, mini[3 * l + b2].data(), pointing);
      }
      if (claiming) {
        changed |= eliminate(s, mini[3 * l1 + b].data(), claiming);
        changed |= eliminate(s, mini[3 * l2 + b].data(), claiming);
      }
    }
  return changed;
}

// Naked and hidden singles to a fixpoint; false on a dead end.
bool propagate(State& s) {
  for (bool changed = true; changed;) {
    changed = false;
    for (int c = 0; c < kCells; ++c) {
      if (s.value[c] != 0) continue;
      const uint16_t m = s.cand[c];
      if (m == 0) return false;
      if (popcount(m) == 1) {
        if (!assign(s, c, lowest_digit(m))) return false;
        changed = true;
      }
    }
    for (const auto& unit : tables().units) {
      uint16_t once = 0, twice = 0;
      for (uint8_t c : unit) {
        twice |= once & s.cand[c];
        once |= s.cand[c];
      }
      if (once != kAll) return false;  // a digit with no place left in this unit
      for (uint16_t hidden = once & ~twice; hidden; hidden &= hidden - 1) {
        const int d = lowest_digit(hidden);
        const uint8_t* at = std::find_if(unit.begin(), unit.end(), [&](uint8_t c) { return s.cand[c] & bit(d); });
        if (at == unit.end()) return false;  // an earlier placement in this unit took its only place
        if (s.value[*at] != 0) continue;
        if (!assign(s, *at, d)) return false;
        changed = true;
      }
    }
    if (!changed)
      for (const auto& band : tables().bands) changed |= locked_candidates(s, band);
  }
  return true;
}

// The empty cell with the fewest candidates, lowest index first.
int branch_cell(const State& s) {
  int best = -1, best_n = 10;
  for (int c = 0; c < kCells; ++c) {
    if (s.value[c] != 0) continue;
    const int n = popcount(s.cand[c]);
    if (n < best_n) {
      best = c;
      best_n = n;
      if (n == 2) break;
    }
  }
  return best;
}

void search(State s, int64_t limit, SolveResult& r) {
  if (!propagate(s)) return;
  if (s.filled == kCells) {
    if (r.solutions == 0) r.solution = s.value;
    ++r.solutions;
    return;
  }
  const int c = branch_cell(s);
  ++r.guesses;
  for (uint16_t m = s.cand[c]; m && r.solutions < limit; m &= m - 1) {
    State t = s;
    if (assign(t, c, lowest_digit(m))) search(t, limit, r);
  }
}

// A uniformly drawn digit order at each branch makes the first solution a random solved grid.
bool random_fill(State s, Rng& rng, Grid& out) {
  if (!propagate(s)) return false;
  if (s.filled == kCells) {
    out = s.value;
    return true;
  }
  const int c = branch_cell(s);
  std::vector<int> digits;
  for (uint16_t m = s.cand[c]; m; m &= m - 1) digits.push_back(lowest_digit(m));
  rng.shuffle(digits);
  for (int d : digits) {
    State t = s;
    if (assign(t, c, d) && random_fill(t, rng, out)) return true;
  }
  return false;
}

// Blanks the given cells of `puzzle` in random order wherever the solution stays unique.
void remove_clues(Grid& puzzle, std::vector<int64_t> cells, Rng& rng) {
  rng.shuffle(cells);
  for (int64_t c : cells) {
    const uint8_t keep = puzzle[c];
    if (keep == 0) continue;
    puzzle[c] = 0;
    if (solve(puzzle, 2).solutions != 1) puzzle[c] = keep;
  }
}

}  // namespace

Grid parse_grid(std::string_view text, const std::string& where, bool allow_blanks) {
  if (text.size() != kCells)
    HRM_THROW(FormatError, where, ": expected 81 cells, got ", text.size(), " characters");
  Grid g{};
  for (int i = 0; i < kCells; ++i) {
    const char ch = text[i];
    if (ch >= '1' && ch <= '9') {
      g[i] = static_cast<uint8_t>(ch - '0');
    } else if (allow_blanks && (ch == '.' || ch == '0')) {
      g[i] = 0;
    } else {
      char hex[8];  // a byte that does not print, as \xff
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(ch)));
      const std::string shown = std::isprint(static_cast<unsigned char>(ch)) ? std::string(1, ch) : std::string(hex);
      HRM_THROW(FormatError, where, ": column ", i + 1, ": unexpected '", shown, "' (expected ",
                allow_blanks ? "a digit 1-9, '.' or '0'" : "a digit 1-9", ")");
    }
  }
  return g;
}

ListLine split_list_line(std::string_view line) {
  const size_t b = std::min(line.size(), line.find_first_not_of(" \t"));
  line.remove_prefix(b);
  const size_t e = std::min(line.size(), line.find_first_of(" \t:;|#"));
  return {line.substr(0, e), line.substr(e)};
}

std::string to_string(const Grid& g, char blank) {
  std::string s(kCells, blank);
  for (int i = 0; i < kCells; ++i)
    if (g[i]) s[i] = static_cast<char>('0' + g[i]);
  return s;
}

int clue_count(const Grid& g) {
  return static_cast<int>(std::count_if(g.begin(), g.end(), [](uint8_t v) { return v != 0; }));
}

bool is_consistent(const Grid& g) {
  for (const auto& unit : tables().units) {
    uint16_t seen = 0;
    for (uint8_t c : unit) {
      if (g[c] == 0) continue;
      if (g[c] > 9 || (seen & bit(g[c]))) return false;
      seen |= bit(g[c]);
    }
  }
  return true;
}

bool is_solution(const Grid& g) { return clue_count(g) == kCells && is_consistent(g); }

bool agrees(const Grid& puzzle, const Grid& solution) {
  for (int i = 0; i < kCells; ++i)
    if (puzzle[i] != 0 && puzzle[i] != solution[i]) return false;
  return true;
}

SolveResult solve(const Grid& puzzle, int64_t limit) {
  SolveResult r;
  State s = empty_state();
  for (int c = 0; c < kCells; ++c)
    if (puzzle[c] != 0 && (puzzle[c] > 9 || !assign(s, c, puzzle[c]))) return r;  // clashing clues
  search(s, limit, r);
  return r;
}

int64_t rating(const Grid& puzzle) { return solve(puzzle, 2).guesses; }

namespace {
// Rng::permutation(N) without its heap vector (same draws): a million shuffles per build.
template <int N>
std::array<int, N> permutation(Rng& rng) {
  std::array<int, N> p{};
  for (int i = 0; i < N; ++i) p[i] = i;
  for (int i = N; i > 1; --i) std::swap(p[i - 1], p[rng.below(static_cast<uint64_t>(i))]);
  return p;
}
}  // namespace

Shuffle draw_shuffle(Rng& rng) {
  Shuffle s;
  const auto digits = permutation<9>(rng);
  for (int i = 0; i < 9; ++i) s.digit_map[i + 1] = static_cast<uint8_t>(digits[i] + 1);
  s.transpose = rng.uniform() < 0.5;
  auto line_perm = [&rng] {  // bands then rows within each band (or stacks then columns)
    std::array<int, 9> perm{};
    const auto blocks = permutation<3>(rng);
    for (int b = 0; b < 3; ++b) {
      const auto inner = permutation<3>(rng);
      for (int j = 0; j < 3; ++j) perm[b * 3 + j] = static_cast<int>(blocks[b] * 3 + inner[j]);
    }
    return perm;
  };
  const auto row_perm = line_perm();
  const auto col_perm = line_perm();
  for (int i = 0; i < kCells; ++i) s.mapping[i] = static_cast<uint8_t>(row_perm[i / 9] * 9 + col_perm[i % 9]);
  return s;
}

Grid apply_shuffle(const Shuffle& s, const Grid& g) {
  Grid x = g;
  if (s.transpose)
    for (int r = 0; r < 9; ++r)
      for (int c = 0; c < 9; ++c) x[r * 9 + c] = g[c * 9 + r];
  Grid out;
  for (int i = 0; i < kCells; ++i) out[i] = s.digit_map[x[s.mapping[i]]];
  return out;
}

Generated generate(Rng& rng, int64_t min_rating, int64_t max_rounds) {
  Generated best;
  HRM_CHECK(random_fill(empty_state(), rng, best.solution), "no solved grid found from the empty grid");
  best.puzzle = best.solution;
  remove_clues(best.puzzle, rng.permutation(kCells), rng);
  best.rating = rating(best.puzzle);
  // Climb: put 1-3 clues back, re-minimise over all clues, keep variants that are not easier.
  for (int64_t round = 0; best.rating < min_rating; ++round) {
    if (round >= max_rounds)
      HRM_THROW(Error, "sudoku generator: no puzzle rated >= ", min_rating, " after ", max_rounds,
                " rounds (best ", best.rating, "); lower --min-rating");
    Grid trial = best.puzzle;
    std::vector<int64_t> blanks;
    for (int c = 0; c < kCells; ++c)
      if (trial[c] == 0) blanks.push_back(c);
    rng.shuffle(blanks);
    const int64_t add = 1 + static_cast<int64_t>(rng.below(3));
    for (int64_t i = 0; i < add && i < static_cast<int64_t>(blanks.size()); ++i) trial[blanks[i]] = best.solution[blanks[i]];
    remove_clues(trial, rng.permutation(kCells), rng);
    const int64_t r = rating(trial);
    if (r >= best.rating) best = {trial, best.solution, r};
  }
  return best;
}

}  // namespace hrm::sudoku
